// Uploads one local file to S3 with our own multipart upload, streamed from disk: no part is ever
// held in memory.
//  - small files (<= one part) go as one PutObject; big ones as CreateMultipartUpload, UploadPart
//    (the body is a read stream of the part's byte range, with an explicit Content-Length), then
//    CompleteMultipartUpload, so the object appears only when it is whole;
//  - every UploadPart/PutObject takes a slot of a PartBudget, which uploadModel shares between all
//    files: memory and sockets are bounded by the budget, not by files x parts;
//  - integrity: the file must match the manifest's sha256. Parts are read in parallel, so a
//    separate sequential read hashes the file alongside the part uploads (the page cache makes the
//    second read cheap); Complete happens only once it matched. Callers that already hold verified
//    digests (an overlapped download) pass them instead and the pass is skipped;
//  - resume: before creating an upload, the open multipart uploads of the key are listed; parts
//    whose number and size fit the planned layout and whose ETag is the MD5 of the local byte range
//    are reused, only the missing parts are sent. After Complete the object's metadata is checked
//    (it was set by whichever run created the upload); on a mismatch the object is redone;
//  - failures: on transient errors or an abort signal the multipart upload is left open, so the
//    next in-process retry or a rerun after SIGKILL resumes it. It is aborted only on permanent
//    failures: integrity mismatch, the file restarted by the download, S3 refusing the request
//    (non-retryable). A lifecycle rule (AbortIncompleteMultipartUpload) cleans up uploads that no
//    run ever resumes.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createReadStream, promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { ExitCode, UserError } from '../common/errors';
import { GrowingFileReset } from '../common/growing-file';
import { hashFile, type Digests } from '../common/hash';
import { log } from '../common/log';
import { withRetry, type RetryOptions } from '../common/retry';
import { isRetryableS3Error, s3ErrorName, s3Status, describeS3Error } from './errors';
import { abortReason, untilAborted } from '../common/abort';
import { PartBudget } from './part-budget';
import { abortUpload, listOpenUploads, listUploadedParts, md5Of, normalizeEtag, type ExistingPart } from './resume-multipart';

export const MiB = 1024 * 1024;
/** Default (and minimum) part size. S3's own minimum is 5 MiB. */
export const MIN_PART_SIZE = 16 * MiB;
/** Parts we aim to stay under (S3 allows 10,000; the margin absorbs rounding). */
export const TARGET_MAX_PARTS = 9000;
export const S3_MAX_PARTS = 10_000;
export const S3_MAX_PART_SIZE = 5 * 1024 * MiB;
export const S3_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;
/** Read size of the part streams: big enough for few syscalls, small enough x budget. */
export const READ_CHUNK = 256 * 1024;
/** Parts of one file waiting for their bytes or a budget slot at once (1 GiB at 16 MiB parts). */
const PART_LOOKAHEAD = 64;

/** Part size for a file of `size` bytes: max(16 MiB, ceil(size / 9000)), rounded up to a MiB. */
export function choosePartSize(size: number, minPartSize: number = MIN_PART_SIZE): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
  if (size > S3_MAX_OBJECT_SIZE) {
    throw new UserError(`A ${size}-byte file is larger than S3's 5 TiB object limit`, { exitCode: ExitCode.Usage });
  }
  const needed = Math.ceil(size / TARGET_MAX_PARTS);
  return Math.min(S3_MAX_PART_SIZE, Math.ceil(Math.max(minPartSize, needed) / MiB) * MiB);
}

export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

/** Where a file's bytes come from: a finished local file, or a GrowingFile still being written. */
export interface FileBytes {
  /** Resolves once bytes [0, end) can be read. */
  waitFor(end: number, signal?: AbortSignal): Promise<void>;
  /** Resolves once bytes [start, end) can be read (not necessarily those before them). */
  waitForRange(start: number, end: number, signal?: AbortSignal): Promise<void>;
  /** Bytes [start, end), `end` exclusive. */
  openRange(start: number, end: number): Promise<Readable>;
  /** Changes when the bytes read so far become void (the download restarted the file). */
  readonly generation: number;
}

/** A file that is complete on disk. */
export function localFileBytes(filePath: string): FileBytes {
  return {
    generation: 0,
    waitFor: () => Promise.resolve(),
    waitForRange: () => Promise.resolve(),
    openRange: async (start, end) => {
      // Open first so a missing file fails here, not as a stream error mid-request.
      const fh = await fs.open(filePath, 'r');
      return createReadStream('', { fd: fh, start, end: end - 1, highWaterMark: READ_CHUNK, autoClose: true });
    },
  };
}

