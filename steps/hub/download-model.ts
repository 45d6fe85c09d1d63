// `downloadModel`: the whole download step as a function (used by `download` and `mirror`).
// resolve revision -> list tree once -> filter -> check paths + disk -> parallel verified
// downloads -> mirror-manifest.json.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DeadlineError, deadlinePassed } from '../common/abort';
import { startBufferReclaim } from '../common/buffer-reclaim';
import { assertEnoughDiskSpace, type StatFsFn } from '../common/disk-space';
import { ExitCode, UserError } from '../common/errors';
import { GrowingFile } from '../common/growing-file';
import { assertNoSymlinkComponents, safeJoin } from '../common/fs-safety';
import { log } from '../common/log';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, writeManifest, type Manifest, type ManifestFile } from '../common/manifest';
import { formatBytes, formatRate, Progress, type ProgressMode } from '../common/progress';
import type { RetryOptions } from '../common/retry';
import { DEFAULT_MAX_HUB_STREAMS } from './chunk-plan';
import { downloadFile, type DownloadFileResult } from './download-file';
import { biggestFirst, forEachInLanes, SMALL_FILE_BYTES } from '../common/file-lanes';
import { StreamSlots } from './stream-slots';
import { gatedRepoError } from './errors';
import { DEFAULT_HUB_URL, normalizeHubUrl, validateModelId } from './hub-config';
import { listSelectedFiles, type RepoFile } from './list-files';
import { resolveRevision } from './resolve-revision';
import { admitRepo, enforcePolicy } from '../policy/enforce';
import type { Policy } from '../policy/policy';

export interface DownloadModelOptions {
  /** `org/name` or a legacy single-segment id. */
  readonly modelId: string;
  /** Branch, tag or commit sha. @default 'main' */
  readonly revision?: string;
  /**
   * The commit an earlier check resolved `revision` to (prepare's `commit_sha`): the files are
   * fetched at exactly this commit, even if the branch moved since, and `revision` is recorded as
   * the requested one. @default - `revision` is resolved here
   */
  readonly commitSha?: string;
  /** Local directory; created if missing. */
  readonly dest: string;
  /** @default https://huggingface.co (callers map HF_ENDPOINT; see resolveHubConfig) */
  readonly hubUrl?: string;
  readonly accessToken?: string;
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
  /**
   * Big files downloaded in parallel; files up to SMALL_FILE_BYTES get as many workers again of
   * their own (file-lanes.ts). @default 4
   */
  readonly concurrency?: number;
  /** Workers for small files only, beside `concurrency` (0: small files wait their turn). @default concurrency */
  readonly smallFileWorkers?: number;
  readonly retry?: RetryOptions;
  /** A Hub answer (head or body) that sends no byte for this long fails the request (retried). @default 60 s */
  readonly idleTimeoutMs?: number;
  /** Full downloads of a file before a hash mismatch is fatal. @default 3 */
  readonly integrityAttempts?: number;
  /** Extra free space required beyond the bytes still needed. @default 1%, 64 MiB..2 GiB */
  readonly diskMarginBytes?: number;
  /** For tests. */
  readonly statfs?: StatFsFn;
  /** @default 'bar' on a TTY, else 'log' */
  readonly progress?: ProgressMode;
  /** Write progress to $ARGO_PROGRESS_FILE (off when another side of the same step reports it). @default true */
  readonly argoProgress?: boolean;
  readonly signal?: AbortSignal;
  /** For the metadata calls (revision, tree); file bodies go through node:http (http-get.ts). */
  readonly fetchImpl?: typeof fetch;
  /** The mirroring policy prepare applied: the same files are selected (pickle duplicates skipped), or the repo is refused (exit 9). */
  readonly policy?: Policy;
  /** Called once, after listing and the path/disk checks, before any transfer starts. */
  /** Range requests in flight at once per big file (1: one stream per file). @default 8 */
  readonly streamsPerFile?: number;
  /** Bytes per Range request of a multi-stream file; files under two chunks use one stream. @default 64 MiB */
  readonly chunkSize?: number;
  /** Open Hub streams in all, shared by the files in flight (at least `concurrency`). @default 16 */
  readonly maxHubStreams?: number;
  /** Above this size no request goes out without Range (for tests). @default 50 GB */
  readonly wholeGetLimit?: number;
  readonly onPlan?: (
    plan: ReadonlyArray<PlannedFile>,
    source: { readonly repo: string; readonly commitSha: string },
  ) => void;
  /**
   * Files already complete at the destination (a bounded-scratch transfer's rerun): looked up once
   * after listing; the ones returned are not downloaded, their sha256 comes from there and their
   * size / git blob sha1 from the tree, so the manifest is still complete.
   */
  readonly alreadyStored?: (
    files: readonly RepoFile[],
    source: { readonly repo: string; readonly commitSha: string },
  ) => Promise<ReadonlyMap<string, { readonly sha256: string }>>;
  /**
   * Bounded scratch disk: waits before a file's download until the disk has room for it (the
   * caller deletes each file once it is stored elsewhere). The disk check then asks room for the
   * `concurrency` largest files instead of the whole model. @default - the whole model stays on disk
   */
  readonly scratch?: { readonly acquire: (destPath: string, signal: AbortSignal) => Promise<void> };
}

