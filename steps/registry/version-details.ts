// What one mirrored version is: where its files are, what they were on the Hub, and the manifest
// `upload` stored next to them (path, size, sha256 of every file).
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import type { Manifest, ManifestFile } from '../common/manifest';
import { joinUri, parseS3Uri, s3Error } from '../mlflow/artifacts';
import type { ModelVersion } from '../mlflow/registry';
import { versionTags } from '../mlflow/registry';
import { TAG } from '../mlflow/tags';
import { MODEL_BINARY_DIR, UPLOADED_MANIFEST } from '../mlflow/transformers-layout';
import { endpointLabelOf } from '../s3/client';

export interface VersionSummary {
  readonly name: string;
  readonly version: string;
  readonly status: string;
  readonly aliases: readonly string[];
  readonly source_repo?: string;
  readonly commit_sha?: string;
  readonly requested_revision?: string;
  readonly run_id?: string;
  readonly created?: string;
  /** The MLflow model directory (`<run artifact_uri>/model`). */
  readonly source: string;
  /** The serving-ready directory: the complete Hub snapshot (`<source>/model/`). */
  readonly storage_uri?: string;
  readonly total_bytes?: number;
  readonly file_count?: number;
  readonly tags: Readonly<Record<string, string>>;
}

/** `<source>/model/`: what KServe, vLLM and from_pretrained read (README "Artifact layout"). */
export function servingUri(source: string): string | undefined {
  return /^s3a?:\/\//.test(source) ? `${joinUri(source, MODEL_BINARY_DIR)}/` : undefined;
}

export function summarize(mv: ModelVersion, manifest?: Manifest): VersionSummary {
  const tags = versionTags(mv);
  const ts = Number(mv.creation_timestamp);
  return {
    name: mv.name,
    version: mv.version,
    status: mv.status,
    aliases: [...(mv.aliases ?? [])].sort(),
    source_repo: tags[TAG.sourceRepo] ?? manifest?.repo,
    commit_sha: tags[TAG.commitSha] ?? manifest?.commitSha,
    requested_revision: tags[TAG.requestedRevision] ?? manifest?.requestedRevision,
    run_id: mv.run_id || undefined,
    created: Number.isFinite(ts) && ts > 0 ? new Date(ts).toISOString() : undefined,
    source: mv.source,
    storage_uri: servingUri(mv.source),
    total_bytes: manifest?.totalBytes,
    file_count: manifest?.fileCount,
    tags,
  };
}

/** The manifest stored with the version, or undefined when there is none (not a mirrored version). */
export async function readVersionManifest(s3: S3Client, mv: ModelVersion): Promise<Manifest | undefined> {
  if (!/^s3a?:\/\//.test(mv.source)) return undefined;
  const uri = joinUri(mv.source, UPLOADED_MANIFEST);
  const { bucket, key } = parseS3Uri(uri);
  let text: string;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = await res.Body!.transformToString('utf8');
  } catch (e) {
    const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404) return undefined;
    throw s3Error(e, 'read', uri, endpointLabelOf(s3));
  }
  try {
    const parsed = JSON.parse(text) as Manifest;
    if (!Array.isArray(parsed.files)) throw new Error('no files list');
    return parsed;
  } catch (e) {
    throw new UserError(`${uri} is not a model-mirror manifest: ${(e as Error).message}`, { exitCode: ExitCode.Integrity });
  }
}

export function manifestFiles(manifest: Manifest | undefined): ManifestFile[] {
  return [...(manifest?.files ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
