// Downloads one file of a pinned commit, resumably and verified:
//  - writes `<file>.part`; a leftover part is hashed first, then the rest is fetched with `Range`;
//  - hashes while writing (sha256 always, git blob sha1 for non-LFS files), so verifying costs no
//    second read; the hasher only ever sees bytes that are on disk, so a dropped connection
//    resumes exactly where the file ends;
//  - checks size + hash against the tree (LFS sha256 / git blob sha1), then renames atomically;
//    a mismatch deletes the part and starts over (bounded), then fails with ExitCode.Integrity;
//  - a final file already present is hashed and kept when it matches (cheap reruns);
//  - 429/5xx/dropped sockets are retried with backoff + jitter, honouring Retry-After/RateLimit;
//    the retry budget refills whenever an attempt made progress;
//  - redirects are followed by hand so the token never leaves the Hub's origin (the LFS/Xet CDN
//    gets a signed URL and no Authorization header).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ExitCode, UserError } from '../common/errors';
import { ContentHasher, hashFile, hashFileInto, type Digests } from '../common/hash';
import { log } from '../common/log';
import { isRetryableError, isRetryableStatus, retryDelay, RetryableError, sleep, type RetryOptions } from '../common/retry';
import { toHubUserError } from './errors';
import { hubHeaders, readHubError, retryableFromResponse } from './hub-fetch';
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
  /** Transfer retries (per file; refilled when an attempt made progress). */
  readonly retry?: RetryOptions;
  /** Full downloads allowed before a hash mismatch is fatal. @default 3 */
  readonly integrityAttempts?: number;
  /** Progress callback: `transferred` is false for bytes already on disk (verified/resumed). */
  readonly onProgress?: (deltaBytes: number, transferred: boolean) => void;
  readonly signal?: AbortSignal;
  readonly fetchImpl?: typeof fetch;
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

class IntegrityMismatch extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const WRITE_BATCH = 1024 * 1024;

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

function localStorageError(e: unknown, file: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new UserError(`Disk full while writing ${file}`, { exitCode: ExitCode.LocalStorage, cause: e, hint: 'Give the download volume more space; rerun resumes where it stopped.' });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UserError(`Cannot write ${file}: ${code}`, { exitCode: ExitCode.LocalStorage, cause: e, hint: 'Check --dest is writable by this user.' });
  }
  return e;
}

/** GET following redirects by hand; Authorization only goes to the Hub's origin. */
async function fetchFollowing(url: string, opts: DownloadFileOptions, range?: string): Promise<Response> {
  const doFetch = opts.fetchImpl ?? fetch;
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const headers = hubHeaders(current, opts, range ? { range, 'accept-encoding': 'identity' } : { 'accept-encoding': 'identity' });
    const res = await doFetch(current, { headers, redirect: 'manual', signal: opts.signal });
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || !location) return res;
    await res.body?.cancel().catch(() => undefined);
    current = new URL(location, current).toString();
  }
  throw new RetryableError(`too many redirects for ${url}`);
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
  await fs.rm(part, { force: true });
  state.hasher = new ContentHasher({ gitBlobSize: opts.file.lfs ? undefined : opts.file.size });
  state.offset = 0;
  opts.onProgress?.(-state.reported, false);
  state.reported = 0;
}

/** One GET of the missing bytes [offset, size) appended to `part`. Throws on any failure. */
async function transferOnce(url: string, part: string, state: TransferState, opts: DownloadFileOptions): Promise<void> {
  const size = opts.file.size;
  const range = state.offset > 0 ? `bytes=${state.offset}-` : undefined;
  const res = await fetchFollowing(url, opts, range);
  if (res.status === 416 && state.offset > 0) {
    await res.body?.cancel().catch(() => undefined);
    if (state.offset === size) return;
    await restartPart(part, state, opts);
    throw new RetryableError(`server refused to resume ${opts.file.path} at byte ${state.offset}`);
  }
  if (!res.ok) {
    if (isRetryableStatus(res.status)) throw await retryableFromResponse(res, url);
    throw await readHubError(res, url);
  }
  if (state.offset > 0) {
    const contentRange = res.headers.get('content-range');
    const start = res.status === 206 && contentRange ? /^bytes\s+(\d+)-/i.exec(contentRange)?.[1] : undefined;
    if (start === undefined || Number(start) !== state.offset) {
      // Range ignored (200) or answered for other bytes: start the file over with this body.
      log.debug(`server did not honour Range for ${opts.file.path}; restarting it`, { status: res.status, contentRange });
      if (Number(start) !== 0 || res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        await restartPart(part, state, opts);
        throw new RetryableError(`unexpected Content-Range ${contentRange} for ${opts.file.path}`);
      }
      await restartPart(part, state, opts);
    }
  }
  if (!res.body) throw new RetryableError(`empty response body for ${opts.file.path}`);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(part, 'a');
  } catch (e) {
    throw localStorageError(e, part);
  }
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const buf = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending.length = 0;
    pendingBytes = 0;
    try {
      await fh.write(buf);
    } catch (e) {
      throw localStorageError(e, part);
    }
    // Hash only once the bytes are on disk: hasher state always equals the part's content.
    state.hasher.update(buf);
    state.offset += buf.length;
    state.reported += buf.length;
    opts.onProgress?.(buf.length, true);
  };
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        state.transferred += buf.length;
        if (state.offset + pendingBytes + buf.length > size) {
          throw new IntegrityMismatch(`server sent more than the ${size} bytes the tree lists`);
        }
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= WRITE_BATCH) await flush();
      }
    } finally {
      // Keep what arrived before a drop: the next attempt resumes after it.
      await flush();
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
  if (state.offset < size) {
    throw new RetryableError(`connection closed after ${state.offset} of ${size} bytes of ${opts.file.path}`);
  }
}