export interface DownloadStats {
  readonly filesPresent: number;
  readonly filesDownloaded: number;
  readonly bytesTransferred: number;
  readonly seconds: number;
}

/** `commitSha` checked: a full 40-hex commit sha (a usage error otherwise), or undefined. */
function pinnedCommit(commitSha: string | undefined): string | undefined {
  if (commitSha === undefined) return undefined;
  if (!/^[0-9a-f]{40}$/.test(commitSha)) {
    throw new UserError(`--commit must be a full 40-hex commit sha (prepare's commit_sha output), got ${JSON.stringify(commitSha)}`, { exitCode: ExitCode.Usage });
  }
  return commitSha;
}

/** Bytes of `file` already on disk (complete final file or partial `.part`). */
export async function bytesOnDisk(full: string, size: number): Promise<number> {
  for (const [p, complete] of [[full, true], [`${full}.part`, false]] as const) {
    try {
      const st = await fs.lstat(p);
      if (complete && st.size === size) return size;
      // A ranged download writes chunks at their offsets, so a .part can be as long as the file
      // with holes in it: what it holds on disk is its allocated blocks, not its length.
      if (!complete && st.size <= size) return Math.min(st.size, st.blocks * 512);
    } catch {
      // absent
    }
  }
  return 0;
}

/** What became of one file: downloadFile's result, or `stored` (not downloaded: see `alreadyStored`). */
type FileOutcome = Omit<DownloadFileResult, 'status'> & { readonly status: DownloadFileResult['status'] | 'stored' };

/** Sum of the `n` largest sizes: the disk a bounded scratch needs for `n` files in flight. */
export function largestSum(sizes: readonly number[], n: number): number {
  return [...sizes].sort((a, b) => b - a).slice(0, n).reduce((a, b) => a + b, 0);
}

/** A file already stored at the destination: its digests without a download (see `alreadyStored`). */
function storedResult(file: RepoFile, sha256: string, growing: GrowingFile, progress: Progress): FileOutcome {
  const digests = { size: file.size, sha256, ...(file.lfs ? {} : { gitBlobSha1: file.gitBlobSha1 }) };
  growing.completed(digests);
  progress.advance(file.size, { transferred: false });
  progress.fileDone();
  return { ...digests, path: file.path, lfs: file.lfs, status: 'stored', bytesTransferred: 0 };
}

/** How far a download got, for the message when its --deadline passes. */
interface Reached {
  stage: string;
  progress?: Progress;
}

/**
 * Downloads a model revision into `dest`, verifies every file and writes the manifest. When
 * `signal` aborts because a --deadline passed, in-flight requests stop, the `.part` files stay
 * (a rerun resumes them) and a DeadlineError says how far the download got.
 */
export async function downloadModel(opts: DownloadModelOptions, stats?: { value?: DownloadStats }): Promise<Manifest> {
  const reached: Reached = { stage: 'before the Hub answered' };
  const stopReclaim = startBufferReclaim();
  try {
    return await downloadModelUnbounded(opts, reached, stats);
  } catch (e) {
    if (!deadlinePassed(opts.signal)) throw e;
    const p = reached.progress?.snapshot();
    const where = p
      ? `while downloading: ${p.doneFiles} of ${p.totalFiles} files complete, ${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)} on disk`
      : reached.stage;
    throw new DeadlineError(opts.signal.reason.deadline, where, `Partial files are kept in ${path.resolve(opts.dest)}: rerun the same command (same --dest) to resume, with a later --deadline.`);
  } finally {
    stopReclaim();
  }
}

/**
 * One file of a download plan: the listing's entry and the GrowingFile the download reports to.
 * Its getters are what an overlapped upload follows (s3/upload-pending.ts PendingFile), so that
 * side needs no object of its own per file.
 */
export class PlannedFile {
  constructor(readonly file: RepoFile, readonly growing: GrowingFile) {}

  /** Where the verified file goes (the GrowingFile's path). */
  get destPath(): string {
    return this.growing.path;
  }

  /** Path in the repo (the manifest path). */
  get path(): string {
    return this.file.path;
  }

  get size(): number {
    return this.file.size;
  }

  /** The Hub's sha256, known before the download for LFS files only. */
  get sha256(): string | undefined {
    return this.file.lfs ? this.file.sha256 : undefined;
  }
}