/** Parts this process sent for one object, kept across in-process retries (for resume and accounting). */
export interface SentParts {
  uploadId?: string;
  /** part number -> ETag (hex). */
  readonly etags: Map<number, string>;
}

export interface UploadFileOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly filePath: string;
  readonly size: number;
  /** Expected sha256 (hex) of the file; stored as x-amz-meta-sha256 and checked before Complete. */
  readonly sha256: string;
  /** Extra user metadata (x-amz-meta-*), ASCII values. */
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
  /** @default choosePartSize(size) */
  readonly partSize?: number;
  /** Shared budget of requests with a body in flight. @default a budget of `queueSize` for this file alone */
  readonly budget?: PartBudget;
  /** Parts in flight when no `budget` is given. @default 4 */
  readonly queueSize?: number;
  /** @default localFileBytes(filePath) */
  readonly bytes?: FileBytes;
  /**
   * Digests of these bytes already verified by someone else (the download). When absent the file
   * is hashed here, in one sequential read alongside the part uploads.
   */
  readonly verified?: Promise<Digests>;
  /** Do not look for an open multipart upload to resume. */
  readonly noResume?: boolean;
  /** Shared between retries of the same object; see SentParts. */
  readonly sent?: SentParts;
  /** Retries of one part/PutObject (a stream body cannot be replayed by the SDK's own retries). */
  readonly requestRetry?: RetryOptions;
  /** `transferred: false` for parts reused from an earlier run; negative deltas undo. */
  readonly onProgress?: (deltaBytes: number, opts?: { transferred?: boolean }) => void;
  readonly signal?: AbortSignal;
}

export interface UploadFileResult {
  readonly key: string;
  readonly size: number;
  readonly multipart: boolean;
  readonly etag?: string;
  /** Bytes this process sent (including parts sent by an earlier in-process attempt). */
  readonly bytesSent: number;
  /** Bytes of parts an earlier run left in an open multipart upload, reused as they were. */
  readonly bytesResumed: number;
}

export async function uploadFile(opts: UploadFileOptions): Promise<UploadFileResult> {
  const partSize = opts.partSize ?? choosePartSize(opts.size);
  const budget = opts.budget ?? new PartBudget(Math.max(1, opts.queueSize ?? 4));
  const bytes = opts.bytes ?? localFileBytes(opts.filePath);
  const sent = opts.sent ?? { etags: new Map<number, string>() };
  const ctx: Ctx = { ...opts, partSize, budget, bytes, sent };
  if (opts.size <= partSize) return putSmall(ctx);
  if (partCount(opts.size, partSize) > S3_MAX_PARTS) {
    throw new UserError(`Part size ${partSize} bytes gives more than ${S3_MAX_PARTS} parts for ${opts.filePath}`, { exitCode: ExitCode.Usage, hint: 'Use a larger --part-size-mib, or leave it at the default.' });
  }
  return putMultipart(ctx);
}

type Ctx = UploadFileOptions & { readonly partSize: number; readonly budget: PartBudget; readonly bytes: FileBytes; readonly sent: SentParts };

/** A signal that aborts with the parent and on `abort(reason)`. */
function childController(parent?: AbortSignal): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(abortReason(parent!));
  if (parent?.aborted) onAbort();
  parent?.addEventListener('abort', onAbort, { once: true });
  return { controller, dispose: () => parent?.removeEventListener('abort', onAbort) };
}


/** The digests to check before the object becomes visible: given, or one sequential read now. */
function startIntegrity(ctx: Ctx, signal: AbortSignal): Promise<Digests> {
  const p = ctx.verified ?? hashFile(ctx.filePath, { signal });
  p.catch(() => undefined); // awaited later, or not at all when the upload fails first
  return p;
}

class IntegrityError extends UserError {}

function checkDigests(ctx: Ctx, d: Digests): void {
  if (d.size === ctx.size && d.sha256 === ctx.sha256) return;
  const what = ctx.verified ? 'was downloaded with different bytes than expected' : 'changed since it was downloaded';
  throw new IntegrityError(`${ctx.filePath} ${what} (size ${d.size}, sha256 ${d.sha256.slice(0, 12)}…; the manifest says ${ctx.size}, ${ctx.sha256.slice(0, 12)}…)`, {
    exitCode: ExitCode.Integrity,
    hint: 'Rerun `model-mirror download` into the same --dest (it re-verifies and repairs files), then upload again.',
  });
}

