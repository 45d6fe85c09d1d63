// Run artifacts: listing through MLflow's own API (with --no-serve-artifacts the server lists the
// artifact store itself, with its own credentials), and writing small files (MLmodel, env files)
// straight to the S3 artifact store, as MLflow clients do when the server does not proxy.
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { NO_ENDPOINT_LABEL, createS3Client, endpointLabelOf, resolveS3Config } from '../s3/client';
import type { MlflowClient } from './client';

export interface FileInfo {
  /** Relative to the run's artifact root, e.g. `model/MLmodel`. */
  readonly path: string;
  readonly is_dir?: boolean;
  readonly file_size?: number | string;
}

/** One directory level of a run's artifacts (`path` relative to the run's artifact root). */
export async function listArtifacts(client: MlflowClient, runId: string, path?: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await client.get<{ files?: FileInfo[]; next_page_token?: string }>('/api/2.0/mlflow/artifacts/list', {
      run_id: runId,
      path: path || undefined,
      page_token: pageToken,
    });
    out.push(...(res.files ?? []));
    pageToken = res.next_page_token || undefined;
    if (!pageToken) break;
  }
  return out;
}

/** Every file under `path` (recursively), path -> size. */
export async function listArtifactsRecursive(client: MlflowClient, runId: string, path?: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  const queue: (string | undefined)[] = [path];
  let listed = 0;
  while (queue.length) {
    const dir = queue.shift();
    for (const f of await listArtifacts(client, runId, dir)) {
      if (f.is_dir) queue.push(f.path);
      else files.set(f.path, Number(f.file_size ?? 0));
    }
    if (++listed > 100_000) break; // runaway guard
  }
  return files;
}

/**
 * Walks every directory under `path` through MLflow's listing, `concurrency` listings at a time,
 * and hands each directory's files to `onFiles` as it comes: nothing is kept here, so memory
 * does not grow with the number of files. Returns the number of directories listed.
 */
export async function forEachArtifactDir(
  client: MlflowClient,
  runId: string,
  path: string | undefined,
  onFiles: (files: readonly FileInfo[], dir: string | undefined) => void,
  opts: { readonly concurrency?: number; readonly maxDirs?: number } = {},
): Promise<number> {
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const maxDirs = opts.maxDirs ?? 100_000;
  const queue: (string | undefined)[] = [path];
  let listed = 0;
  const worker = async (): Promise<void> => {
    while (queue.length) {
      const dir = queue.shift();
      if (++listed > maxDirs) {
        throw new UserError(`More than ${maxDirs} artifact directories under ${path ?? 'the run root'} of run ${runId}; giving up`, { exitCode: ExitCode.Integrity });
      }
      const files: FileInfo[] = [];
      for (const f of await listArtifacts(client, runId, dir)) {
        if (f.is_dir) queue.push(f.path);
        else files.push(f);
      }
      onFiles(files, dir);
    }
  };
  // Workers that find the queue empty end; one that lists a directory refills it, so keep
  // starting workers while any are busy and the queue has work.
  const running = new Set<Promise<void>>();
  for (;;) {
    while (queue.length && running.size < concurrency) {
      const w: Promise<void> = worker().finally(() => running.delete(w));
      running.add(w);
    }
    if (!running.size) break;
    await Promise.race(running);
  }
  return listed;
}

export interface S3Location {
  readonly bucket: string;
  /** Without leading or trailing slash ('' for the bucket root). */
  readonly key: string;
}

export function parseS3Uri(uri: string): S3Location {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) {
    throw new UserError(`'${uri}' is not an s3:// URI`, {
      exitCode: ExitCode.Usage,
      hint: "The MLflow server's --default-artifact-root must be an s3:// location for model-mirror.",
    });
  }
  return { bucket: m[1], key: m[2].replace(/^\/+|\/+$/g, '') };
}

/** Joins URI/path segments with exactly one '/' between them. */
export function joinUri(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) {
    const seg = p.replace(/^\/+|\/+$/g, '');
    if (seg) out = `${out}/${seg}`;
  }
  return out;
}

/**
 * An S3 client for the artifact store, configured exactly like the `upload` step's (same endpoint
 * precedence: AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > MLFLOW_S3_ENDPOINT_URL; SDK credential
 * chain; path-style for custom endpoints; checksums only when required).
 */
export function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): S3Client {
  return createS3Client(resolveS3Config({ env }));
}

/** Writes a small object at `uri` (s3://bucket/key). */
export async function putS3Object(s3: S3Client, uri: string, body: string | Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
  } catch (e) {
    throw s3Error(e, 'write', uri, endpointLabelOf(s3));
  }
}

export function s3Error(e: unknown, op: string, uri: string, endpoint: string = NO_ENDPOINT_LABEL): UserError {
  const err = e as Error & { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name || err.code || 'Error';
  if (status === 401 || status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|CredentialsProviderError/.test(name)) {
    return new UserError(`S3 at ${endpoint} refused to ${op} ${uri} (${name}${status ? `, HTTP ${status}` : ''})`, {
      exitCode: ExitCode.Auth,
      hint: 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy (write access to the MLflow artifact root).',
      cause: e,
    });
  }
  if (name === 'NoSuchBucket' || status === 404) {
    return new UserError(`S3 bucket of ${uri} does not exist at ${endpoint} (${name})`, { exitCode: ExitCode.NotFound, cause: e });
  }
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  return new UserError(`Cannot ${op} ${uri} on S3 at ${endpoint} (${name}${code ? ` ${code}` : ''}${status ? `, HTTP ${status}` : ''}): ${err.message}`, {
    exitCode: ExitCode.Unavailable,
    hint: 'Check MLFLOW_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL) and that the S3 endpoint is reachable.',
    cause: e,
  });
}

/** Reads a small object at `uri` (s3://bucket/key) as text. */
export async function getS3Text(s3: S3Client, uri: string): Promise<string> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await res.Body!.transformToString('utf8');
  } catch (e) {
    throw s3Error(e, 'read', uri, endpointLabelOf(s3));
  }
}