/**
 * The plan of a download: every path checked (safe, not the manifest, no case collision, no
 * symlink on the way), `dest` created, and the disk checked for the bytes still missing. In a
 * function of its own so that nothing but the plan outlives the checks.
 */
async function checkTargets(
  repo: string, dest: string, files: readonly RepoFile[],
  opts: Pick<DownloadModelOptions, 'diskMarginBytes' | 'statfs'> & {
    /** Files already complete at the destination: not downloaded, so they need no disk. */
    readonly stored: ReadonlyMap<string, unknown>;
    /** Bounded scratch: room for this many of the largest missing files, not for all of them. */
    readonly inFlight?: number;
  },
): Promise<{ planned: PlannedFile[]; totalBytes: number; present: number }> {
  const fulls = files.map((f) => safeJoin(dest, f.path, 'repo file'));
  const planned: PlannedFile[] = [];
  const seen = new Set<string>();
  for (const [i, file] of files.entries()) {
    const full = fulls[i];
    if (file.path === MANIFEST_FILE) {
      throw new UserError(`${repo} contains a file named ${MANIFEST_FILE}, which model-mirror writes itself`, {
        exitCode: ExitCode.LocalStorage,
        hint: `Exclude it with --ignore-patterns ${MANIFEST_FILE}.`,
      });
    }
    const key = full.toLowerCase();
    if (seen.has(key)) throw new UserError(`${repo} lists two files that collide on disk: ${file.path}`, { exitCode: ExitCode.LocalStorage });
    seen.add(key);
    planned.push(new PlannedFile(file, GrowingFile.under(dest, file.path, full, file.size)));
  }
  seen.clear();
  try {
    await fs.mkdir(dest, { recursive: true });
  } catch (e) {
    throw new UserError(`Cannot create --dest ${dest}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { exitCode: ExitCode.LocalStorage, cause: e });
  }
  for (const t of planned) await assertNoSymlinkComponents(dest, t.file.path);
  let totalBytes = 0;
  let present = 0;
  let missing = 0;
  const missingSizes: number[] = [];
  for (const t of planned) {
    totalBytes += t.file.size;
    if (opts.stored.has(t.file.path)) continue;
    present += await bytesOnDisk(t.destPath, t.file.size);
    missing += t.file.size;
    if (opts.inFlight) missingSizes.push(t.file.size);
  }
  missing -= present;
  const needed = opts.inFlight ? Math.min(missing, largestSum(missingSizes, opts.inFlight)) : missing;
  await assertEnoughDiskSpace(dest, needed, { marginBytes: opts.diskMarginBytes, statfs: opts.statfs });
  return { planned, totalBytes, present };
}

/** The manifest's line for a verified file; the hashes are the listing's strings where it had them. */
function manifestEntry(file: RepoFile, r: FileOutcome): ManifestFile {
  const sha256 = file.lfs && file.sha256 === r.sha256 ? file.sha256 : r.sha256;
  if (file.lfs) return { path: file.path, size: r.size, sha256, lfs: true };
  const gitBlobSha1 = file.gitBlobSha1 === r.gitBlobSha1 ? file.gitBlobSha1 : r.gitBlobSha1;
  return { path: file.path, size: r.size, sha256, gitBlobSha1, lfs: false };
}

async function downloadModelUnbounded(opts: DownloadModelOptions, reached: Reached, stats?: { value?: DownloadStats }): Promise<Manifest> {
  const started = Date.now();
  const repo = validateModelId(opts.modelId);
  const hubUrl = normalizeHubUrl(opts.hubUrl || DEFAULT_HUB_URL);
  const hub = { hubUrl, accessToken: opts.accessToken, retry: opts.retry, signal: opts.signal, fetchImpl: opts.fetchImpl, idleTimeoutMs: opts.idleTimeoutMs };
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));

  // 1. Pin the revision.
  reached.stage = `while resolving ${repo}@${opts.commitSha ?? opts.revision ?? 'main'} on the Hub`;
  const resolved = await resolveRevision({ ...hub, repo, revision: pinnedCommit(opts.commitSha) ?? opts.revision });
  const requestedRevision = opts.commitSha ? opts.revision ?? 'main' : resolved.requestedRevision;
  log.info(opts.commitSha
    ? `${repo}@${requestedRevision}: fetching commit ${resolved.commitSha}, the one checked before`
    : `resolved ${repo}@${requestedRevision} to commit ${resolved.commitSha}`);
  if (opts.policy) admitRepo(opts.policy, repo, resolved.gated); // the policy's refusal before asking for a token
  if (resolved.gated && !opts.accessToken) {
    throw gatedRepoError({ hubUrl, repo, hasToken: false, op: 'revision' });
  }

  // 2. List once, filter.
  reached.stage = `while listing the files of ${repo}`;
  const selected = await listSelectedFiles({
    ...hub, repo, commitSha: resolved.commitSha, allowPatterns: opts.allowPatterns, ignorePatterns: opts.ignorePatterns,
  });
  const files = opts.policy
    ? [...(await enforcePolicy(opts.policy, { ...hub, repo, commitSha: resolved.commitSha, gated: resolved.gated, files: selected })).files]
    : selected;
  const stored = opts.alreadyStored ? await opts.alreadyStored(files, { repo, commitSha: resolved.commitSha }) : new Map<string, { sha256: string }>();
  if (stored.size) log.info(`${stored.size} of ${files.length} files are already stored at the destination: not downloaded again`);

  // 3. Every path must be safe before anything is written. 4. Enough disk for what is missing?
  const dest = path.resolve(opts.dest);
  const { planned, totalBytes, present } = await checkTargets(repo, dest, files, { ...opts, stored, inFlight: opts.scratch ? concurrency : undefined });
  log.info(`downloading ${files.length} files (${formatBytes(totalBytes)}) of ${repo}@${resolved.commitSha.slice(0, 12)} to ${dest}`, {
    concurrency,
    alreadyOnDisk: present,
  });

  // 5. Download, biggest first so the tail is short. A consumer of the plan (mirror's overlapped
  // upload) follows each file through its GrowingFile; on any failure every file not yet complete
  // fails too, so no consumer waits forever. Each file's manifest entry is made as it completes
  // (no per-file result kept besides it: memory flat in the file count).
  const progress = new Progress({ label: 'download', totalBytes, totalFiles: files.length, mode: opts.progress, ...(opts.argoProgress === false ? { argoProgressFile: '' } : {}) });
  reached.progress = progress;
  const order = biggestFirst(files);
  const manifestFiles = new Array<ManifestFile>(files.length);
  let transferred = 0;
  let filesPresent = 0;
  try {
    opts.onPlan?.(planned, { repo, commitSha: resolved.commitSha });
    const streamSlots = new StreamSlots(Math.max(concurrency, opts.maxHubStreams ?? DEFAULT_MAX_HUB_STREAMS));
    await forEachInLanes(order, (i) => files[i].size <= SMALL_FILE_BYTES, { concurrency, smallExtra: opts.smallFileWorkers }, async (i, signal) => {
      const t = planned[i];
      const kept = stored.get(t.file.path);
      if (kept) {
        filesPresent++;
        manifestFiles[i] = manifestEntry(t.file, storedResult(t.file, kept.sha256, t.growing, progress));
        return;
      }
      await opts.scratch?.acquire(t.destPath, signal);
      const r = await downloadFile({
        hubUrl,
        accessToken: opts.accessToken,
        repo,
        commitSha: resolved.commitSha,
        file: t.file,
        destPath: t.destPath,
        retry: opts.retry,
        idleTimeoutMs: opts.idleTimeoutMs,
        integrityAttempts: opts.integrityAttempts,
        onProgress: (delta, moved) => progress.advance(delta, { transferred: moved }),
        signal,
        growing: t.growing,
        streamsPerFile: opts.streamsPerFile,
        chunkSize: opts.chunkSize,
        streamSlots,
        wholeGetLimit: opts.wholeGetLimit,
      });
      progress.fileDone();
      log.debug(`${r.status} ${t.file.path}`, { size: r.size });
      transferred += r.bytesTransferred;
      if (r.status === 'present') filesPresent++;
      manifestFiles[i] = manifestEntry(t.file, r);
    }, opts.signal);
  } catch (e) {
    for (const p of planned) p.growing.failed(e);
    progress.finish({ success: false });
    throw e;
  }
  progress.finish();

  // 6. Manifest, in repo order.
  const manifest: Manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    repo,
    requestedRevision,
    commitSha: resolved.commitSha,
    hubUrl,
    files: manifestFiles,
    totalBytes,
    fileCount: manifestFiles.length,
    createdAt: new Date().toISOString(),
    ...(resolved.pipelineTag ? { pipelineTag: resolved.pipelineTag } : {}),
    ...(resolved.libraryName ? { libraryName: resolved.libraryName } : {}),
  };
  await writeManifest(dest, manifest);

  const seconds = (Date.now() - started) / 1000;
  log.info(`downloaded ${repo}@${resolved.commitSha.slice(0, 12)}: ${files.length} files, ${formatBytes(totalBytes)} verified`, {
    transferred: formatBytes(transferred),
    alreadyPresent: filesPresent,
    seconds: Number(seconds.toFixed(1)),
    rate: formatRate(seconds > 0 ? transferred / seconds : 0),
  });
  if (stats) stats.value = { filesPresent, filesDownloaded: files.length - filesPresent, bytesTransferred: transferred, seconds };
  return manifest;
}
