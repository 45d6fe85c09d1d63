// Objects under an S3 prefix: listing (count and bytes), and deleting them with a report of what
// is left when a delete fails part way.
import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { parseS3Uri, s3Error } from '../mlflow/artifacts';
import { endpointLabelOf } from '../s3/client';

export interface PrefixContents {
  /** s3://bucket/prefix/ (always with the trailing slash: `…/1` must not match `…/10`). */
  readonly uri: string;
  readonly objects: number;
  readonly bytes: number;
  readonly keys: readonly string[];
  /** Multipart uploads left open under the prefix (an interrupted upload). */
  readonly openUploads: readonly { key: string; uploadId: string }[];
}

/** `s3://b/a/b` -> `s3://b/a/b/`. */
export function prefixUri(uri: string): string {
  return uri.replace(/\/+$/, '') + '/';
}

/** Whether two prefixes overlap (one holds the other). */
export function prefixesOverlap(a: string, b: string): boolean {
  const pa = prefixUri(a);
  const pb = prefixUri(b);
  return pa.startsWith(pb) || pb.startsWith(pa);
}

export async function listPrefix(s3: S3Client, uri: string): Promise<PrefixContents> {
  const full = prefixUri(uri);
  const { bucket, key } = parseS3Uri(full);
  const prefix = key ? `${key}/` : '';
  const keys: string[] = [];
  let bytes = 0;
  const openUploads: { key: string; uploadId: string }[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        keys.push(o.Key!);
        bytes += Number(o.Size ?? 0);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    do {
      const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadMarker }));
      for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) openUploads.push({ key: u.Key, uploadId: u.UploadId });
      const more = page.IsTruncated && (page.NextKeyMarker || page.NextUploadIdMarker);
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker || uploadMarker);
  } catch (e) {
    throw s3Error(e, 'list', full, endpointLabelOf(s3));
  }
  return { uri: full, objects: keys.length, bytes, keys, openUploads };
}

/**
 * Deletes every object (and open multipart upload) the listing found. A failure part way is a
 * UserError naming the prefix that still holds objects, so a rerun (or `cleanup --orphans`) can
 * finish it.
 */
export async function deletePrefix(s3: S3Client, contents: PrefixContents): Promise<{ objects: number; bytes: number }> {
  const { bucket } = parseS3Uri(contents.uri);
  let deleted = 0;
  try {
    for (let i = 0; i < contents.keys.length; i += 1000) {
      const batch = contents.keys.slice(i, i + 1000);
      const res = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      if (res.Errors?.length) {
        const first = res.Errors[0];
        throw Object.assign(new Error(`${res.Errors.length} of ${batch.length} objects not deleted, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`), { name: first.Code ?? 'DeleteError' });
      }
      deleted += batch.length;
    }
    for (const u of contents.openUploads) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.key, UploadId: u.uploadId }));
    }
  } catch (e) {
    const cause = s3Error(e, 'delete objects under', contents.uri, endpointLabelOf(s3));
    throw new UserError(`Deleting ${contents.uri} stopped after ${deleted} of ${contents.objects} objects: ${cause.message}`, {
      exitCode: cause.exitCode === ExitCode.NotFound ? ExitCode.Unavailable : cause.exitCode,
      hint: `The registry no longer points at ${contents.uri}; the objects left there are removed by \`model-mirror models cleanup <name> --orphans --yes\` once S3 works again.`,
      cause: e,
    });
  }
  return { objects: deleted, bytes: contents.bytes };
}
