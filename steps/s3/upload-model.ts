// `uploadModel`: the whole upload step as a function (used by `upload` and `mirror`).
// manifest -> local checks -> one listing of the prefix -> HeadObject to skip identical objects
// -> parallel uploads (files, and parts within files) -> the manifest itself, last.
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ExitCode, UserError } from '../common/errors';
import { safeJoin } from '../common/fs-safety';
import { hashFile } from '../common/hash';
import { log } from '../common/log';
import { MANIFEST_FILE, readManifest, type Manifest } from '../common/manifest';
import { formatBytes, formatRate, Progress, type ProgressMode } from '../common/progress';
import { mapLimit, withRetry, type RetryOptions } from '../common/retry';
import { TOOL_NAME, TOOL_VERSION } from '../common/version';
import { createS3Client, resolveS3Config } from './client';
import { isRetryableS3Error, s3ErrorName, s3Status, toS3UserError } from './errors';
import { joinKey, parseS3Uri, type S3Location } from './s3-uri';
import { uploadFile } from './upload-file';

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
  /** Files uploaded in parallel. @default 4 */
  readonly concurrency?: number;
  /** Parts in flight per file. @default 4 (memory <= concurrency * partConcurrency * partSize) */
  readonly partConcurrency?: number;
  /** Override the part size (bytes, >= 5 MiB). @default choosePartSize(size) */
  readonly partSize?: number;
  /** Whole-object retries after the SDK's own per-request retries. */
  readonly retry?: RetryOptions;
  /** Upload even objects that already match. */
  readonly force?: boolean;
  /**
   * Maps a manifest path to its key under the destination prefix. `register` needs the
   * mlflow.transformers layout (`artifactKeyFor` in steps/mlflow/transformers-layout.ts).
   * @default the manifest path itself (a verbatim copy)
   */
  readonly keyFor?: (manifestPath: string) => string;
  readonly progress?: ProgressMode;
  readonly signal?: AbortSignal;
}

export interface UploadedObject {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly skipped: boolean;
}

export interface UploadResult {
  readonly bucket: string;
  readonly prefix: string;
  /** Endpoint used (undefined = AWS S3). */
  readonly endpoint?: string;
  readonly objectsUploaded: number;
  readonly objectsSkipped: number;
  readonly bytesUploaded: number;
  readonly bytesSkipped: number;
  readonly manifestKey: string;
  readonly objects: readonly UploadedObject[];
  readonly seconds: number;
}

interface Item {
  readonly rel: string;
  readonly file: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
}

function contentTypeFor(p: string): string {
  if (p.endsWith('.json')) return 'application/json';
  if (/\.(md|txt)$/i.test(p)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/** Lists the prefix once: key -> size. Undefined when listing is not permitted. */
async function listExisting(client: S3Client, loc: S3Location, ctx: { endpoint?: string }): Promise<Map<string, number> | undefined> {
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
      return undefined;
    }
    throw toS3UserError(e, { endpoint: ctx.endpoint, bucket: loc.bucket, key: loc.prefix });
  }
  return out;
}

/** True when `key` already holds exactly these bytes (size + sha256 metadata). */
async function objectMatches(client: S3Client, bucket: string, item: Item, endpoint?: string): Promise<boolean> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: item.key }));
    return head.ContentLength === item.size && head.Metadata?.sha256 === item.sha256;
  } catch (e) {
    if (s3Status(e) === 404 || s3ErrorName(e) === 'NotFound' || s3ErrorName(e) === 'NoSuchKey') return false;
    throw toS3UserError(e, { endpoint, bucket, key: item.key });
  }
}

async function checkLocal(source: string, manifest: Manifest): Promise<Array<Omit<Item, 'key'>>> {
  const items: Array<Omit<Item, 'key'>> = [];
  for (const f of manifest.files) {
    const file = safeJoin(source, f.path, 'manifest path');
    let st;
    try {
      st = await fs.lstat(file);
    } catch {
      throw new UserError(`${f.path} is listed in the manifest but missing from ${source}`, {
        exitCode: ExitCode.NotFound,
        hint: 'Rerun `model-mirror download` into the same directory; it fetches only what is missing.',
      });
    }
    if (!st.isFile()) throw new UserError(`${file} is not a regular file`, { exitCode: ExitCode.LocalStorage });
    if (st.size !== f.size) {
      throw new UserError(`${f.path} is ${st.size} bytes but the manifest says ${f.size}: it changed since download`, {
        exitCode: ExitCode.Integrity,
        hint: 'Rerun `model-mirror download` into the same directory to repair it.',
      });
    }
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new UserError(`The manifest has no valid sha256 for ${f.path}`, { exitCode: ExitCode.Usage });
    items.push({ rel: f.path, file, size: f.size, sha256: f.sha256, contentType: contentTypeFor(f.path) });
  }
  return items;
}

