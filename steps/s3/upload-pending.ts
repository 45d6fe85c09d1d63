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
import { biggestFirst } from '../common/file-lanes';
import { FileTable } from '../common/file-table';
import { mapLimit } from '../common/retry';
import { abortReason, untilAborted } from '../common/abort';
import { choosePartSize, localFileBytes, READ_CHUNK, type FileBytes } from './upload-file';
import { checkKeyLength, fileItem, manifestItem, SourceFailed, type Item, type UploadSession } from './upload-session';

/**
 * The files of a download in progress, by index (in the order its manifest will list them). The
 * download's DownloadPlan is one; `pendingFilesOf` makes one of a list.
 */
export interface PendingFiles {
  readonly length: number;
  /** Manifest path. */
  path(i: number): string;
  size(i: number): number;
  /** Known up front for LFS files (the Hub publishes it). */
  sha256(i: number): string | undefined;
  /** What the download says of file i: asked for once per file, when the upload takes it up. */
  growing(i: number): GrowingFile;
  /** The download gave up (every file not complete failed). */
  readonly hasFailed: boolean;
}

/** One file of `pendingFilesOf`'s list. */
export interface PendingFile {
  readonly path: string;
  readonly size: number;
  readonly sha256?: string;
  readonly growing: GrowingFile;
}

/** PendingFiles of a list whose GrowingFiles exist already (tests, small callers). */
export function pendingFilesOf(files: readonly PendingFile[]): PendingFiles {
  return {
    length: files.length,
    path: (i) => files[i].path,
    size: (i) => files[i].size,
    sha256: (i) => files[i].sha256,
    growing: (i) => files[i].growing,
    get hasFailed() {
      return files.some((f) => f.growing.hasFailed);
    },
  };
}

export interface PendingDownload {
  /**
   * For the objects' metadata (x-amz-meta-source-repo / -source-commit), which is set when an
   * upload starts, before the manifest exists. Pass both (the download knows them once the
   * revision is resolved); without them the objects carry only sha256 and mirror-tool.
   */
  readonly repo?: string;
  readonly commitSha?: string;
  readonly files: PendingFiles;
  /** Resolves once the download wrote mirror-manifest.json; rejects when the download fails. */
  readonly manifest: Promise<Manifest>;
  /**
   * Called once a file's object is complete and checked in S3 (uploaded with its sha256 verified,
   * or found identical), with its index in `files` and its GrowingFile: a bounded scratch disk
   * deletes the local copy here. @default - nothing
   */
  readonly onStored?: (i: number, growing: GrowingFile) => Promise<void>;
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
    const { files } = pending;
    const itemOf = (i: number, rel: string): Item => fileItem(opts.source, rel, opts.keyOf(rel), files.size(i), files.sha256(i) ?? '');
    for (let i = 0; i < files.length; i++) {
      const rel = files.path(i);
      checkKeyLength(opts.keyOf(rel));
      safeJoin(opts.source, rel, 'manifest path');
    }
    await untilAborted(session.listExisting(), controller.signal);
    const partSize = session.o.partSize;
    // The sha256 (32 bytes) each file went up with, by its index in `files`.
    const uploadedSha = new Uint8Array(files.length * 32);

    const one = async (i: number, signal: AbortSignal): Promise<void> => {
      const rel = files.path(i);
      const f = { path: rel, size: files.size(i), sha256: files.sha256(i), growing: files.growing(i) };
      const base = itemOf(i, rel);
      for (;;) {
        try {
          const overlapped = f.sha256 !== undefined && f.size > (partSize ?? choosePartSize(f.size));
          if (overlapped) {
            const it = { ...base, sha256: f.sha256! };
            uploadedSha.set(Buffer.from(it.sha256, 'hex'), i * 32);
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
            uploadedSha.set(Buffer.from(it.sha256, 'hex'), i * 32);
            if (await session.isAlreadyThere(it)) session.recordSkipped(it);
            else await session.upload(it, { bytes: localFileBytes(it.file), verified: Promise.resolve(d), signal });
          }
          if (pending.onStored) {
            // A skipped object's file may still be downloading: its copy goes once it is verified.
            await untilAborted(verifiedDigest(f.growing), signal);
            await pending.onStored(i, f.growing);
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
      const order = biggestFirst(Float64Array.from({ length: files.length }, (_v, i) => files.size(i)));
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
    session.o.progress.setTotals(pendingBytes(files) + mItem.size, files.length + 1);
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

/** Bytes of every pending file. */
export function pendingBytes(files: PendingFiles): number {
  let n = 0;
  for (let i = 0; i < files.length; i++) n += files.size(i);
  return n;
}

/** The finished download must be exactly what was uploaded: same files, sizes and sha256. */
function checkManifest(manifest: Manifest, pending: PendingDownload, uploadedSha: Uint8Array): void {
  if ((pending.repo !== undefined && manifest.repo !== pending.repo) || (pending.commitSha !== undefined && manifest.commitSha !== pending.commitSha)) {
    throw integrityError(`the download's manifest is for ${manifest.repo}@${manifest.commitSha}, not ${pending.repo}@${pending.commitSha}`);
  }
  const { files } = pending;
  const uploaded = (i: number) => Buffer.from(uploadedSha.buffer, uploadedSha.byteOffset + i * 32, 32).toString('hex');
  // The download writes its manifest in the plan's order, which is `files`' order: compared
  // index by index, no map of every path is built at the end of a 20,000-file upload.
  let same = manifest.files.length === files.length;
  if (same && manifest.files instanceof FileTable) {
    // The download's own table (mirror, transfer): read by index, no entry made per file.
    const table = manifest.files;
    for (let i = 0; same && i < files.length; i++) {
      same = table.size(i) === files.size(i) && table.verifiedSha256Equals(i, uploadedSha.subarray(i * 32, i * 32 + 32)) && table.path(i) === files.path(i);
    }
  } else if (same) {
    let i = 0;
    for (const m of manifest.files) {
      if (m.path !== files.path(i) || m.size !== files.size(i) || m.sha256 !== uploaded(i)) {
        same = false;
        break;
      }
      i++;
    }
  }
  if (same) return;
  const listed = new Map(Array.from(manifest.files, (f) => [f.path, f]));
  const problems: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const rel = files.path(i);
    const m = listed.get(rel);
    if (!m) problems.push(`${rel} is missing from it`);
    else if (m.size !== files.size(i) || m.sha256 !== uploaded(i)) problems.push(`${rel} differs (${m.size} bytes, sha256 ${m.sha256.slice(0, 12)}…)`);
    listed.delete(rel);
  }
  for (const p of listed.keys()) problems.push(`${p} was not uploaded`);
  if (problems.length) throw integrityError(`the download's manifest does not match the uploaded files: ${problems.slice(0, 5).join('; ')}`);
}
