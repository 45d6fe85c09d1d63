// What the two upload flows of uploadModel (a finished download, or one still running) share: one
// S3 client and destination, one listing of the prefix, the skip-if-identical check, one part
// budget for every file, progress, retries and the byte accounting of the result.
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import * as path from 'node:path';
import { ExitCode, UserError } from '../common/errors';
import { safeJoin } from '../common/fs-safety';
import { hashFile, type Digests } from '../common/hash';
import { log } from '../common/log';
import { MANIFEST_FILE } from '../common/manifest';
import type { Progress } from '../common/progress';
import { withRetry, type RetryOptions } from '../common/retry';
import { TOOL_NAME, TOOL_VERSION } from '../common/version';
import { isRetryableS3Error, s3ErrorName, s3Status, toS3UserError, describeS3Error } from './errors';
import type { PartBudget } from './part-budget';
import { joinKey, type S3Location } from './s3-uri';
import { uploadFile, type FileBytes, type SentParts } from './upload-file';

export interface Item {
  /** Manifest path. */
  readonly rel: string;
  readonly file: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
}

/** The item of manifest file `rel` (checked to stay under `source`), made when its turn comes. */
export function fileItem(source: string, rel: string, key: string, size: number, sha256: string): Item {
  return { rel, file: safeJoin(source, rel, 'manifest path'), key, size, sha256, contentType: contentTypeFor(rel) };
}

export interface UploadedObject {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly skipped: boolean;
  /** Bytes reused from parts an interrupted run left in S3 (not sent again). */
  readonly bytesResumed?: number;
}

