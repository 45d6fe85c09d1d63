// The overlapped half of `mirror`: upload a model's files while the download is still writing
// them, so a model moves at max(download, upload) instead of their sum.
//  - a big file whose sha256 is known up front (LFS) is uploaded part by part as soon as each
//    part's bytes are on disk (GrowingFile.waitFor), read from wherever they are now
//    (GrowingFile.openRange); Complete waits for the download's verified digest and compares it;
//  - other files (small, or non-LFS with no sha256 before download) wait for their digest and then
//    go as usual; the skip-if-identical check needs the sha256, so it runs when it is known;
//  - GrowingFileReset (the download restarted the file): that object starts over, its multipart
//    upload aborted;
//  - when every file is up, the download's manifest must list exactly these files with these sizes
//    and hashes, and mirror-manifest.json is uploaded last;
//  - the download failing (its manifest promise rejects) stops everything in flight at once and
//    rejects with the download's error; open multipart uploads stay for a resume.
import { ExitCode, UserError } from '../common/errors';
import { safeJoin } from '../common/fs-safety';
import { GrowingFileReset, type GrowingFile } from '../common/growing-file';
import type { Digests } from '../common/hash';
import { log } from '../common/log';
import { MANIFEST_FILE, manifestSha256, type Manifest } from '../common/manifest';
import { mapLimit } from '../common/retry';
import { abortReason, untilAborted } from '../common/abort';
import { choosePartSize, localFileBytes, READ_CHUNK, type FileBytes } from './upload-file';
import { checkKeyLength, contentTypeFor, manifestItem, SourceFailed, type Item, type UploadSession } from './upload-session';

export interface PendingFile {
  /** Manifest path. */
  readonly path: string;
  readonly size: number;
  /** Known up front for LFS files (the Hub publishes it). */
  readonly sha256?: string;
  readonly growing: GrowingFile;
}

export interface PendingDownload {
  /**
   * For the objects' metadata (x-amz-meta-source-repo / -source-commit), which is set when an
   * upload starts, before the manifest exists. Pass both (the download knows them once the
   * revision is resolved); without them the objects carry only sha256 and mirror-tool.
   */
  readonly repo?: string;
  readonly commitSha?: string;
  readonly files: readonly PendingFile[];
  /** Resolves once the download wrote mirror-manifest.json; rejects when the download fails. */
  readonly manifest: Promise<Manifest>;
  /**
   * Called once a file's object is complete and checked in S3 (uploaded with its sha256 verified,
   * or found identical): a bounded scratch disk deletes the local copy here. @default - nothing
   */
  readonly onStored?: (file: PendingFile) => Promise<void>;
}

export interface UploadPendingOptions {
  /** The download directory. */
  readonly source: string;
  readonly keyOf: (manifestPath: string) => string;
  readonly pending: PendingDownload;
  readonly signal?: AbortSignal;
}


/** Files followed at once; the download works on a few at a time, in the same (biggest-first) order. */
const PENDING_FILES_IN_FLIGHT = 64;

/** Producer failures become SourceFailed (never retried as S3 errors); resets and aborts pass. */
function asSource(e: unknown, signal?: AbortSignal): unknown {
  if (e instanceof GrowingFileReset || e instanceof SourceFailed || signal?.aborted) return e;
  return new SourceFailed(e);
}

function growingBytes(g: GrowingFile): FileBytes {
  return {
    get generation() {
      return g.generation;
    },
    waitFor: (end, signal) => g.waitFor(end, signal).catch((e) => {
      throw asSource(e, signal);
    }),
    waitForRange: (start, end, signal) => g.waitForRange(start, end, signal).catch((e) => {
      throw asSource(e, signal);
    }),
    openRange: (start, end) => g.openRange(start, end, { highWaterMark: READ_CHUNK }),
  };
}

function verifiedDigest(g: GrowingFile): Promise<Digests> {
  return g.digest.catch((e) => {
    throw asSource(e);
  });
}

function integrityError(message: string): UserError {
  return new UserError(message, {
    exitCode: ExitCode.Integrity,
    hint: 'Rerun the mirror: the download re-verifies every file.',
  });
}