/**
 * One request whose body is read from disk. The SDK does not retry a stream body (it cannot
 * replay it), so retries are ours, each with a fresh stream. A read error fails the request at once
 * instead of leaving it waiting for bytes that never come.
 */
async function sendWithBody<T>(ctx: Ctx, send: (body: Readable | Uint8Array, abortSignal: AbortSignal) => Promise<T>, open: () => Promise<Readable | Uint8Array>, signal: AbortSignal): Promise<T> {
  return withRetry(async () => {
    const body = await open();
    const { controller, dispose } = childController(signal);
    let readError: unknown;
    const stream = body as Readable;
    if (typeof stream.once === 'function') {
      stream.once('error', (e) => {
        readError = e;
        controller.abort(e);
      });
    }
    try {
      return await send(body, controller.signal);
    } catch (e) {
      throw readError ?? e;
    } finally {
      dispose();
      if (typeof stream.destroy === 'function') stream.destroy();
    }
  }, {
    retries: 4,
    baseDelayMs: 250,
    maxDelayMs: 5_000,
    isRetryable: isRetryableS3Error,
    onRetry: (i) => log.debug(`retrying a request for s3://${ctx.bucket}/${ctx.key}`, { error: describeS3Error(i.error), attempt: i.attempt }),
    ...ctx.requestRetry,
    signal,
  });
}

const EMPTY = new Uint8Array(0);

async function putSmall(ctx: Ctx): Promise<UploadFileResult> {
  const { controller, dispose } = childController(ctx.signal);
  const signal = controller.signal;
  const integrity = startIntegrity(ctx, signal);
  let reported = 0;
  try {
    if (ctx.size > 0) await ctx.bytes.waitFor(ctx.size, signal);
    const generation = ctx.bytes.generation;
    const out = await ctx.budget.run(() => sendWithBody(
      ctx,
      (body, abortSignal) => ctx.client.send(new PutObjectCommand({
        Bucket: ctx.bucket,
        Key: ctx.key,
        Body: body,
        ContentLength: ctx.size,
        ContentType: ctx.contentType ?? 'application/octet-stream',
        Metadata: { ...ctx.metadata, sha256: ctx.sha256 },
      }), { abortSignal }),
      () => (ctx.size > 0 ? ctx.bytes.openRange(0, ctx.size) : Promise.resolve(EMPTY)),
      signal,
    ), signal);
    ctx.onProgress?.(ctx.size);
    reported = ctx.size;
    let digests: Digests;
    try {
      digests = await untilAborted(integrity, signal);
      if (ctx.bytes.generation !== generation) throw new GrowingFileReset(ctx.filePath);
      checkDigests(ctx, digests);
    } catch (e) {
      // The object is already visible: take it away again (unless we were merely interrupted).
      if (!signal.aborted) await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.key })).catch(() => undefined);
      throw e;
    }
    return { key: ctx.key, size: ctx.size, multipart: false, etag: out.ETag, bytesSent: ctx.size, bytesResumed: 0 };
  } catch (e) {
    controller.abort(e);
    if (reported) ctx.onProgress?.(-reported);
    throw e;
  } finally {
    dispose();
  }
}

/** Failures after which the open multipart upload is useless and is aborted. */
function isPermanentFailure(e: unknown, parent?: AbortSignal): boolean {
  if (parent?.aborted) return false;
  if (e instanceof IntegrityError || e instanceof GrowingFileReset) return true;
  // S3 itself refused (AccessDenied, InvalidPart, EntityTooSmall...): a retry would not help.
  return s3Status(e) !== undefined && !isRetryableS3Error(e);
}

interface PlannedPart {
  readonly number: number;
  readonly start: number;
  readonly end: number;
}

/**
 * An open upload of this key worth resuming, after aborting every other (stale) one. Worth it means
 * its first part that fits the planned layout holds the local bytes (MD5 = ETag); the other parts
 * are checked as they come up. An upload holding only foreign bytes is aborted rather than
 * completed and then redone for its metadata.
 */
