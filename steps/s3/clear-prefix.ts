// Emptying a prefix this tool wrote: abort its open multipart uploads and delete its objects.
// Used for a run whose files a READY version made unnecessary (sweep-failed-runs.ts) and for the
// open uploads an adopted prefix no longer needs after a complete upload.
import { DeleteObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { abortUpload } from './resume-multipart';

/** Aborts every open multipart upload whose key starts with `prefix/`; returns how many. */
export async function abortOpenUploadsUnder(client: S3Client, bucket: string, prefix: string): Promise<number> {
  const under = `${prefix.replace(/\/+$/, '')}/`;
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: under, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    for (const u of page.Uploads ?? []) {
      if (!u.Key?.startsWith(under) || !u.UploadId) continue;
      await abortUpload(client, bucket, u.Key, u.UploadId);
      aborted++;
    }
    if (!page.IsTruncated || (page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker)) break;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
  return aborted;
}

/** Deletes every object under `prefix/`; returns how many objects and bytes. */
export async function deleteObjectsUnder(client: S3Client, bucket: string, prefix: string): Promise<{ objects: number; bytes: number }> {
  const under = `${prefix.replace(/\/+$/, '')}/`;
  let objects = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (!o.Key?.startsWith(under)) continue;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      objects++;
      bytes += o.Size ?? 0;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, bytes };
}