/** Uploads every pending file, then the manifest; returns the manifest's item. */
export async function uploadPending(session: UploadSession, opts: UploadPendingOptions): Promise<Item> {
  const { pending } = opts;
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(abortReason(opts.signal!));
  if (opts.signal?.aborted) onParentAbort();
  opts.signal?.addEventListener('abort', onParentAbort, { once: true });
  // The download failing stops us at once; the handler also keeps the rejection handled.
  let downloadFailure: { error: unknown } | undefined;
  pending.manifest.then(undefined, (e) => {
    downloadFailure = { error: e };
    controller.abort(e);
  });

  try {
    // Each file's item is made when its turn comes: built up front and kept, 20,000 of them were
    // megabytes held for the whole upload. Every key and path is still checked before anything goes.
    const itemOf = (f: PendingFile): Item => ({
      rel: f.path,
      file: safeJoin(opts.source, f.path, 'manifest path'),
      key: opts.keyOf(f.path),
      size: f.size,
      sha256: f.sha256 ?? '',
      contentType: contentTypeFor(f.path),
    });
    for (const f of pending.files) {
      checkKeyLength(opts.keyOf(f.path));
      safeJoin(opts.source, f.path, 'manifest path');
    }
    await untilAborted(session.listExisting(), controller.signal);
    const partSize = session.o.partSize;
    // The sha256 each file went up with, by its index in pending.files (the digests' own strings).
    const uploadedSha = new Array<string>(pending.files.length);

    const one = async (i: number, signal: AbortSignal): Promise<void> => {
      const f = pending.files[i];
      const base = itemOf(f);
      for (;;) {
        try {
          const overlapped = f.sha256 !== undefined && f.size > (partSize ?? choosePartSize(f.size));
          if (overlapped) {
            const it = { ...base, sha256: f.sha256! };
            uploadedSha[i] = it.sha256;
            if (await session.isAlreadyThere(it)) session.recordSkipped(it);
            else await session.upload(it, { bytes: growingBytes(f.growing), verified: verifiedDigest(f.growing), signal });
          } else {
            const d = await untilAborted(verifiedDigest(f.growing), signal).catch((e) => {
              throw asSource(e, signal);
            });
            if (d.size !== f.size || (f.sha256 !== undefined && d.sha256 !== f.sha256)) {
              throw integrityError(`${f.path}: the download verified ${d.size} bytes with sha256 ${d.sha256.slice(0, 12)}…, expected ${f.size}${f.sha256 ? `, ${f.sha256.slice(0, 12)}…` : ''}`);
            }
            const it = { ...base, sha256: d.sha256 };
            uploadedSha[i] = it.sha256;
            if (await session.isAlreadyThere(it)) session.recordSkipped(it);
            else await session.upload(it, { bytes: localFileBytes(it.file), verified: Promise.resolve(d), signal });
          }
          if (pending.onStored) {
            // A skipped object's file may still be downloading: its copy goes once it is verified.
            await untilAborted(verifiedDigest(f.growing), signal);
            await pending.onStored(f);
          }
          return;
        } catch (e) {
          if (e instanceof GrowingFileReset && !signal.aborted) {
            log.info(`${f.path} was restarted by the download; uploading it again`);
            continue;
          }
          throw e;
        }
      }
    };
    try {
      // In the download's order (biggest first), a bounded number at a time: most of them wait for
      // their bytes, and one waiting coroutine per file made memory grow with the file count
      // (20,000 files: hundreds of MB). The part budget bounds the transfers.
      const order = Array.from(pending.files, (_f, i) => i).sort((a, b) => pending.files[b].size - pending.files[a].size || a - b);
      await mapLimit(order, PENDING_FILES_IN_FLIGHT, (i, _j, signal) => one(i, signal), controller.signal);
    } catch (e) {
      if (downloadFailure) throw downloadFailure.error;
      if (e instanceof SourceFailed) {
        // A file failed; the download's own error (its manifest promise) says more when it comes.
        const settled = await Promise.race([pending.manifest.then(() => undefined, (err) => ({ err })), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000).unref())]);
        throw settled ? settled.err : e.error;
      }
      throw e;
    }

    const manifest = await untilAborted(pending.manifest, controller.signal);
    checkManifest(manifest, pending, uploadedSha);
    // The file must hold exactly the manifest the download returned. Compared by digest: parsing
    // it again held a second copy of a 20,000-file list at the peak.
    const mItem = await manifestItem(opts.source, session.o.loc);
    if (mItem.sha256 !== manifestSha256(manifest)) {
      throw integrityError(`${MANIFEST_FILE} in ${opts.source} is not the manifest the download produced`);
    }
    checkKeyLength(mItem.key);
    session.o.progress.setTotals(pending.files.reduce((n, f) => n + f.size, 0) + mItem.size, pending.files.length + 1);
    if (await session.isAlreadyThere(mItem)) session.recordSkipped(mItem);
    else await session.upload(mItem, { signal: controller.signal });
    return mItem;
  } catch (e) {
    if (downloadFailure) throw downloadFailure.error;
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onParentAbort);
  }
}

/** The finished download must be exactly what was uploaded: same files, sizes and sha256. */
function checkManifest(manifest: Manifest, pending: PendingDownload, uploadedSha: readonly string[]): void {
  if ((pending.repo !== undefined && manifest.repo !== pending.repo) || (pending.commitSha !== undefined && manifest.commitSha !== pending.commitSha)) {
    throw integrityError(`the download's manifest is for ${manifest.repo}@${manifest.commitSha}, not ${pending.repo}@${pending.commitSha}`);
  }
  // The download writes its manifest in the plan's order, which is pending.files' order: compared
  // index by index, no map of every path is built at the end of a 20,000-file upload.
  const same = manifest.files.length === pending.files.length && pending.files.every((f, i) => {
    const m = manifest.files[i];
    return m.path === f.path && m.size === f.size && m.sha256 === uploadedSha[i];
  });
  if (same) return;
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const problems: string[] = [];
  for (const [i, f] of pending.files.entries()) {
    const m = listed.get(f.path);
    if (!m) problems.push(`${f.path} is missing from it`);
    else if (m.size !== f.size || m.sha256 !== uploadedSha[i]) problems.push(`${f.path} differs (${m.size} bytes, sha256 ${m.sha256.slice(0, 12)}…)`);
    listed.delete(f.path);
  }
  for (const p of listed.keys()) problems.push(`${p} was not uploaded`);
  if (problems.length) throw integrityError(`the download's manifest does not match the uploaded files: ${problems.slice(0, 5).join('; ')}`);
}