interface Resumable {
  readonly uploadId: string;
  readonly parts: Map<number, ExistingPart>;
  /** The part already checked against the local bytes. */
  readonly checked: number;
}

async function findResumable(ctx: Ctx, layout: readonly PlannedPart[], signal: AbortSignal): Promise<Resumable | undefined> {
  let open;
  try {
    open = await listOpenUploads(ctx.client, ctx.bucket, ctx.key, signal);
  } catch (e) {
    if (s3ErrorName(e) === 'AccessDenied' || s3Status(e) === 403 || s3Status(e) === 501) {
      log.debug(`cannot list multipart uploads of s3://${ctx.bucket}/${ctx.key}; not resuming`, { error: s3ErrorName(e) });
      return undefined;
    }
    throw e;
  }
  let chosen: Resumable | undefined;
  for (const u of open) {
    if (!chosen) {
      const parts = await listUploadedParts(ctx.client, ctx.bucket, ctx.key, u.uploadId, signal);
      const first = layout.find((p) => parts.get(p.number)?.size === p.end - p.start);
      if (first) {
        // For a file still being downloaded this waits until that part is on disk.
        await ctx.bytes.waitFor(first.end, signal);
        if (await md5Of(await ctx.bytes.openRange(first.start, first.end)) === parts.get(first.number)!.etag) {
          chosen = { uploadId: u.uploadId, parts, checked: first.number };
          continue;
        }
      }
    }
    log.debug(`aborting a stale multipart upload of s3://${ctx.bucket}/${ctx.key}`, { uploadId: u.uploadId });
    await abortUpload(ctx.client, ctx.bucket, ctx.key, u.uploadId);
  }
  return chosen;
}

