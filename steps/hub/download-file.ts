// Downloads one file of a pinned commit, resumably and verified:
//  - writes `<file>.part`; a leftover part is hashed first, then the rest is fetched with `Range`;
//  - hashes while writing (sha256 always, git blob sha1 for non-LFS files), so verifying costs no
//    second read; the hasher only ever sees bytes that are on disk, so a dropped connection
//    resumes exactly where the file ends;
//  - checks size + hash against the tree (LFS sha256 / git blob sha1), then renames atomically;
//    a mismatch deletes the part and starts over (bounded), then fails with ExitCode.Integrity;
//  - a final file already present is hashed and kept when it matches (cheap reruns);
//  - 429/5xx/dropped sockets are retried with backoff + jitter, honouring Retry-After/RateLimit;
//    a failure that got the file further than ever refills the retries, but one file never makes
//    more than `maxRequests` requests, and a head or body silent for `idleTimeoutMs` fails;
//  - an answer that says it is not the file (length, content type; file-answer.ts) is never kept;
//  - redirects are followed by hand so the token never leaves the Hub's origin (the LFS/Xet CDN
//    gets a signed URL and no Authorization header);
//  - bodies come over node:http with a shared keep-alive agent (http-get.ts) and are written in
//    1 MiB batches while the next batch arrives (part-writer.ts); the socket pauses while 4 MiB
//    wait for the disk;
//  - `growing` (a GrowingFile) is told about bytes on disk, restarts, completion and failure, so
//    mirror can upload a file while it downloads;
//  - a file of at least two chunks is fetched as several Range requests at once
//    (ranged-download.ts: positional writes, per-chunk resume record, in-order hash of the
//    contiguous prefix); a server that answers Range with the whole body gets one stream here;
//  - every request holds a slot of the shared StreamSlots (the process-wide cap on Hub streams);
//  - a file above `wholeGetLimit` (50 GB) is never asked for without Range.
import { promises as fs } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { ExitCode, UserError } from '../common/errors';
import type { GrowingFile } from '../common/growing-file';
import { ContentHasher, hashFile, hashFileInto, type Digests } from '../common/hash';
import { log } from '../common/log';
import { describeRetryError, isRetryableError, isRetryableStatus, retryDelay, RetryableError, sleep, type RetryOptions } from '../common/retry';
import { toHubUserError } from './errors';
import { getFollowingRedirects, hubErrorFromMessage, retryableFromMessage } from './http-get';
import { refuseFileAnswer } from './file-answer';
import { DEFAULT_IDLE_TIMEOUT_MS, describeTarget, IdleTimeoutError, IdleTimer } from './idle-timeout';
import { DEFAULT_CHUNK_SIZE, DEFAULT_STREAMS_PER_FILE, planChunks, usesRangedStreams, WHOLE_GET_LIMIT } from './chunk-plan';
import { contiguousPrefix, readChunkRecord, removeChunkRecord } from './chunk-state';
import type { HubResponse } from './http-get';
import { PartWriter, pumpBody } from './part-writer';
import { rangedDownload } from './ranged-download';
import { StreamSlots } from './stream-slots';
import { GaveUp, IntegrityMismatch, localStorageError, NotTheFile } from './transfer-errors';
import type { RepoFile } from './list-files';

export interface DownloadFileOptions {
  readonly hubUrl: string;
  readonly accessToken?: string;
  readonly repo: string;
  /** 40-hex commit sha (never a branch: the file must come from the listed commit). */
  readonly commitSha: string;
  readonly file: RepoFile;
  /** Absolute local destination, already checked with fs-safety. */
  readonly destPath: string;
  /** Transfer retries per file: `retries` failures in a row without new bytes end it (progress refills them, up to maxRequests). */
  readonly retry?: RetryOptions;
  /** Requests one file may make in all, whatever progress they make. @default 4 × (retries + 1) + 1 per GiB */
  readonly maxRequests?: number;
  /** A head or body that sends no byte for this long fails the request (retried). @default 60 s */
  readonly idleTimeoutMs?: number;
  /** Full downloads allowed before a hash mismatch is fatal. @default 3 */
  readonly integrityAttempts?: number;
  /** Progress callback: `transferred` is false for bytes already on disk (verified/resumed). */
  readonly onProgress?: (deltaBytes: number, transferred: boolean) => void;
  readonly signal?: AbortSignal;
  /**
   * Producer side of a GrowingFile: told when bytes reach the part, when the part is thrown
   * away, when the verified file is in place, and when the file finally fails.
   */
  readonly growing?: GrowingFile;
  /** Range requests in flight at once for one file of at least two chunks (1: one stream). @default 8 */
  readonly streamsPerFile?: number;
  /** Bytes per Range request of a multi-stream file. @default 64 MiB */
  readonly chunkSize?: number;
  /** The process-wide cap on open Hub streams, shared with the other files. @default a cap of `streamsPerFile` for this file alone */
  readonly streamSlots?: StreamSlots;
  /** Above this size no request goes out without Range (for tests). @default 50 GB */
  readonly wholeGetLimit?: number;
}

