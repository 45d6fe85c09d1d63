// Uploads one local file to S3 with @aws-sdk/lib-storage's Upload, streamed from disk.
//  - memory is bounded by partSize * queueSize (parts are buffered by lib-storage), whatever the
//    file size; partSize grows only when needed to stay under S3's 10,000-part limit;
//  - small files go as one PutObject (appears atomically); big ones as multipart (appears only at
//    CompleteMultipartUpload). On any failure the multipart upload is aborted explicitly once
//    in-flight parts settle, so no half object and no orphan parts are left;
//  - the bytes are sha256-hashed as they are read; if they differ from the manifest (file changed
//    since download) the new object is deleted and the upload fails with ExitCode.Integrity.
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { ExitCode, UserError } from '../common/errors';
import { ContentHasher } from '../common/hash';
import { log } from '../common/log';

export const MiB = 1024 * 1024;
/** Default (and minimum) part size. S3's own minimum is 5 MiB. */
export const MIN_PART_SIZE = 16 * MiB;
/** Parts we aim to stay under (S3 allows 10,000; the margin absorbs rounding). */
export const TARGET_MAX_PARTS = 9000;
export const S3_MAX_PARTS = 10_000;
export const S3_MAX_PART_SIZE = 5 * 1024 * MiB;
export const S3_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MiB;

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

export interface UploadFileOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly filePath: string;
  readonly size: number;
  /** Expected sha256 (hex) of the file; stored as x-amz-meta-sha256 and checked while reading. */
  readonly sha256: string;
  /** Extra user metadata (x-amz-meta-*), ASCII values. */
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
  /** @default choosePartSize(size) */
  readonly partSize?: number;
  /** Parts in flight for this file. @default 4 */
  readonly queueSize?: number;
  readonly onProgress?: (deltaBytes: number) => void;
  readonly signal?: AbortSignal;
}

export interface UploadFileResult {
  readonly key: string;
  readonly size: number;
  readonly multipart: boolean;
  readonly etag?: string;
}

type Send = S3Client['send'];

export async function uploadFile(opts: UploadFileOptions): Promise<UploadFileResult> {
  const partSize = opts.partSize ?? choosePartSize(opts.size);
  const queueSize = Math.max(1, opts.queueSize ?? 4);
  const hasher = new ContentHasher();
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      cb(null, chunk);
    },
  });
  const source = createReadStream(opts.filePath, { highWaterMark: MiB });
  source.on('error', (e) => hashing.destroy(e));
  source.pipe(hashing);

  // A thin client wrapper: remembers the first failure, stops new requests after it, tracks
  // in-flight ones, and records the UploadId, so the multipart upload can be aborted cleanly.
  const controller = new AbortController();
  const inflight = new Set<Promise<unknown>>();
  let firstError: { error: unknown } | undefined;
  let uploadId: string | undefined;
  const send = (async (command: Parameters<Send>[0], ...rest: unknown[]) => {
    if (firstError && !(command instanceof AbortMultipartUploadCommand)) throw firstError.error;
    const p = (opts.client.send as (...a: unknown[]) => Promise<unknown>).call(opts.client, command, ...rest);
    inflight.add(p);
    try {
      const out = await p;
      if (command instanceof CreateMultipartUploadCommand) uploadId = (out as { UploadId?: string }).UploadId;
      return out;
    } catch (e) {
      if (!firstError && !(command instanceof AbortMultipartUploadCommand)) {
        firstError = { error: e };
        controller.abort();
      }
      throw e;
    } finally {
      inflight.delete(p);
    }
  }) as Send;
  const client = { config: opts.client.config, send } as unknown as S3Client;
  const onParentAbort = () => {
    if (!firstError) firstError = { error: opts.signal!.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' }) };
    controller.abort();
  };
  if (opts.signal?.aborted) onParentAbort();
  opts.signal?.addEventListener('abort', onParentAbort, { once: true });

  const upload = new Upload({
    client,
    params: {
      Bucket: opts.bucket,
      Key: opts.key,
      Body: hashing,
      ContentLength: opts.size,
      ContentType: opts.contentType ?? 'application/octet-stream',
      Metadata: { ...opts.metadata, sha256: opts.sha256 },
    },
    partSize,
    queueSize,
    leavePartsOnError: false,
    abortController: controller,
  });
  let reported = 0;
  upload.on('httpUploadProgress', (p) => {
    const loaded = Math.min(opts.size, p.loaded ?? 0);
    if (loaded > reported) {
      opts.onProgress?.(loaded - reported);
      reported = loaded;
    }
  });

  let result: { ETag?: string };
  try {
    result = await upload.done();
  } catch (e) {
    const error = firstError?.error ?? e;
    source.destroy();
    hashing.destroy();
    // Wait for parts still in flight, then abort: an abort racing a part upload can leave it behind.
    while (inflight.size) await Promise.allSettled([...inflight]);
    const id = uploadId ?? upload.uploadId;
    if (id) {
      try {
        await opts.client.send(new AbortMultipartUploadCommand({ Bucket: opts.bucket, Key: opts.key, UploadId: id }));
      } catch (abortErr) {
        if ((abortErr as Error).name !== 'NoSuchUpload') {
          log.warn(`could not abort multipart upload of s3://${opts.bucket}/${opts.key}; a lifecycle rule should clean it up`, { uploadId: id, error: (abortErr as Error).message });
        }
      }
    }
    if (reported) opts.onProgress?.(-reported);
    throw error;
  } finally {
    opts.signal?.removeEventListener('abort', onParentAbort);
  }
  if (reported < opts.size) opts.onProgress?.(opts.size - reported);

  const digest = hasher.digest();
  if (digest.size !== opts.size || digest.sha256 !== opts.sha256) {
    await opts.client.send(new DeleteObjectCommand({ Bucket: opts.bucket, Key: opts.key })).catch(() => undefined);
    throw new UserError(`${opts.filePath} changed since it was downloaded (size ${digest.size}, sha256 ${digest.sha256.slice(0, 12)}…; the manifest says ${opts.size}, ${opts.sha256.slice(0, 12)}…)`, {
      exitCode: ExitCode.Integrity,
      hint: 'Rerun `model-mirror download` into the same --dest (it re-verifies and repairs files), then upload again.',
    });
  }
  return { key: opts.key, size: opts.size, multipart: !!(uploadId ?? upload.uploadId), etag: result.ETag };
}