export function contentTypeFor(p: string): string {
  if (p.endsWith('.json')) return 'application/json';
  if (/\.(md|txt)$/i.test(p)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

export function checkKeyLength(key: string): void {
  if (Buffer.byteLength(key) > 1024) throw new UserError(`S3 key too long (> 1024 bytes): ${key}`, { exitCode: ExitCode.Usage });
}

/** The manifest file itself, uploaded last: its presence means every file it lists is in place. */
export async function manifestItem(source: string, loc: S3Location): Promise<Item> {
  const file = path.join(source, MANIFEST_FILE);
  const digest = await hashFile(file);
  return { rel: MANIFEST_FILE, file, key: joinKey(loc.prefix, MANIFEST_FILE), size: digest.size, sha256: digest.sha256, contentType: 'application/json' };
}

export function objectMetadata(repo: string | undefined, commitSha: string | undefined): Record<string, string> {
  return {
    ...(repo !== undefined ? { 'source-repo': repo } : {}),
    ...(commitSha !== undefined ? { 'source-commit': commitSha } : {}),
    'mirror-tool': `${TOOL_NAME}/${TOOL_VERSION}`,
  };
}

/** The producer of a file's bytes (the download) failed; kept apart from S3 errors (never retried here). */
export class SourceFailed extends Error {
  constructor(readonly error: unknown) {
    super(`the download of this file failed: ${(error as Error)?.message ?? String(error)}`);
    this.name = 'SourceFailed';
  }
}

export interface SessionOptions {
  readonly client: S3Client;
  readonly loc: S3Location;
  /** For error messages; undefined = AWS S3 or a caller's client. */
  readonly endpoint?: string;
  readonly budget: PartBudget;
  readonly progress: Progress;
  readonly metadata: Record<string, string>;
  readonly partSize?: number;
  readonly retry?: RetryOptions;
  readonly force?: boolean;
}

export class UploadSession {
  /**
   * Counts, not a list: 20,000 objects' records were megabytes held to the end of the upload. The
   * manifest's record is kept (it is uploaded last and callers report it).
   */
  objectsUploaded = 0;
  objectsSkipped = 0;
  manifestObject?: UploadedObject;
  bytesUploaded = 0;
  bytesSkipped = 0;
  bytesResumed = 0;
  /** key -> size from one listing of the prefix; undefined when listing is not permitted. */
  private listed?: Map<string, number>;

  constructor(readonly o: SessionOptions) {}

  /** Lists the prefix once, so HeadObject is needed only for same-size candidates. */
  async listExisting(): Promise<void> {
    const { client, loc } = this.o;
    const out = new Map<string, number>();
    let token: string | undefined;
    try {
      do {
        const page = await client.send(new ListObjectsV2Command({
          Bucket: loc.bucket,
          Prefix: loc.prefix ? `${loc.prefix}/` : undefined,
          ContinuationToken: token,
        }));
        for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, o.Size ?? -1);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      if (s3ErrorName(e) === 'AccessDenied') {
        log.warn(`not allowed to list s3://${loc.bucket}/${loc.prefix}; checking each object with HeadObject instead`);
        this.listed = undefined;
        return;
      }
      throw toS3UserError(e, { endpoint: this.o.endpoint, bucket: loc.bucket, key: loc.prefix });
    }
    this.listed = out;
  }

  /** True when `key` already holds exactly these bytes (size + sha256 metadata). */
  async isAlreadyThere(it: Item): Promise<boolean> {
    if (this.o.force) return false;
    if (this.listed !== undefined && this.listed.get(it.key) !== it.size) return false;
    try {
      const head = await this.o.client.send(new HeadObjectCommand({ Bucket: this.o.loc.bucket, Key: it.key }));
      return head.ContentLength === it.size && head.Metadata?.sha256 === it.sha256;
    } catch (e) {
      if (s3Status(e) === 404 || s3ErrorName(e) === 'NotFound' || s3ErrorName(e) === 'NoSuchKey') return false;
      throw toS3UserError(e, { endpoint: this.o.endpoint, bucket: this.o.loc.bucket, key: it.key });
    }
  }

  recordSkipped(it: Item): void {
    this.o.progress.advance(it.size, { transferred: false });
    this.o.progress.fileDone();
    this.bytesSkipped += it.size;
    this.objectsSkipped++;
    if (it.rel === MANIFEST_FILE) this.manifestObject = { key: it.key, size: it.size, sha256: it.sha256, skipped: true };
    log.debug(`unchanged, skipped: ${it.key}`);
  }

  /** Uploads one object, retrying the whole object on transient failures (it resumes its parts). */
  async upload(it: Item, opts: { bytes?: FileBytes; verified?: Promise<Digests>; signal?: AbortSignal } = {}): Promise<void> {
    const { client, loc, endpoint } = this.o;
    const sent: SentParts = { etags: new Map() };
    const r = await withRetry(
      () => uploadFile({
        client,
        bucket: loc.bucket,
        key: it.key,
        filePath: it.file,
        size: it.size,
        sha256: it.sha256,
        metadata: this.o.metadata,
        contentType: it.contentType,
        partSize: this.o.partSize,
        budget: this.o.budget,
        bytes: opts.bytes,
        verified: opts.verified,
        sent,
        onProgress: (d, p) => this.o.progress.advance(d, p),
        signal: opts.signal,
      }),
      {
        // NoSuchUpload: someone aborted our open upload under us; the next attempt starts a new one.
        isRetryable: (e) => !(e instanceof SourceFailed) && (isRetryableS3Error(e) || s3ErrorName(e) === 'NoSuchUpload'),
        signal: opts.signal,
        onRetry: (i) => log.warn(`upload of ${it.key} failed (${describeS3Error(i.error)}); retrying in ${(i.delayMs / 1000).toFixed(1)}s (retry ${i.attempt}/${i.retries})`),
        ...this.o.retry,
      },
    ).catch((e) => {
      throw e instanceof SourceFailed ? e : toS3UserError(e, { endpoint, bucket: loc.bucket, key: it.key });
    });
    this.o.progress.fileDone();
    this.bytesUploaded += r.bytesSent;
    this.bytesResumed += r.bytesResumed;
    if (r.bytesResumed) log.info(`resumed ${it.key}: reused ${r.bytesResumed} bytes an earlier run left in S3`);
    this.objectsUploaded++;
    if (it.rel === MANIFEST_FILE) this.manifestObject = { key: it.key, size: it.size, sha256: it.sha256, skipped: false, ...(r.bytesResumed ? { bytesResumed: r.bytesResumed } : {}) };
  }
}