export async function downloadFile(opts: DownloadFileOptions): Promise<DownloadFileResult> {
  const { file, destPath } = opts;
  const part = `${destPath}.part`;
  const gitBlob = !file.lfs;
  const errCtx = { hubUrl: opts.hubUrl, repo: opts.repo, revision: opts.commitSha, path: file.path, hasToken: !!opts.accessToken, op: 'file' as const };

  // 1. Already there? Verify by hashing and keep it.
  const final = await exists(destPath);
  if (final) {
    if (final.size === file.size) {
      const digests = await hashFile(destPath, { gitBlob, signal: opts.signal });
      if (!verifyDigests(file, digests)) {
        opts.onProgress?.(file.size, false);
        return { ...digests, path: file.path, lfs: file.lfs, status: 'present', bytesTransferred: 0 };
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
  const retries = opts.retry?.retries ?? 5;
  let transferredTotal = 0;
  let resumedAny = false;
  let lastMismatch = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const state: TransferState = { hasher: new ContentHasher({ gitBlobSize: gitBlob ? file.size : undefined }), offset: 0, reported: 0, transferred: 0 };
    // 2. A leftover part from an interrupted run: hash it, then resume after it.
    const partInfo = await exists(part);
    if (partInfo && partInfo.size > file.size) {
      await fs.rm(part, { force: true });
    } else if (partInfo && partInfo.size > 0) {
      await hashFileInto(part, state.hasher, { signal: opts.signal });
      state.offset = partInfo.size;
      state.reported = partInfo.size;
      opts.onProgress?.(partInfo.size, false);
      resumedAny = true;
      log.debug(`resuming ${file.path} at byte ${partInfo.size}`);
    }
    // 3. Fetch what is missing, retrying transient failures.
    let mismatch: string | undefined;
    try {
      let failures = 0;
      while (!(state.offset === file.size && file.size > 0)) {
        const before = state.offset;
        try {
          await transferOnce(url, part, state, opts);
          break;
        } catch (e) {
          if (e instanceof IntegrityMismatch || opts.signal?.aborted || !isRetryableError(e)) throw e;
          if (state.offset > before) failures = 0;
          failures++;
          if (failures > retries) throw e;
          const delayMs = retryDelay(failures, e, opts.retry);
          const status = (e as RetryableError).status;
          log.warn(`${file.path}: ${status ? `HTTP ${status}` : (e as Error).message}; retrying in ${(delayMs / 1000).toFixed(1)}s (retry ${failures}/${retries}, ${state.offset}/${file.size} bytes on disk)`);
          await sleep(delayMs, opts.signal);
        }
      }
    } catch (e) {
      if (!(e instanceof IntegrityMismatch)) {
        throw toHubUserError(e, errCtx);
      }
      mismatch = e.message;
    }
    transferredTotal += state.transferred;
    if (!mismatch) {
      // 4. Verify against the tree, then publish atomically.
      const digests = state.hasher.digest();
      mismatch = verifyDigests(file, digests);
      if (!mismatch) {
        try {
          await fs.rename(part, destPath);
        } catch (e) {
          throw localStorageError(e, destPath);
        }
        return { ...digests, path: file.path, lfs: file.lfs, status: resumedAny ? 'resumed' : 'downloaded', bytesTransferred: transferredTotal };
      }
    }
    lastMismatch = mismatch;
    log.warn(`${file.path}: downloaded bytes do not match the Hub's published hash (${mismatch}); discarding${attempt < attempts ? ' and downloading again' : ''} (attempt ${attempt}/${attempts})`);
    await fs.rm(part, { force: true });
    opts.onProgress?.(-state.reported, false);
    resumedAny = false;
  }
  throw new UserError(`${file.path} from ${opts.repo}@${opts.commitSha.slice(0, 12)} failed verification ${attempts} times: ${lastMismatch}`, {
    exitCode: ExitCode.Integrity,
    hint: 'The bytes served do not match the hash the Hub publishes; a proxy or CDN may be corrupting them. Nothing unverified was kept.',
  });
}
