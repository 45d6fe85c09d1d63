// Once a READY version holds an identity, the other runs made for it are dead weight: failed runs
// nobody will adopt now, and runs that lost a registration race and reused the winner. Their
// objects and open multipart uploads under `<artifact_uri>/model/` are deleted/aborted, and the
// run is tagged model_mirror.swept + superseded_by (so it is never adopted or swept again).
// Only prefixes this tool wrote (the run's model/ directory) are touched; live runs never are.
import type { S3Client } from '@aws-sdk/client-s3';
import { log } from '../common/log';
import { abortOpenUploadsUnder, deleteObjectsUnder } from '../s3/clear-prefix';
import { joinUri, parseS3Uri } from './artifacts';
import type { MlflowClient } from './client';
import { type RunIdentity, searchIdentityRuns } from './identity-runs';
import type { ModelVersion } from './registry';
import { type Run, runTags, setRunTags } from './runs';
import { TAG } from './tags';
import { MODEL_ARTIFACT_PATH } from './transformers-layout';

export interface SweepResult {
  readonly runs: readonly string[];
  readonly objectsDeleted: number;
  readonly bytesDeleted: number;
  readonly uploadsAborted: number;
}

const under = (uri: string, root: string): boolean => uri === root || uri.startsWith(`${root.replace(/\/+$/, '')}/`);

/** A run whose files `version` does not use and that no mirror is writing into. */
export function isSuperseded(run: Run, version: ModelVersion): boolean {
  const tags = runTags(run);
  if (tags[TAG.swept] || run.info.run_id === version.run_id) return false;
  if (!/^s3a?:\/\//.test(run.info.artifact_uri) || under(version.source, run.info.artifact_uri)) return false;
  if (run.info.status === 'FAILED' || run.info.status === 'KILLED') return true;
  // FINISHED after reusing another run's version: its own upload is unreferenced.
  return run.info.status === 'FINISHED' && !!tags[TAG.reusedVersion];
}

/** Empties one run's model prefix (objects + open multipart uploads). */
export async function clearRunFiles(s3: S3Client, artifactUri: string): Promise<{ objects: number; bytes: number; uploads: number }> {
  const { bucket, key } = parseS3Uri(joinUri(artifactUri, MODEL_ARTIFACT_PATH));
  const uploads = await abortOpenUploadsUnder(s3, bucket, key);
  const { objects, bytes } = await deleteObjectsUnder(s3, bucket, key);
  return { objects, bytes, uploads };
}

export async function sweepSupersededRuns(client: MlflowClient, s3: S3Client, id: RunIdentity, version: ModelVersion): Promise<SweepResult> {
  const runs = (await searchIdentityRuns(client, id)).filter((r) => isSuperseded(r, version));
  let objectsDeleted = 0;
  let bytesDeleted = 0;
  let uploadsAborted = 0;
  for (const run of runs) {
    const c = await clearRunFiles(s3, run.info.artifact_uri);
    objectsDeleted += c.objects;
    bytesDeleted += c.bytes;
    uploadsAborted += c.uploads;
    await setRunTags(client, run.info.run_id, { [TAG.swept]: new Date().toISOString(), [TAG.supersededBy]: `${version.name}/${version.version}` });
    log.info(`Swept run ${run.info.run_id} (${run.info.status}): ${version.name} version ${version.version} holds its identity`, {
      objects: c.objects, bytes: c.bytes, uploadsAborted: c.uploads,
    });
  }
  return { runs: runs.map((r) => r.info.run_id), objectsDeleted, bytesDeleted, uploadsAborted };
}

/** The sweep as a best-effort epilogue: a failure only warns (the next rerun or `cleanup` retries). */
export async function sweepQuietly(client: MlflowClient, s3: S3Client | undefined, id: RunIdentity, version: ModelVersion): Promise<SweepResult | undefined> {
  if (!s3) return undefined;
  try {
    return await sweepSupersededRuns(client, s3, id, version);
  } catch (e) {
    log.warn('Could not sweep the superseded runs of this version', { version: `${version.name}/${version.version}`, error: (e as Error).message });
    return undefined;
  }
}
