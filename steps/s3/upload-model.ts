// `uploadModel`: the whole upload step as a function (used by `upload` and `mirror`).
// manifest -> local checks -> one listing of the prefix -> HeadObject to skip identical objects
// -> parallel uploads (`concurrency` files; their parts share one budget of `partConcurrency`
// requests in flight) -> the manifest itself, last.
// With `pending` (an overlapped `mirror`), files are uploaded while the download still writes
// them; see upload-pending.ts.
import type { S3Client } from '@aws-sdk/client-s3';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startBufferReclaim } from '../common/buffer-reclaim';
import { biggestFirst, forEachInLanes, SMALL_FILE_BYTES } from '../common/file-lanes';
import { ExitCode, UserError } from '../common/errors';
import { safeJoin } from '../common/fs-safety';
import { log } from '../common/log';
import type { FileTable } from '../common/file-table';
import { readManifest } from '../common/manifest';
import { formatBytes, formatRate, Progress, type ProgressMode } from '../common/progress';
import type { RetryOptions } from '../common/retry';
import { createS3Client, describeEndpoint, endpointLabel as labelFor, resolveS3Config } from './client';
import { PartBudget } from './part-budget';
import { joinKey, parseS3Uri, type S3Location } from './s3-uri';
import { pendingBytes, uploadPending, type PendingDownload } from './upload-pending';
import { checkKeyLength, fileItem, manifestItem, objectMetadata, UploadSession, type Item, type UploadedObject } from './upload-session';

export { pendingFilesOf, type PendingDownload, type PendingFile, type PendingFiles } from './upload-pending';
export type { UploadedObject } from './upload-session';

/** Files uploaded in parallel. */
export const DEFAULT_FILE_CONCURRENCY = 4;
/** Parts (and small-file PUTs) in flight, across all files. */
export const DEFAULT_PART_CONCURRENCY = 8;

export interface UploadModelOptions {
  /** Directory written by `download` (holding mirror-manifest.json). */
  readonly source: string;
  /** `s3://bucket/prefix` or a parsed location. */
  readonly dest: string | S3Location;
  /** See resolveS3Config: flag > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > MLFLOW_S3_ENDPOINT_URL. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Default: the SDK credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, IRSA). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Use this client instead of building one (endpoint/region/credentials are then ignored). */
  readonly client?: S3Client;
  /** Files uploaded in parallel, plus as many again for files up to SMALL_FILE_BYTES (ignored with `pending`: every file waits for its bytes). @default 4 */
  readonly concurrency?: number;
  /**
   * Requests with a body in flight (parts and small-file PUTs), shared by all files: memory is
   * about partConcurrency x 0.5 MiB of read buffers whatever the part size. @default 8
   */
  readonly partConcurrency?: number;
  /** Override the part size (bytes, >= 5 MiB). @default choosePartSize(size) */
  readonly partSize?: number;
  /** Whole-object retries after the per-request ones. */
  readonly retry?: RetryOptions;
  /** Upload even objects that already match. */
  readonly force?: boolean;
  /**
   * Maps a manifest path to its key under the destination prefix. `register` needs the
   * mlflow.transformers layout (`artifactKeyFor` in steps/mlflow/transformers-layout.ts).
   * @default the manifest path itself (a verbatim copy)
   */
  readonly keyFor?: (manifestPath: string) => string;
  /** The download is still running: upload its files as they are written (overlapped `mirror`). */
  readonly pending?: PendingDownload;
  readonly progress?: ProgressMode;
  readonly signal?: AbortSignal;
}

export interface UploadResult {
  readonly bucket: string;
  readonly prefix: string;
  /** Endpoint used (undefined = AWS S3). */
  readonly endpoint?: string;
  readonly objectsUploaded: number;
  readonly objectsSkipped: number;
  /** Bytes sent by this run (parts resumed from an interrupted run are not counted). */
  readonly bytesUploaded: number;
  readonly bytesSkipped: number;
  /** Bytes of parts an interrupted run left in S3, reused without sending them again. */
  readonly bytesResumed: number;
  readonly manifestKey: string;
  /** mirror-manifest.json as uploaded (or found already there). Other objects are counted, not listed. */
  readonly manifestObject: UploadedObject;
  readonly seconds: number;
}

/**
 * Every file of the manifest is there, a regular file of the listed size, and its key fits, before
 * anything goes. Nothing is kept per file: an item is made when the file's turn comes.
 */
async function checkLocal(source: string, files: FileTable, keyOf: (rel: string) => string): Promise<void> {
  for (let i = 0; i < files.length; i++) {
    const rel = files.path(i);
    const file = safeJoin(source, rel, 'manifest path');
    checkKeyLength(keyOf(rel));
    let st;
    try {
      st = await fs.lstat(file);
    } catch {
      throw new UserError(`${rel} is listed in the manifest but missing from ${source}`, {
        exitCode: ExitCode.NotFound,
        hint: 'Rerun `model-mirror download` into the same directory; it fetches only what is missing.',
      });
    }
    if (!st.isFile()) throw new UserError(`${file} is not a regular file`, { exitCode: ExitCode.LocalStorage });
    if (st.size !== files.size(i)) {
      throw new UserError(`${rel} is ${st.size} bytes but the manifest says ${files.size(i)}: it changed since download`, {
        exitCode: ExitCode.Integrity,
        hint: 'Rerun `model-mirror download` into the same directory to repair it.',
      });
    }
  }
}