async function putMultipart(ctx: Ctx): Promise<UploadFileResult> {
  const n = partCount(ctx.size, ctx.partSize);
  const layout: PlannedPart[] = Array.from({ length: n }, (_, i) => ({ number: i + 1, start: i * ctx.partSize, end: Math.min(ctx.size, (i + 1) * ctx.partSize) }));
  const metadata = { ...ctx.metadata, sha256: ctx.sha256 };
  const { controller, dispose } = childController(ctx.signal);
  const signal = controller.signal;
  const generation = ctx.bytes.generation;
  const integrity = startIntegrity(ctx, signal);

  let uploadId: string | undefined;
  let resumed = false;
  let reported = 0;
  const progress = (delta: number, transferred = true) => {
    reported += delta;
    ctx.onProgress?.(delta, { transferred });
  };
  // Part tasks in flight (waiting for bytes, a budget slot, or S3).
  const running = new Set<Promise<void>>();
  let firstError: { error: unknown } | undefined;
  const fail = (e: unknown) => {
    if (!firstError) {
      firstError = { error: e };
      controller.abort(e);
    }
  };
  try {
    const found = ctx.noResume ? undefined : await findResumable(ctx, layout, signal);
    let existing = new Map<number, ExistingPart>();
    let checked = 0;
    if (found) {
      checked = found.checked;
      uploadId = found.uploadId;
      existing = found.parts;
      resumed = true;
      log.debug(`resuming the multipart upload of s3://${ctx.bucket}/${ctx.key}`, { uploadId, partsThere: existing.size });
    } else {
      const created = await ctx.client.send(new CreateMultipartUploadCommand({
        Bucket: ctx.bucket,
        Key: ctx.key,
        ContentType: ctx.contentType ?? 'application/octet-stream',
        Metadata: metadata,
      }), { abortSignal: signal });
      if (!created.UploadId) throw new Error(`S3 returned no UploadId for s3://${ctx.bucket}/${ctx.key}`);
      uploadId = created.UploadId;
    }
    if (ctx.sent.uploadId !== uploadId) {
      ctx.sent.uploadId = uploadId;
      ctx.sent.etags.clear();
    }
    const id = uploadId;

    const etags = new Array<string>(n);
    let bytesSent = 0;
    let bytesResumed = 0;
    const onePart = async (p: PlannedPart): Promise<void> => {
      const len = p.end - p.start;
      const there = existing.get(p.number);
      if (there && there.size === len) {
        if (ctx.sent.etags.get(p.number) === there.etag) {
          // Sent by an earlier attempt of this process: already counted as sent.
          etags[p.number - 1] = there.etag;
          bytesSent += len;
          progress(len);
          return;
        }
        const md5 = p.number === checked ? there.etag : await md5Of(await ctx.bytes.openRange(p.start, p.end));
        if (ctx.bytes.generation !== generation) throw new GrowingFileReset(ctx.filePath);
        if (md5 === there.etag) {
          etags[p.number - 1] = there.etag;
          bytesResumed += len;
          progress(len, false);
          return;
        }
      }
      const out = await sendWithBody(
        ctx,
        (body, abortSignal) => ctx.client.send(new UploadPartCommand({
          Bucket: ctx.bucket, Key: ctx.key, UploadId: id, PartNumber: p.number, Body: body, ContentLength: len,
        }), { abortSignal }),
        () => ctx.bytes.openRange(p.start, p.end),
        signal,
      );
      if (ctx.bytes.generation !== generation) throw new GrowingFileReset(ctx.filePath);
      if (!out.ETag) throw new Error(`S3 returned no ETag for part ${p.number} of s3://${ctx.bucket}/${ctx.key}`);
      const etag = normalizeEtag(out.ETag);
      ctx.sent.etags.set(p.number, etag);
      etags[p.number - 1] = etag;
      bytesSent += len;
      progress(len);
    };

    // A part starts once its bytes are on disk (at once for a finished file; a ranged download
    // fills several chunks at the same time, so not necessarily in order) and a budget slot frees
    // up; waiting for bytes does not hold a slot. At most PART_LOOKAHEAD parts of a file wait at
    // once, so a huge file costs no more than that.
    let next = 0;
    while (!firstError && (next < n || running.size)) {
      while (!firstError && next < n && running.size < PART_LOOKAHEAD) {
        const p = layout[next++];
        const task = (async () => {
          await ctx.bytes.waitForRange(p.start, p.end, signal);
          const release = await ctx.budget.acquire(signal);
          try {
            await onePart(p);
          } finally {
            release();
          }
        })().catch(fail);
        running.add(task);
        void task.finally(() => running.delete(task));
      }
      if (running.size) await Promise.race(running);
    }
    await Promise.all(running); // after a failure: the others stop (aborted) before we go on
    if (firstError) throw firstError.error;

    checkDigests(ctx, await untilAborted(integrity, signal));
    if (ctx.bytes.generation !== generation) throw new GrowingFileReset(ctx.filePath);

    let etag: string | undefined;
    try {
      const done = await ctx.client.send(new CompleteMultipartUploadCommand({
        Bucket: ctx.bucket,
        Key: ctx.key,
        UploadId: id,
        MultipartUpload: { Parts: etags.map((e, i) => ({ ETag: `"${e}"`, PartNumber: i + 1 })) },
      }), { abortSignal: signal });
      etag = done.ETag;
    } catch (e) {
      // A retried Complete whose first attempt went through: the upload is gone, the object is there.
      if (s3ErrorName(e) !== 'NoSuchUpload' || !(await hasOurMetadata(ctx, metadata))) throw e;
    }
    uploadId = undefined; // completed: nothing left to abort

    if (resumed && !(await hasOurMetadata(ctx, metadata))) {
      // The upload was created by another run, with other metadata: redo it from scratch.
      log.warn(`s3://${ctx.bucket}/${ctx.key} was resumed from an upload with different metadata; uploading it again`);
      await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.key }));
      progress(-reported);
      const again = await uploadFile({ ...ctx, noResume: true });
      return { ...again, bytesSent: again.bytesSent + bytesSent, bytesResumed: 0 };
    }
    return { key: ctx.key, size: ctx.size, multipart: true, etag, bytesSent, bytesResumed };
  } catch (e) {
    fail(e);
    await Promise.allSettled(running);
    const error = firstError!.error;
    if (uploadId && isPermanentFailure(error, ctx.signal)) {
      await abortUpload(ctx.client, ctx.bucket, ctx.key, uploadId);
      ctx.sent.etags.clear();
    }
    if (reported) ctx.onProgress?.(-reported);
    throw error;
  } finally {
    dispose();
  }
}

/** HeadObject: size and every metadata entry we set are there. */
async function hasOurMetadata(ctx: Ctx, metadata: Record<string, string>): Promise<boolean> {
  const head = await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: ctx.key }));
  if (head.ContentLength !== ctx.size) return false;
  return Object.entries(metadata).every(([k, v]) => head.Metadata?.[k.toLowerCase()] === v);
}
