// `models cleanup --keep N` and `models delete`: which versions go, and removing them. A version
// holding an alias never goes; a version whose run is still RUNNING never goes. Order per version:
// delete the version in MLflow, then its objects (the registry never points at missing files).
// Objects another version still points into stay.
import type { S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import type { MlflowClient } from '../mlflow/client';
import { type ModelVersion, deleteModelVersion, getModelVersion } from '../mlflow/registry';
import { getRun } from '../mlflow/runs';
import { listVersions, requireRegisteredModel } from './lookup';
import { type Reference, allVersionSources, referencesInto } from './references';
import { deletePrefix, listPrefix, prefixUri } from './s3-objects';

export interface VersionRemoval {
  readonly version: string;
  readonly created?: string;
  readonly run_id?: string;
  /** The objects that go with the version: its run's artifact directory (or its source). */
  readonly prefix: string;
  readonly objects: number;
  readonly bytes: number;
  /** Set when the objects stay because other versions point into the prefix. */
  readonly objects_kept_for?: readonly string[];
}

export interface SkippedVersion {
  readonly version: string;
  readonly reason: string;
}

export interface RemovalPlan {
  readonly model: string;
  readonly remove: readonly VersionRemoval[];
  readonly skipped: readonly SkippedVersion[];
  /** Bytes freed in S3 (objects shared with remaining versions are not counted). */
  readonly bytes: number;
  readonly objects: number;
}

const IN_PROGRESS = new Set(['RUNNING', 'SCHEDULED']);

/** The version's run artifact directory when its source is inside it, else the source itself. */
async function objectPrefix(client: MlflowClient, mv: ModelVersion): Promise<{ prefix: string; runStatus?: string }> {
  if (mv.run_id) {
    try {
      const run = await getRun(client, mv.run_id);
      const root = run.info.artifact_uri;
      if (root && prefixUri(mv.source).startsWith(prefixUri(root))) return { prefix: prefixUri(root), runStatus: run.info.status };
      return { prefix: prefixUri(mv.source), runStatus: run.info.status };
    } catch (e) {
      if (!(e instanceof UserError && e.exitCode === ExitCode.NotFound)) throw e;
    }
  }
  return { prefix: prefixUri(mv.source) };
}

async function planFor(client: MlflowClient, s3: S3Client, model: string, chosen: readonly ModelVersion[], skipped: SkippedVersion[]): Promise<RemovalPlan> {
  const refs = await allVersionSources(client);
  const going = new Set(chosen.map((v) => v.version));
  const isGoing = (r: Reference) => r.name === model && going.has(r.version);
  const remove: VersionRemoval[] = [];
  const counted = new Set<string>();
  let bytes = 0;
  let objects = 0;
  for (const mv of chosen) {
    const { prefix, runStatus } = await objectPrefix(client, mv);
    if (runStatus && IN_PROGRESS.has(runStatus)) {
      skipped.push({ version: mv.version, reason: `its run ${mv.run_id} is ${runStatus}` });
      going.delete(mv.version);
      continue;
    }
    const others = /^s3a?:\/\//.test(mv.source) ? referencesInto(prefix, refs, isGoing) : [];
    const contents = /^s3a?:\/\//.test(mv.source) ? await listPrefix(s3, prefix) : { objects: 0, bytes: 0 };
    const kept = others.map((r) => `${r.name}/${r.version}`);
    if (!kept.length && !counted.has(prefix)) {
      bytes += contents.bytes;
      objects += contents.objects;
      counted.add(prefix);
    }
    remove.push({
      version: mv.version,
      created: mv.creation_timestamp ? new Date(Number(mv.creation_timestamp)).toISOString() : undefined,
      run_id: mv.run_id || undefined,
      prefix,
      objects: contents.objects,
      bytes: contents.bytes,
      ...(kept.length ? { objects_kept_for: kept } : {}),
    });
  }
  return { model, remove, skipped, bytes, objects };
}

/** Every version but the `keep` newest, oldest first, without the ones holding an alias. */
export async function planKeepNewest(client: MlflowClient, s3: S3Client, model: string, keep: number): Promise<RemovalPlan> {
  if (!Number.isInteger(keep) || keep < 0) throw new UserError(`--keep must be a whole number >= 0 (got ${keep})`, { exitCode: ExitCode.Usage });
  await requireRegisteredModel(client, model);
  const versions = await listVersions(client, model);
  const older = versions.slice(0, Math.max(0, versions.length - keep));
  const skipped: SkippedVersion[] = [];
  const chosen: ModelVersion[] = [];
  for (const mv of older) {
    if (mv.aliases?.length) skipped.push({ version: mv.version, reason: `holds alias ${mv.aliases.join(', ')}` });
    else if (mv.status === 'PENDING_REGISTRATION') skipped.push({ version: mv.version, reason: 'registration is still pending' });
    else chosen.push(mv);
  }
  return planFor(client, s3, model, chosen, skipped);
}

/** One version; refused (exit 8) when it holds an alias or its run is still running. */
export async function planDeleteVersion(client: MlflowClient, s3: S3Client, model: string, mv: ModelVersion): Promise<RemovalPlan> {
  if (mv.aliases?.length) {
    throw new UserError(`${model}/${mv.version} holds alias ${mv.aliases.join(', ')}: it is not deleted`, {
      exitCode: ExitCode.Conflict,
      hint: `Move the alias first: \`model-mirror models promote ${model} OTHER_VERSION --alias ${mv.aliases[0]}\`.`,
    });
  }
  const skipped: SkippedVersion[] = [];
  const plan = await planFor(client, s3, model, [mv], skipped);
  if (skipped.length) {
    throw new UserError(`${model}/${mv.version} is not deleted: ${skipped[0].reason}`, { exitCode: ExitCode.Conflict, hint: 'Wait for the mirror to finish (or finalize its run), then delete.' });
  }
  return plan;
}

export interface RemovalResult {
  readonly removed: readonly { version: string; objects_deleted: number; bytes_deleted: number; prefix: string; objects_kept_for?: readonly string[] }[];
  readonly skipped: readonly SkippedVersion[];
  readonly bytes_deleted: number;
}

/** Carries out a plan. Each version is checked again just before it goes (an alias may have moved to it). */
export async function executeRemoval(client: MlflowClient, s3: S3Client, plan: RemovalPlan): Promise<RemovalResult> {
  const removed: RemovalResult['removed'][number][] = [];
  const skipped = [...plan.skipped];
  let total = 0;
  for (const item of plan.remove) {
    let fresh: ModelVersion;
    try {
      fresh = await getModelVersion(client, plan.model, item.version);
    } catch (e) {
      if (e instanceof UserError && e.exitCode === ExitCode.NotFound) {
        skipped.push({ version: item.version, reason: 'already deleted' });
        continue;
      }
      throw e;
    }
    if (fresh.aliases?.length) {
      skipped.push({ version: item.version, reason: `holds alias ${fresh.aliases.join(', ')} (set after the plan)` });
      continue;
    }
    await deleteModelVersion(client, plan.model, item.version);
    log.info('Deleted model version', { model: plan.model, version: item.version });
    // Objects: only when no version still registered points into the prefix, not even one this
    // plan removes later (that one takes the objects with it when it goes).
    const others = referencesInto(item.prefix, await allVersionSources(client));
    if (others.length) {
      removed.push({ version: item.version, objects_deleted: 0, bytes_deleted: 0, prefix: item.prefix, objects_kept_for: others.map((r) => `${r.name}/${r.version}`) });
      continue;
    }
    const contents = await listPrefix(s3, item.prefix);
    const done = await deletePrefix(s3, contents);
    total += done.bytes;
    log.info('Deleted the version\'s objects', { prefix: item.prefix, objects: done.objects, bytes: done.bytes });
    removed.push({ version: item.version, objects_deleted: done.objects, bytes_deleted: done.bytes, prefix: item.prefix });
  }
  return { removed, skipped, bytes_deleted: total };
}
