// `downloadModel`: the whole download step as a function (used by `download` and `mirror`).
// resolve revision -> list tree once -> filter -> check paths + disk -> parallel verified
// downloads -> mirror-manifest.json.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DeadlineError, deadlinePassed } from '../common/abort';
import { startBufferReclaim } from '../common/buffer-reclaim';
import { assertEnoughDiskSpace, type StatFsFn } from '../common/disk-space';
import { ExitCode, UserError } from '../common/errors';
import { assertNoSymlinkComponents, safeJoin } from '../common/fs-safety';
import { log } from '../common/log';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, writeManifest, type Manifest } from '../common/manifest';
import { formatBytes, formatRate, Progress, type ProgressMode } from '../common/progress';
import type { RetryOptions } from '../common/retry';
import { DEFAULT_MAX_HUB_STREAMS } from './chunk-plan';
import { downloadFile } from './download-file';
import { DownloadPlan } from './download-plan';
import { biggestFirst, forEachInLanes, SMALL_FILE_BYTES } from '../common/file-lanes';
import { StreamSlots } from './stream-slots';
import { gatedRepoError } from './errors';
import { DEFAULT_HUB_URL, normalizeHubUrl, validateModelId } from './hub-config';
import { listSelectedFiles, type RepoFile } from './list-files';
import { FileTable } from '../common/file-table';
import { PathIndex } from '../common/path-index';
import { resolveRevision, type ResolvedRevision } from './resolve-revision';
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
  /** Range requests in flight at once per big file (1: one stream per file). @default 8 */
  readonly streamsPerFile?: number;
  /** Bytes per Range request of a multi-stream file; files under two chunks use one stream. @default 64 MiB */
  readonly chunkSize?: number;
  /** Open Hub streams in all, shared by the files in flight (at least `concurrency`). @default 16 */
  readonly maxHubStreams?: number;
  /** Above this size no request goes out without Range (for tests). @default 50 GB */
  readonly wholeGetLimit?: number;
  /**
   * Called once, after listing and the path/disk checks, before any transfer starts: a consumer
   * (mirror's overlapped upload) follows each file through `plan.growing(i)`.
   */
  readonly onPlan?: (plan: DownloadPlan) => void;
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

