// Finding what an interrupted run left behind: the open multipart uploads of one key and the
// parts they hold. uploadFile reuses a part only when its number and size fit the planned layout
// and its ETag equals the MD5 of the local byte range (checked by reading the range from disk).
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { log } from '../common/log';
import { s3ErrorName } from './errors';

export interface OpenUpload {
  readonly uploadId: string;
  /** ms since the epoch; 0 when the server did not say. */
  readonly initiated: number;
}

export interface ExistingPart {
  readonly size: number;
  /** Lower-case hex without quotes. */
  readonly etag: string;
}

/** Open multipart uploads of exactly `key` (ListMultipartUploads matches by prefix), newest first. */
export async function listOpenUploads(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<OpenUpload[]> {
  const out: OpenUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), { abortSignal: signal });
    for (const u of page.Uploads ?? []) {
      if (u.Key === key && u.UploadId) out.push({ uploadId: u.UploadId, initiated: u.Initiated?.getTime() ?? 0 });
    }
    if (!page.IsTruncated) break;
    // Guard against a server that says "truncated" without moving the markers.
    if (page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker) break;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
    // Listed in key order: once past `key` (a longer key with it as prefix), nothing more is ours.
    if (keyMarker !== undefined && keyMarker > key) break;
  }
  return out.sort((a, b) => b.initiated - a.initiated);
}

/** Every part of an open upload: part number -> size and ETag. */
export async function listUploadedParts(client: S3Client, bucket: string, key: string, uploadId: string, signal?: AbortSignal): Promise<Map<number, ExistingPart>> {
  const parts = new Map<number, ExistingPart>();
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }), { abortSignal: signal });
    for (const p of page.Parts ?? []) {
      if (p.PartNumber !== undefined && p.Size !== undefined && p.ETag) parts.set(p.PartNumber, { size: p.Size, etag: normalizeEtag(p.ETag) });
    }
    if (!page.IsTruncated || page.NextPartNumberMarker === undefined || page.NextPartNumberMarker === marker) break;
    marker = page.NextPartNumberMarker;
  }
  return parts;
}

export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
}

/** MD5 (hex) of a stream: what S3 reports as a part's ETag (without SSE-KMS / SSE-C). */
export async function md5Of(stream: Readable): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Aborts an upload; a missing one is fine, other failures only warn (a lifecycle rule cleans up). */
export async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (e) {
    if (s3ErrorName(e) === 'NoSuchUpload') return;
    log.warn(`could not abort multipart upload of s3://${bucket}/${key}; a lifecycle rule should clean it up`, { uploadId, error: (e as Error).message });
  }
}