export type DownloadStatus = 'present' | 'downloaded' | 'resumed';

export interface DownloadFileResult extends Digests {
  readonly path: string;
  readonly lfs: boolean;
  readonly status: DownloadStatus;
  /** Bytes received over the network for this file (all attempts). */
  readonly bytesTransferred: number;
}

/** `<hub>/<repo>/resolve/<sha>/<path>` with each path segment URL-encoded. */
export function resolveUrl(hubUrl: string, repo: string, commitSha: string, filePath: string): string {
  return `${hubUrl}/${repo}/resolve/${encodeURIComponent(commitSha)}/${filePath.split('/').map(encodeURIComponent).join('/')}`;
}

/** Why `digests` do not match what the tree published for `file`, or undefined when they match. */
export function verifyDigests(file: RepoFile, digests: Digests): string | undefined {
  if (digests.size !== file.size) return `size ${digests.size} != ${file.size}`;
  if (file.lfs) {
    if (digests.sha256 !== file.sha256) return `sha256 ${digests.sha256} != ${file.sha256}`;
  } else if (digests.gitBlobSha1 !== file.gitBlobSha1) {
    return `git blob sha1 ${digests.gitBlobSha1} != ${file.gitBlobSha1}`;
  }
  return undefined;
}

/** Bytes gathered per write (one writev each). */
const WRITE_BATCH = 1024 * 1024;
/** Received-but-unwritten bytes at which the socket is paused (per file). */
const MAX_QUEUED = 4 * 1024 * 1024;

