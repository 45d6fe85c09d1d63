// Download and upload of one model at the same time, in one process (`mirror`, `transfer`): each
// file's parts go to S3 as soon as they are on disk (GrowingFile), so the model moves at the pace
// of the slower side instead of the sum of both. The first failure stops the other side; the
// error says which side it was.
//
// With a bounded scratch disk, each file's local copy is deleted once its object is complete and
// verified in S3, and at most `concurrency` files are on disk at once (ScratchSlots). A rerun then
// finds files that are only in S3: they are looked up there (stored-objects.ts) and not
// downloaded again; the manifest still lists them with their digests.
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { log } from '../common/log';
import type { Manifest } from '../common/manifest';
import type { ProgressMode } from '../common/progress';
import { downloadModel, type DownloadModelOptions, type DownloadStats } from '../hub/download-model';
import type { DownloadPlan } from '../hub/download-plan';
import { createS3Client, resolveS3Config } from '../s3/client';
import { joinKey, parseS3Uri } from '../s3/s3-uri';
import { type UploadModelOptions, type UploadResult, uploadModel } from '../s3/upload-model';
import { ScratchSlots } from './scratch-slots';
import { findStoredObjects } from './stored-objects';

/** Which side of an overlapped download + upload failed first. */
export class StepFailure extends Error {
  constructor(readonly step: 'download' | 'upload', readonly error: unknown) {
    super(`${step} failed`);
  }
}

export interface BoundedScratchOptions {
  /**
   * Paths (manifest paths) whose local copy stays after upload: `register` reads them from the
   * download directory. @default - none
   */
  readonly keep?: readonly string[];
}

export interface OverlappedTransferOptions {
  readonly download: DownloadModelOptions;
  /** `source` must be the download's `dest`. */
  readonly upload: UploadModelOptions;
  /** Delete each file once it is in S3 and verified; see the file comment. @default - keep every file */
  readonly boundedScratch?: BoundedScratchOptions;
  /** Filled with the download's own numbers once it finished. */
  readonly downloadStats?: { value?: DownloadStats };
}

export interface OverlappedTransferResult {
  readonly manifest: Manifest;
  readonly upload: UploadResult;
  /** With a bounded scratch: the most files on disk at once. */
  readonly peakFilesOnDisk?: number;
  /** Wall time from the Hub check to the last object in S3. */
  readonly seconds: number;
}

/** Downloads and uploads one model at once; rejects with a StepFailure naming the side that failed. */
export async function transferOverlapped(opts: OverlappedTransferOptions): Promise<OverlappedTransferResult> {
  const { download, upload } = opts;
  const started = Date.now();
  const stop = new AbortController();
  // Which side failed on its own (the other side then fails too, because of it).
  let firstFailure: 'download' | 'upload' | undefined;
  // A --deadline stops both sides; the download's error says how far it got.
  const deadline = download.signal;
  const onDeadline = () => {
    firstFailure ??= 'download';
    stop.abort(deadline?.reason);
  };
  if (deadline?.aborted) onDeadline();
  else deadline?.addEventListener('abort', onDeadline, { once: true });
  const failed = (side: 'download' | 'upload') => (e: unknown): never => {
    firstFailure ??= side;
    if (!stop.signal.aborted) stop.abort(e);
    throw e;
  };

  // Bounded scratch: one S3 client for the lookup (the upload's own, or one made like it).
  const bounded = opts.boundedScratch;
  let ownClient: S3Client | undefined;
  const s3 = (): S3Client => upload.client ?? (ownClient ??= createS3Client(resolveS3Config({ endpoint: upload.endpoint, region: upload.region })));
  const loc = typeof upload.dest === 'string' ? parseS3Uri(upload.dest) : upload.dest;
  const slots = bounded ? new ScratchSlots(Math.max(1, Math.floor(download.concurrency ?? 4))) : undefined;
  const kept = new Set(bounded?.keep ?? []);
  const dest = path.resolve(download.dest);

  let planned!: (plan: DownloadPlan) => void;
  const planning = new Promise<DownloadPlan>((resolve) => { planned = resolve; });
  // Two bars on one terminal would overwrite each other: the upload's is the end-to-end one.
  const quietDownload: ProgressMode | undefined = process.stderr.isTTY ? 'none' : undefined;
  try {
    const downloading = downloadModel({
      ...download,
      progress: quietDownload,
      // The Argo UI shows one N/M: the upload's, which follows each file from download to S3.
      argoProgress: false,
      signal: stop.signal,
      onPlan: (p) => planned(p),
      ...(bounded && slots ? {
        scratch: slots,
        // Kept files are always fetched: a rerun in another work dir must have them locally too.
        alreadyStored: (files, source) => findStoredObjects({
          client: s3(), loc, files: files.filter((f) => !kept.has(f.path)), commitSha: source.commitSha,
          keyOf: (rel) => joinKey(loc.prefix, upload.keyFor ? upload.keyFor(rel) : rel),
        }),
      } : {}),
    }, opts.downloadStats).catch(failed('download'));
    // The plan comes before any byte moves; a download that fails earlier never plans.
    let plan: DownloadPlan;
    try {
      plan = await Promise.race([planning, downloading.then(() => { throw new Error('download finished without a plan'); })]);
    } catch (e) {
      throw new StepFailure('download', e);
    }
    const uploading = uploadModel({
      ...upload,
      signal: stop.signal,
      pending: {
        repo: plan.repo,
        commitSha: plan.commitSha,
        // The plan is the upload's PendingFiles: it makes a GrowingFile only for a file in flight.
        files: plan,
        manifest: downloading,
        ...(slots ? {
          onStored: async (i, growing) => {
            // The GrowingFile's path is the plan's destPath, the key the slot was taken by.
            const rel = plan.path(i);
            if (kept.has(rel)) return slots.release(growing.path, { keepFile: true });
            await slots.release(growing.path);
            log.debug(`stored in S3, local copy deleted: ${rel}`);
          },
        } : {}),
      },
    }).catch((e) => {
      // A download failure reaches the upload through the files it waits on: not the upload's fault.
      if (firstFailure === 'download' || plan.hasFailed) {
        firstFailure ??= 'download';
        throw e;
      }
      return failed('upload')(e);
    });
    const [d, u] = await Promise.allSettled([downloading, uploading]);
    if (firstFailure === 'upload' && u.status === 'rejected') throw new StepFailure('upload', u.reason);
    if (d.status === 'rejected') throw new StepFailure('download', d.reason);
    if (u.status === 'rejected') throw new StepFailure('upload', u.reason);
    if (slots) log.info(`bounded scratch: at most ${slots.peak} files were on disk at once in ${dest}`);
    const seconds = (Date.now() - started) / 1000;
    log.info(`transferred ${download.modelId}: download and upload overlapped`, { seconds: Number(seconds.toFixed(1)) });
    return {
      seconds,
      manifest: (d as PromiseFulfilledResult<Manifest>).value,
      upload: (u as PromiseFulfilledResult<UploadResult>).value,
      ...(slots ? { peakFilesOnDisk: slots.peak } : {}),
    };
  } finally {
    deadline?.removeEventListener('abort', onDeadline);
    ownClient?.destroy();
  }
}