export async function uploadModel(opts: UploadModelOptions): Promise<UploadResult> {
  const started = Date.now();
  const loc = typeof opts.dest === 'string' ? parseS3Uri(opts.dest) : opts.dest;
  const cfg = resolveS3Config({ endpoint: opts.endpoint, region: opts.region });
  const client = opts.client ?? createS3Client({ ...cfg, credentials: opts.credentials });
  // The endpoint actually used (the caller's client knows its own), for logs and errors.
  const endpointLabel = opts.client ? await describeEndpoint(client) : labelFor(cfg);
  const endpoint = endpointLabel;
  const budget = new PartBudget(Math.max(1, Math.floor(opts.partConcurrency ?? DEFAULT_PART_CONCURRENCY)));
  const source = path.resolve(opts.source);
  const keyOf = (rel: string) => joinKey(loc.prefix, opts.keyFor ? opts.keyFor(rel) : rel);
  let progress: Progress | undefined;
  let repo: string | undefined;
  let commitSha: string | undefined;
  // One session either way; the objects' metadata names the source repo and commit.
  const startSession = (totalBytes: number, totalFiles: number): UploadSession => {
    progress = new Progress({ label: 'upload', totalBytes, totalFiles, mode: opts.progress });
    return new UploadSession({ client, loc, endpoint, budget, progress, metadata: objectMetadata(repo, commitSha), partSize: opts.partSize, retry: opts.retry, force: opts.force });
  };
  const stopReclaim = startBufferReclaim();
  try {
    let session: UploadSession;
    let mItem: Item;
    if (opts.pending) {
      repo = opts.pending.repo;
      commitSha = opts.pending.commitSha;
      session = startSession(pendingBytes(opts.pending.files), opts.pending.files.length + 1);
      log.info(`uploading ${opts.pending.files.length} files of ${repo ?? 'the model'}${commitSha ? `@${commitSha.slice(0, 12)}` : ''} to s3://${loc.bucket}/${loc.prefix} as they download`, { endpoint: endpointLabel });
      mItem = await uploadPending(session, { source, keyOf, pending: opts.pending, signal: opts.signal });
    } else {
      const manifest = await readManifest(source);
      const { files } = manifest;
      await checkLocal(source, files, keyOf);
      mItem = await manifestItem(source, loc);
      checkKeyLength(mItem.key);
      repo = manifest.repo;
      commitSha = manifest.commitSha;
      session = startSession(files.totalBytes + mItem.size, files.length + 1);

      log.info(`uploading ${files.length} files (${formatBytes(manifest.totalBytes)}) of ${repo}@${commitSha.slice(0, 12)} to s3://${loc.bucket}/${loc.prefix}`, {
        endpoint: endpointLabel,
      });
      // What is already there (one listing; HeadObject only for same-size candidates).
      await session.listExisting();
      const concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_FILE_CONCURRENCY));
      const one = async (it: Item, signal?: AbortSignal) => {
        if (await session.isAlreadyThere(it)) session.recordSkipped(it);
        else await session.upload(it, { signal });
      };
      // Every sha256 was checked (64 hex digits) when the manifest was read.
      const itemOf = (i: number): Item => {
        const rel = files.path(i);
        return fileItem(source, rel, keyOf(rel), files.size(i), files.verifiedSha256(i));
      };
      // Biggest first: the long poles start early; small files also get workers of their own.
      await forEachInLanes(biggestFirst(files.sizes()), (i) => files.size(i) <= SMALL_FILE_BYTES, { concurrency }, (i, signal) => one(itemOf(i), signal), opts.signal);
      await one(mItem, opts.signal);
    }
    session.o.progress.finish();
    const seconds = (Date.now() - started) / 1000;
    const uploaded = session.objectsUploaded;
    const result: UploadResult = {
      bucket: loc.bucket,
      prefix: loc.prefix,
      endpoint: opts.client ? undefined : cfg.endpoint,
      objectsUploaded: uploaded,
      objectsSkipped: session.objectsSkipped,
      bytesUploaded: session.bytesUploaded,
      bytesSkipped: session.bytesSkipped,
      bytesResumed: session.bytesResumed,
      manifestKey: mItem.key,
      manifestObject: session.manifestObject!,
      seconds,
    };
    log.info(`uploaded ${repo ?? 'the model'}${commitSha ? `@${commitSha.slice(0, 12)}` : ''} to s3://${loc.bucket}/${loc.prefix}`, {
      uploaded,
      skipped: result.objectsSkipped,
      bytes: formatBytes(result.bytesUploaded),
      ...(result.bytesResumed ? { resumed: formatBytes(result.bytesResumed) } : {}),
      seconds: Number(seconds.toFixed(1)),
      rate: formatRate(seconds > 0 ? result.bytesUploaded / seconds : 0),
      peakPartsInFlight: budget.peak,
    });
    return result;
  } catch (e) {
    progress?.finish({ success: false });
    throw e;
  } finally {
    stopReclaim();
    if (!opts.client) client.destroy();
  }
}