/** Sum of the `n` largest sizes: the disk a bounded scratch needs for `n` files in flight. */
export function largestSum(sizes: readonly number[], n: number): number {
  return [...sizes].sort((a, b) => b - a).slice(0, n).reduce((a, b) => a + b, 0);
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
 * The paths checked (safe, not the manifest, no case collision, no symlink on the way), `dest`
 * created, and the disk checked for the bytes still missing.
 */
async function checkTargets(
  repo: string, dest: string, files: FileTable,
  opts: Pick<DownloadModelOptions, 'diskMarginBytes' | 'statfs'> & {
    /** Files already complete at the destination: not downloaded, so they need no disk. */
    readonly stored: ReadonlyMap<string, unknown>;
    /** Bounded scratch: room for this many of the largest missing files, not for all of them. */
    readonly inFlight?: number;
  },
): Promise<{ totalBytes: number; present: number }> {
  for (let i = 0; i < files.length; i++) {
    const rel = files.path(i);
    safeJoin(dest, rel, 'repo file'); // throws on an unsafe path
    if (rel === MANIFEST_FILE) {
      throw new UserError(`${repo} contains a file named ${MANIFEST_FILE}, which model-mirror writes itself`, {
        exitCode: ExitCode.LocalStorage,
        hint: `Exclude it with --ignore-patterns ${MANIFEST_FILE}.`,
      });
    }
  }
  // Two paths that differ only in case are one file on a case-insensitive disk. Paths are
  // canonical (no `.`, `..` or empty segments) and share `dest`: the repo path is key enough. An
  // index of row numbers, not a Set of every lowercased path (20,000 strings at the planning peak).
  const lowerCase = (i: number) => files.path(i).toLowerCase();
  const byLowerCase = new PathIndex(files.length, lowerCase);
  if (byLowerCase.size < files.length) {
    let second = 0;
    while (byLowerCase.find(lowerCase(second)) === second) second++;
    throw new UserError(`${repo} lists two files that collide on disk: ${files.path(second)}`, { exitCode: ExitCode.LocalStorage });
  }
  try {
    await fs.mkdir(dest, { recursive: true });
  } catch (e) {
    throw new UserError(`Cannot create --dest ${dest}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { exitCode: ExitCode.LocalStorage, cause: e });
  }
  for (let i = 0; i < files.length; i++) await assertNoSymlinkComponents(dest, files.path(i));
  let totalBytes = 0;
  let present = 0;
  let missing = 0;
  const missingSizes: number[] = [];
  for (let i = 0; i < files.length; i++) {
    const rel = files.path(i);
    const size = files.size(i);
    totalBytes += size;
    if (opts.stored.has(rel)) continue;
    present += await bytesOnDisk(safeJoin(dest, rel, 'repo file'), size);
    missing += size;
    if (opts.inFlight) missingSizes.push(size);
  }
  missing -= present;
  const needed = opts.inFlight ? Math.min(missing, largestSum(missingSizes, opts.inFlight)) : missing;
  await assertEnoughDiskSpace(dest, needed, { marginBytes: opts.diskMarginBytes, statfs: opts.statfs });
  return { totalBytes, present };
}

interface Planned {
  readonly plan: DownloadPlan;
  readonly resolved: ResolvedRevision;
  readonly requestedRevision: string;
  readonly totalBytes: number;
  /** Bytes already on disk (complete or partial files). */
  readonly present: number;
}

/** Steps 1-4: pin the revision, list into a table, filter, check paths and disk. */
async function planDownload(opts: DownloadModelOptions, reached: Reached, repo: string, hubUrl: string, concurrency: number): Promise<Planned> {
  const hub = { hubUrl, accessToken: opts.accessToken, retry: opts.retry, signal: opts.signal, fetchImpl: opts.fetchImpl, idleTimeoutMs: opts.idleTimeoutMs };

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
  // The policy (and a bounded scratch's lookup) take the files as a list, made only for them.
  const files = opts.policy
    ? FileTable.of((await enforcePolicy(opts.policy, { ...hub, repo, commitSha: resolved.commitSha, gated: resolved.gated, files: Array.from(selected.entries()) })).files)
    : selected;
  const stored = opts.alreadyStored ? await opts.alreadyStored(Array.from(files.entries()), { repo, commitSha: resolved.commitSha }) : new Map<string, { sha256: string }>();
  if (stored.size) log.info(`${stored.size} of ${files.length} files are already stored at the destination: not downloaded again`);

  // 3. Every path must be safe before anything is written. 4. Enough disk for what is missing?
  const dest = path.resolve(opts.dest);
  const { totalBytes, present } = await checkTargets(repo, dest, files, { ...opts, stored, inFlight: opts.scratch ? concurrency : undefined });
  const plan = new DownloadPlan(files, dest, repo, resolved.commitSha);
  // Stored files are complete from the start: their sha256 is the one the upload verified.
  for (let i = 0; stored.size && i < files.length; i++) {
    const kept = stored.get(files.path(i));
    if (kept) plan.completed(i, { size: files.size(i), sha256: kept.sha256 });
  }
  return { plan, resolved, requestedRevision, totalBytes, present };
}

async function downloadModelUnbounded(opts: DownloadModelOptions, reached: Reached, stats?: { value?: DownloadStats }): Promise<Manifest> {
  const started = Date.now();
  const repo = validateModelId(opts.modelId);
  const hubUrl = normalizeHubUrl(opts.hubUrl || DEFAULT_HUB_URL);
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const { plan, resolved, requestedRevision, totalBytes, present } = await planDownload(opts, reached, repo, hubUrl, concurrency);
  const table = plan.table;
  log.info(`downloading ${table.length} files (${formatBytes(totalBytes)}) of ${repo}@${resolved.commitSha.slice(0, 12)} to ${plan.dest}`, {
    concurrency,
    alreadyOnDisk: present,
  });

  // 5. Download, biggest first so the tail is short. A consumer of the plan (mirror's overlapped
  // upload) follows each file through its GrowingFile; on any failure every file not yet complete
  // fails too, so no consumer waits forever. Each file's digests go into the plan's table as it
  // completes (no object kept per file: memory flat in the file count).
  const progress = new Progress({ label: 'download', totalBytes, totalFiles: table.length, mode: opts.progress, ...(opts.argoProgress === false ? { argoProgressFile: '' } : {}) });
  reached.progress = progress;
  let transferred = 0;
  let filesPresent = 0;
  try {
    opts.onPlan?.(plan);
    const streamSlots = new StreamSlots(Math.max(concurrency, opts.maxHubStreams ?? DEFAULT_MAX_HUB_STREAMS));
    await forEachInLanes(biggestFirst(table.sizes()), (i) => table.size(i) <= SMALL_FILE_BYTES, { concurrency, smallExtra: opts.smallFileWorkers }, async (i, signal) => {
      if (table.isComplete(i)) {
        // Already stored at the destination (see alreadyStored): nothing to fetch.
        filesPresent++;
        progress.advance(table.size(i), { transferred: false });
        progress.fileDone();
        return;
      }
      const destPath = plan.destPath(i);
      await opts.scratch?.acquire(destPath, signal);
      const r = await downloadFile({
        hubUrl,
        accessToken: opts.accessToken,
        repo,
        commitSha: resolved.commitSha,
        file: table.entry(i),
        destPath,
        retry: opts.retry,
        idleTimeoutMs: opts.idleTimeoutMs,
        integrityAttempts: opts.integrityAttempts,
        onProgress: (delta, moved) => progress.advance(delta, { transferred: moved }),
        signal,
        growing: plan.growing(i),
        streamsPerFile: opts.streamsPerFile,
        chunkSize: opts.chunkSize,
        streamSlots,
        wholeGetLimit: opts.wholeGetLimit,
      });
      plan.completed(i, r);
      progress.fileDone();
      log.debug(`${r.status} ${r.path}`, { size: r.size });
      transferred += r.bytesTransferred;
      if (r.status === 'present') filesPresent++;
    }, opts.signal);
  } catch (e) {
    plan.failAll(e);
    progress.finish({ success: false });
    throw e;
  }
  progress.finish();

  // 6. Manifest, in repo order: the table's rows, written a slice at a time.
  const manifest: Manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    repo,
    requestedRevision,
    commitSha: resolved.commitSha,
    hubUrl,
    files: table,
    totalBytes,
    fileCount: table.length,
    createdAt: new Date().toISOString(),
    ...(resolved.pipelineTag ? { pipelineTag: resolved.pipelineTag } : {}),
    ...(resolved.libraryName ? { libraryName: resolved.libraryName } : {}),
  };
  await writeManifest(plan.dest, manifest);

  const seconds = (Date.now() - started) / 1000;
  log.info(`downloaded ${repo}@${resolved.commitSha.slice(0, 12)}: ${table.length} files, ${formatBytes(totalBytes)} verified`, {
    transferred: formatBytes(transferred),
    alreadyPresent: filesPresent,
    seconds: Number(seconds.toFixed(1)),
    rate: formatRate(seconds > 0 ? transferred / seconds : 0),
  });
  if (stats) stats.value = { filesPresent, filesDownloaded: table.length - filesPresent, bytesTransferred: transferred, seconds };
  return manifest;
}