export async function uploadModel(opts: UploadModelOptions): Promise<UploadResult> {
  const started = Date.now();
  const loc = typeof opts.dest === 'string' ? parseS3Uri(opts.dest) : opts.dest;
  const cfg = resolveS3Config({ endpoint: opts.endpoint, region: opts.region });
  const endpoint = opts.client ? undefined : cfg.endpoint;
  const client = opts.client ?? createS3Client({ ...cfg, credentials: opts.credentials });
  const where = { endpoint };
  try {
    const source = path.resolve(opts.source);
    const manifest = await readManifest(source);
    const local = await checkLocal(source, manifest);
    const manifestPath = path.join(source, MANIFEST_FILE);
    const manifestDigest = await hashFile(manifestPath);
    const items: Item[] = local.map((l) => ({ ...l, key: joinKey(loc.prefix, opts.keyFor ? opts.keyFor(l.rel) : l.rel) }));
    const manifestItem: Item = {
      rel: MANIFEST_FILE,
      file: manifestPath,
      key: joinKey(loc.prefix, MANIFEST_FILE),
      size: manifestDigest.size,
      sha256: manifestDigest.sha256,
      contentType: 'application/json',
    };
    for (const it of [...items, manifestItem]) {
      if (Buffer.byteLength(it.key) > 1024) throw new UserError(`S3 key too long (> 1024 bytes): ${it.key}`, { exitCode: ExitCode.Usage });
    }
    const metadata = { 'source-repo': manifest.repo, 'source-commit': manifest.commitSha, 'mirror-tool': `${TOOL_NAME}/${TOOL_VERSION}` };

    // What is already there (one listing; HeadObject only for same-size candidates).
    log.info(`uploading ${items.length} files (${formatBytes(manifest.totalBytes)}) of ${manifest.repo}@${manifest.commitSha.slice(0, 12)} to s3://${loc.bucket}/${loc.prefix}`, {
      endpoint: endpoint ?? 'aws',
    });
    const listed = await listExisting(client, loc, where);
    const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
    const needsHead = (it: Item) => !opts.force && (listed === undefined || listed.get(it.key) === it.size);
    const skip = new Set<string>();
    await mapLimit([...items, manifestItem].filter(needsHead), Math.max(concurrency, 8), async (it) => {
      if (await objectMatches(client, loc.bucket, it, endpoint)) skip.add(it.key);
    });

    const total = items.reduce((n, i) => n + i.size, 0) + manifestItem.size;
    const progress = new Progress({ label: 'upload', totalBytes: total, totalFiles: items.length + 1, mode: opts.progress });
    const objects: UploadedObject[] = [];
    let bytesUploaded = 0;
    let bytesSkipped = 0;
    const one = async (it: Item, signal?: AbortSignal) => {
      if (skip.has(it.key)) {
        progress.advance(it.size, { transferred: false });
        progress.fileDone();
        bytesSkipped += it.size;
        objects.push({ key: it.key, size: it.size, sha256: it.sha256, skipped: true });
        log.debug(`unchanged, skipped: ${it.key}`);
        return;
      }
      await withRetry(
        () => uploadFile({
          client,
          bucket: loc.bucket,
          key: it.key,
          filePath: it.file,
          size: it.size,
          sha256: it.sha256,
          metadata,
          contentType: it.contentType,
          partSize: opts.partSize,
          queueSize: opts.partConcurrency,
          onProgress: (d) => progress.advance(d),
          signal,
        }),
        {
          isRetryable: isRetryableS3Error,
          signal,
          onRetry: (i) => log.warn(`upload of ${it.key} failed (${s3ErrorName(i.error) ?? (i.error as Error).message}); retrying in ${(i.delayMs / 1000).toFixed(1)}s (retry ${i.attempt}/${i.retries})`),
          ...opts.retry,
        },
      ).catch((e) => {
        throw toS3UserError(e, { endpoint, bucket: loc.bucket, key: it.key });
      });
      progress.fileDone();
      bytesUploaded += it.size;
      objects.push({ key: it.key, size: it.size, sha256: it.sha256, skipped: false });
    };
    try {
      const order = [...items].sort((a, b) => b.size - a.size);
      await mapLimit(order, concurrency, (it, _i, signal) => one(it, signal), opts.signal);
      // The manifest goes last: its presence means every file it lists is in place.
      await one(manifestItem, opts.signal);
    } catch (e) {
      progress.finish({ success: false });
      throw e;
    }
    progress.finish();
    const seconds = (Date.now() - started) / 1000;
    const uploaded = objects.filter((o) => !o.skipped).length;
    const result: UploadResult = {
      bucket: loc.bucket,
      prefix: loc.prefix,
      endpoint,
      objectsUploaded: uploaded,
      objectsSkipped: objects.length - uploaded,
      bytesUploaded,
      bytesSkipped,
      manifestKey: manifestItem.key,
      objects,
      seconds,
    };
    log.info(`uploaded ${manifest.repo}@${manifest.commitSha.slice(0, 12)} to s3://${loc.bucket}/${loc.prefix}`, {
      uploaded,
      skipped: result.objectsSkipped,
      bytes: formatBytes(bytesUploaded),
      seconds: Number(seconds.toFixed(1)),
      rate: formatRate(seconds > 0 ? bytesUploaded / seconds : 0),
    });
    return result;
  } finally {
    if (!opts.client) client.destroy();
  }
}