async function exists(p: string): Promise<{ size: number } | undefined> {
  try {
    const st = await fs.lstat(p);
    if (!st.isFile()) {
      throw new UserError(`Cannot download to ${p}: something that is not a regular file is in the way`, { exitCode: ExitCode.LocalStorage });
    }
    return { size: st.size };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

interface TransferState {
  hasher: ContentHasher;
  /** Bytes in the part file == bytes fed to the hasher. */
  offset: number;
  /** Bytes reported to onProgress for this attempt (to undo on restart). */
  reported: number;
  transferred: number;
}

async function restartPart(part: string, state: TransferState, opts: DownloadFileOptions): Promise<void> {
  // Readers see the reset before the bytes go: they never read a part that is being replaced.
  opts.growing?.reset();
  await fs.rm(part, { force: true });
  await removeChunkRecord(part); // after the part: a record never goes before its part
  state.hasher = new ContentHasher({ gitBlobSize: opts.file.lfs ? undefined : opts.file.size });
  state.offset = 0;
  opts.onProgress?.(-state.reported, false);
  state.reported = 0;
}

/** Receives `res`'s body into `part` (appending), pausing the socket while the disk is behind. */
async function receiveBody(res: IncomingMessage, target: string, part: string, state: TransferState, opts: DownloadFileOptions): Promise<void> {
  const size = opts.file.size;
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(part, 'a');
  } catch (e) {
    res.destroy();
    throw localStorageError(e, part);
  }
  const writer = new PartWriter(fh, WRITE_BATCH, (buffers, bytes) => {
    // Runs after the write resolved: the hasher and readers only ever see bytes on disk.
    for (const b of buffers) state.hasher.update(b);
    state.offset += bytes;
    state.reported += bytes;
    opts.growing?.advanced(state.offset);
    opts.onProgress?.(bytes, true);
  });
  // A body that stops arriving fails after idleMs; not counted while we hold the socket for the disk.
  const idle = new IdleTimer(idleMs, () => res.destroy(new IdleTimeoutError(`${describeTarget(target)} (${opts.file.path} stalled at byte ${received} of ${size})`, idleMs)));
  let received = state.offset;
  try {
    try {
      await pumpBody(res, writer, {
        idle,
        maxQueued: MAX_QUEUED,
        accept: (chunk) => {
          state.transferred += chunk.length;
          received += chunk.length;
          return received > size ? new IntegrityMismatch(`server sent more than the ${size} bytes the tree lists`) : undefined;
        },
      });
    } finally {
      idle.stop();
      // Keep what arrived before a drop: the next attempt resumes after it.
      try {
        await writer.drain();
      } catch (e) {
        throw localStorageError(e, part);
      }
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** One GET of the missing bytes [offset, size) appended to `part`. Throws on any failure. */
async function transferOnce(url: string, part: string, state: TransferState, opts: DownloadFileOptions, answer?: HubResponse): Promise<void> {
  const size = opts.file.size;
  const alwaysRange = size > (opts.wholeGetLimit ?? WHOLE_GET_LIMIT);
  const range = state.offset > 0 || alwaysRange ? `bytes=${state.offset}-` : undefined;
  const { res, url: answeredBy, redirected } = answer ?? (await getFollowingRedirects(url, { ...opts, headers: range ? { range } : undefined }));
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const status = res.statusCode ?? 0;
  if (status === 416 && state.offset > 0) {
    res.resume();
    if (state.offset === size) return;
    await restartPart(part, state, opts);
    throw new RetryableError(`${describeTarget(answeredBy)} refused to resume ${opts.file.path} at byte ${range?.slice(6, -1)} (416)`);
  }
  if (status < 200 || status > 299) {
    if (isRetryableStatus(status)) throw await retryableFromMessage(res, answeredBy, idleMs);
    throw await hubErrorFromMessage(res, answeredBy, idleMs);
  }
  if (state.offset > 0) {
    const contentRange = res.headers['content-range'];
    const start = status === 206 && contentRange ? /^bytes\s+(\d+)-/i.exec(contentRange)?.[1] : undefined;
    if (start === undefined || Number(start) !== state.offset) {
      // Range ignored (200) or answered for other bytes: start the file over with this body.
      log.debug(`server did not honour Range for ${opts.file.path}; restarting it`, { status, contentRange });
      if (status !== 200) {
        res.destroy();
        await restartPart(part, state, opts);
        throw new RetryableError(`unexpected Content-Range ${contentRange} for ${opts.file.path} from ${describeTarget(answeredBy)}`);
      }
      const refused = refuseFileAnswer({ status, headers: res.headers, offset: 0, path: opts.file.path, size });
      if (!refused) await restartPart(part, state, opts);
    }
  }
  // Never keep bytes of an answer that is not the file (an API or web page the Hub redirected to).
  const refused = refuseFileAnswer({ status, headers: res.headers, offset: state.offset, path: opts.file.path, size });
  if (refused) {
    res.destroy();
    if (refused.kind === 'type') await restartPart(part, state, opts); // what is on disk may have come from there too
    const from = redirected ? `the redirect target ${describeTarget(answeredBy)}` : describeTarget(answeredBy);
    throw new NotTheFile(`${from} answered ${opts.file.path} with ${refused.reason}; nothing of that answer was kept`, refused.kind);
  }
  await receiveBody(res, answeredBy, part, state, opts);
  if (state.offset < size) {
    throw new RetryableError(`${describeTarget(answeredBy)} closed the connection after ${state.offset} of ${size} bytes of ${opts.file.path}`);
  }
}

const GIB = 1024 ** 3;

/**
 * Retries without progress, and requests in all, one file may use. The total grows by one per
 * GiB of the file, so a very large file on a flaky link that keeps making progress is not cut
 * short, while a host that never delivers still ends.
 */
export function fileAttemptBudget(opts: Pick<DownloadFileOptions, 'retry' | 'maxRequests' | 'file'>, chunkCount = 0): { retries: number; requests: number } {
  const retries = opts.retry?.retries ?? 5;
  // A chunked file makes one request per chunk when nothing fails: those come on top.
  return { retries, requests: Math.max(1, opts.maxRequests ?? 4 * (retries + 1) + Math.floor(opts.file.size / GIB) + chunkCount) };
}

function gaveUpError(g: GaveUp, file: RepoFile, opts: DownloadFileOptions): UserError {
  const why = g.stalls > 0 ? `${g.stalls} in a row without new bytes` : 'the per-file request budget is spent';
  return new UserError(`Gave up downloading ${file.path} after ${g.requests} requests (${why}; ${g.onDisk} of ${file.size} bytes on disk): ${describeRetryError(g.error)}`, {
    exitCode: ExitCode.Unavailable,
    cause: g.error,
    hint: `The Hub at ${opts.hubUrl} (or a host it redirects to) keeps failing for this file; rerun later (the bytes on disk are kept and resumed), or raise --retries.`,
  });
}

function notTheFileError(e: NotTheFile, file: RepoFile): UserError {
  return new UserError(`Refusing the answer for ${file.path}: ${e.message}`, {
    exitCode: ExitCode.Unavailable,
    cause: e,
    hint: 'The Hub (or a proxy in front of it) redirected the download to something that is not a file store. Check --hub-url / HF_ENDPOINT and any proxy or egress rules.',
  });
}

export async function downloadFile(opts: DownloadFileOptions): Promise<DownloadFileResult> {
  try {
    return await downloadVerified(opts);
  } catch (e) {
    // Siblings aborted because another file failed report that file's error, not "aborted".
    opts.growing?.failed(opts.signal?.aborted && opts.signal.reason !== undefined ? opts.signal.reason : e);
    throw e;
  }
}

async function downloadVerified(opts: DownloadFileOptions): Promise<DownloadFileResult> {
  const { file, destPath, growing } = opts;
  const part = `${destPath}.part`;
  const gitBlob = !file.lfs;
  const errCtx = { hubUrl: opts.hubUrl, repo: opts.repo, revision: opts.commitSha, path: file.path, hasToken: !!opts.accessToken, op: 'file' as const };

  // 1. Already there? Verify by hashing and keep it.
  const final = await exists(destPath);
  if (final) {
    await removeChunkRecord(part); // left by a kill between publishing and cleaning up
    if (final.size === file.size) {
      const hashed = await hashFile(destPath, { gitBlob, signal: opts.signal });
      if (!verifyDigests(file, hashed)) {
        opts.onProgress?.(file.size, false);
        growing?.completed(hashed);
        return { ...hashed, path: file.path, lfs: file.lfs, status: 'present', bytesTransferred: 0 };
      }
    }
    log.warn(`${file.path} exists but does not match the Hub's hash; downloading it again`);
    await fs.rm(destPath, { force: true });
  }
  try {
    await fs.mkdir(path.dirname(destPath), { recursive: true });
  } catch (e) {
    throw localStorageError(e, path.dirname(destPath));
  }

  const url = resolveUrl(opts.hubUrl, opts.repo, opts.commitSha, file.path);
  const attempts = Math.max(1, opts.integrityAttempts ?? 3);
  const streams = Math.max(1, Math.floor(opts.streamsPerFile ?? DEFAULT_STREAMS_PER_FILE));
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE));
  // Set to undefined once the server is seen to ignore Range: the file then keeps one stream.
  let chunks = usesRangedStreams(file.size, chunkSize, streams) ? planChunks(file.size, chunkSize) : undefined;
  const slots = opts.streamSlots ?? new StreamSlots(streams);
  const budget = fileAttemptBudget(opts, chunks?.length ?? 0);
  const counter = { count: 0 };
  let transferredTotal = 0;
  let resumedAny = false;
  let lastMismatch = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const state: TransferState = { hasher: new ContentHasher({ gitBlobSize: gitBlob ? file.size : undefined }), offset: 0, reported: 0, transferred: 0 };
    let wholeBody: HubResponse | undefined;
    if (chunks) {
      // 2'. Several Range requests at once; the record of a previous run says what to keep.
      let outcome;
      try {
        outcome = await rangedDownload({
          url, hubUrl: opts.hubUrl, accessToken: opts.accessToken, file, part, chunks, streams, slots, retry: opts.retry, budget,
          requests: counter, idleTimeoutMs: opts.idleTimeoutMs, onProgress: opts.onProgress, growing, signal: opts.signal,
        });
      } catch (e) {
        if (e instanceof NotTheFile && e.kind === 'type') {
          // As on the one-stream path: what is on disk may have come from there too.
          growing?.reset();
          await fs.rm(part, { force: true });
          await removeChunkRecord(part);
        }
        throw e instanceof GaveUp ? gaveUpError(e, file, opts) : e instanceof NotTheFile ? notTheFileError(e, file) : toHubUserError(e, errCtx);
      }
      transferredTotal += outcome.transferred;
      resumedAny ||= outcome.resumed;
      state.reported = outcome.reported;
      if (outcome.kind === 'complete') {
        const mismatch = verifyDigests(file, outcome.digests);
        if (!mismatch) {
          try {
            await fs.rename(part, destPath);
          } catch (e) {
            throw localStorageError(e, destPath);
          }
          await removeChunkRecord(part);
          growing?.completed(outcome.digests);
          return { ...outcome.digests, path: file.path, lfs: file.lfs, status: resumedAny ? 'resumed' : 'downloaded', bytesTransferred: transferredTotal };
        }
        lastMismatch = mismatch;
        log.warn(`${file.path}: downloaded bytes do not match the Hub's published hash (${mismatch}); discarding${attempt < attempts ? ' and downloading again' : ''} (attempt ${attempt}/${attempts})`);
        growing?.reset();
        await fs.rm(part, { force: true });
        await removeChunkRecord(part);
        opts.onProgress?.(-state.reported, false);
        resumedAny = false;
        continue;
      }
      // The server answered Range with the whole body: take it from byte 0 over this one stream.
      wholeBody = outcome.answer;
      chunks = undefined;
      await restartPart(part, state, opts);
    } else {
      // A part left by the ranged path may have holes: keep its contiguous prefix only.
      const partSize = (await exists(part))?.size ?? 0;
      const record = await readChunkRecord(part, file.size, partSize);
      if (record.kind !== 'none') {
        const keep = record.kind === 'ranges' ? contiguousPrefix(record.ranges) : 0;
        if (partSize > keep) await fs.truncate(part, keep).catch((e) => {
          throw localStorageError(e, part);
        });
        await removeChunkRecord(part);
      }
    }
    // 2. A leftover part from an interrupted run: hash it, then resume after it.
    const partInfo = await exists(part);
    if (partInfo && partInfo.size > file.size) {
      await fs.rm(part, { force: true });
    } else if (partInfo && partInfo.size > 0 && !wholeBody) {
      await hashFileInto(part, state.hasher, { signal: opts.signal });
      state.offset = partInfo.size;
      state.reported = partInfo.size;
      growing?.advanced(partInfo.size);
      opts.onProgress?.(partInfo.size, false);
      resumedAny = true;
      log.debug(`resuming ${file.path} at byte ${partInfo.size}`);
    }
    // 3. Fetch what is missing, retrying transient failures. Progress means bytes on disk beyond
    // the most this file ever had: a host that sends the same first bytes again and again (then
    // refuses to resume, so the part restarts) makes none, and `retries` such failures end it.
    let mismatch: string | undefined;
    try {
      let stalls = 0;
      let highWater = state.offset;
      while (!(state.offset === file.size && file.size > 0)) {
        counter.count++;
        const answer = wholeBody;
        wholeBody = undefined;
        let release: (() => void) | undefined;
        try {
          release = await slots.acquire(opts.signal);
          await transferOnce(url, part, state, opts, answer);
          break;
        } catch (e) {
          answer?.res.destroy();
          if (e instanceof IntegrityMismatch || opts.signal?.aborted || !isRetryableError(e) || (e instanceof NotTheFile && e.kind === 'type')) throw e;
          if (state.offset > highWater) {
            highWater = state.offset;
            stalls = 0;
          } else stalls++;
          if (stalls > budget.retries || counter.count >= budget.requests) throw new GaveUp(e, counter.count, stalls, state.offset);
          release?.();
          release = undefined;
          const delayMs = retryDelay(Math.max(1, stalls), e, opts.retry);
          log.warn(`${file.path}: ${describeRetryError(e)}; retrying in ${(delayMs / 1000).toFixed(1)}s (request ${counter.count}/${budget.requests}, ${stalls}/${budget.retries} without progress, ${state.offset}/${file.size} bytes on disk)`);
          await sleep(delayMs, opts.signal);
        } finally {
          release?.();
        }
      }
    } catch (e) {
      if (!(e instanceof IntegrityMismatch)) {
        throw e instanceof GaveUp ? gaveUpError(e, file, opts) : e instanceof NotTheFile ? notTheFileError(e, file) : toHubUserError(e, errCtx);
      }
      mismatch = e.message;
    }
    transferredTotal += state.transferred;
    if (!mismatch) {
      // 4. Verify against the tree, then publish atomically.
      const hashed = state.hasher.digest();
      mismatch = verifyDigests(file, hashed);
      if (!mismatch) {
        try {
          await fs.rename(part, destPath);
        } catch (e) {
          throw localStorageError(e, destPath);
        }
        growing?.completed(hashed);
        return { ...hashed, path: file.path, lfs: file.lfs, status: resumedAny ? 'resumed' : 'downloaded', bytesTransferred: transferredTotal };
      }
    }
    lastMismatch = mismatch;
    log.warn(`${file.path}: downloaded bytes do not match the Hub's published hash (${mismatch}); discarding${attempt < attempts ? ' and downloading again' : ''} (attempt ${attempt}/${attempts})`);
    growing?.reset();
    await fs.rm(part, { force: true });
    opts.onProgress?.(-state.reported, false);
    resumedAny = false;
  }
  throw new UserError(`${file.path} from ${opts.repo}@${opts.commitSha.slice(0, 12)} failed verification ${attempts} times: ${lastMismatch}`, {
    exitCode: ExitCode.Integrity,
    hint: 'The bytes served do not match the hash the Hub publishes; a proxy or CDN may be corrupting them. Nothing unverified was kept.',
  });
}
