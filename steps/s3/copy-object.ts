// Server-side copies inside the artifact store: the bytes never leave the S3 server. Objects up
// to 5 GiB with one CopyObject; bigger ones with a multipart upload of UploadPartCopy ranges
// (S3's limit for a single copy is 5 GiB). Metadata (x-amz-meta-sha256 ...) is kept.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand,
  HeadObjectCommand, type S3Client, UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { mapLimit } from '../common/retry';
import { parseS3Uri } from '../mlflow/artifacts';
import { ExitCode, UserError } from '../common/errors';
import { endpointLabelOf, NO_ENDPOINT_LABEL } from './client';
import { toS3UserError } from './errors';

export const GiB = 1024 ** 3;
/** S3's limit for CopyObject. */
export const MAX_SINGLE_COPY = 5 * GiB;

export interface CopyOptions {
  /** Size of the source (HeadObject is used when not given). */
  readonly size?: number;
  /** Use multipart UploadPartCopy above this size. @default 5 GiB */
  readonly multipartThreshold?: number;
  /** @default 512 MiB */
  readonly partSize?: number;
  /** Part copies in flight. @default 4 */
  readonly concurrency?: number;
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Copies `from` to `to` (both s3:// URIs) on the server. Returns the bytes copied. */
export async function copyS3Object(s3: S3Client, from: string, to: string, opts: CopyOptions = {}): Promise<number> {
  const src = parseS3Uri(from);
  const dst = parseS3Uri(to);
  const endpoint = endpointLabelOf(s3);
  let size = opts.size;
  let metadata: Record<string, string> | undefined;
  let contentType: string | undefined;
  try {
    if (size === undefined) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: src.bucket, Key: src.key }));
      size = Number(head.ContentLength ?? 0);
      metadata = head.Metadata;
      contentType = head.ContentType;
    }
    const threshold = Math.min(opts.multipartThreshold ?? MAX_SINGLE_COPY, MAX_SINGLE_COPY);
    if (size <= threshold) {
      await s3.send(new CopyObjectCommand({ Bucket: dst.bucket, Key: dst.key, CopySource: copySource(src.bucket, src.key), MetadataDirective: 'COPY' }));
      return size;
    }
    if (!metadata) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: src.bucket, Key: src.key }));
      metadata = head.Metadata;
      contentType = head.ContentType;
    }
    const partSize = Math.max(5 * 1024 ** 2, opts.partSize ?? 512 * 1024 ** 2);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, Metadata: metadata, ContentType: contentType }));
    const ranges: Array<{ n: number; start: number; end: number }> = [];
    for (let start = 0, n = 1; start < size; start += partSize, n++) ranges.push({ n, start, end: Math.min(size, start + partSize) - 1 });
    try {
      const parts = await mapLimit(ranges, Math.max(1, opts.concurrency ?? 4), async (r) => {
        const res = await s3.send(new UploadPartCopyCommand({
          Bucket: dst.bucket, Key: dst.key, UploadId, PartNumber: r.n,
          CopySource: copySource(src.bucket, src.key), CopySourceRange: `bytes=${r.start}-${r.end}`,
        }));
        return { PartNumber: r.n, ETag: res.CopyPartResult?.ETag };
      });
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId })).catch(() => undefined);
      throw e;
    }
    return size;
  } catch (e) {
    const name = (e as { name?: string; Code?: string }).Code ?? (e as Error).name;
    if (name === 'NoSuchKey' || name === 'NotFound' || (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
      throw new UserError(`Cannot copy ${from} to ${to} at ${endpoint ?? NO_ENDPOINT_LABEL}: the source object does not exist`, {
        exitCode: ExitCode.NotFound,
        cause: e,
        hint: 'Re-run upload for this run: the model directory must hold every file of the manifest.',
      });
    }
    throw toS3UserError(e, { endpoint, bucket: dst.bucket, key: `${dst.key} (copy of s3://${src.bucket}/${src.key})` });
  }
}
