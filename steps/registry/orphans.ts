// `models cleanup <name> --orphans`: artifact directories of this tool's runs for the model that no
// version points into (failed or abandoned mirrors, versions deleted while S3 failed). A run that
// is still RUNNING (or SCHEDULED) is never touched: a mirror may be uploading there right now.
import type { S3Client } from '@aws-sdk/client-s3';
import { log } from '../common/log';
import type { MlflowClient } from '../mlflow/client';
import { filterLiteral } from '../mlflow/registry';
import type { Run } from '../mlflow/runs';
import { TAG } from '../mlflow/tags';
import { allVersionSources, referencesInto } from './references';
import { deletePrefix, listPrefix, prefixUri } from './s3-objects';

export interface OrphanPrefix {
  readonly run_id: string;
  readonly run_status: string;
  readonly prefix: string;
  readonly objects: number;
  readonly bytes: number;
  readonly open_uploads: number;
}

export interface OrphanPlan {
  readonly model: string;
  readonly orphans: readonly OrphanPrefix[];
  readonly skipped: readonly { run_id: string; reason: string }[];
  readonly bytes: number;
  readonly objects: number;
}

async function experimentIds(client: MlflowClient): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const res = await client.post<{ experiments?: { experiment_id: string }[]; next_page_token?: string }>(
      '/api/2.0/mlflow/experiments/search', { max_results: 1000, view_type: 'ALL', page_token: pageToken }, { idempotent: true },
    );
    ids.push(...(res.experiments ?? []).map((e) => e.experiment_id));
    pageToken = res.next_page_token || undefined;
  } while (pageToken);
  return ids;
}

/** Runs model-mirror made for this registered model, in every experiment, deleted ones too. */
async function toolRuns(client: MlflowClient, model: string): Promise<Run[]> {
  const ids = await experimentIds(client);
  const runs: Run[] = [];
  const filter = `tags.\`${TAG.registeredModel}\` = ${filterLiteral(model)}`;
  for (let i = 0; i < ids.length; i += 100) {
    let pageToken: string | undefined;
    do {
      const res = await client.post<{ runs?: Run[]; next_page_token?: string }>('/api/2.0/mlflow/runs/search', {
        experiment_ids: ids.slice(i, i + 100), filter, run_view_type: 'ALL', max_results: 1000, page_token: pageToken,
      }, { idempotent: true });
      runs.push(...(res.runs ?? []));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
  }
  return runs;
}

export async function planOrphans(client: MlflowClient, s3: S3Client, model: string): Promise<OrphanPlan> {
  const runs = await toolRuns(client, model);
  const refs = await allVersionSources(client);
  const orphans: OrphanPrefix[] = [];
  const skipped: { run_id: string; reason: string }[] = [];
  for (const run of runs) {
    const { run_id, status, artifact_uri } = run.info;
    if (!/^s3a?:\/\//.test(artifact_uri ?? '')) continue;
    if (status === 'RUNNING' || status === 'SCHEDULED') {
      skipped.push({ run_id, reason: `run is ${status}` });
      continue;
    }
    const prefix = prefixUri(artifact_uri);
    if (referencesInto(prefix, refs).length) continue;
    const contents = await listPrefix(s3, prefix);
    if (!contents.objects && !contents.openUploads.length) continue;
    orphans.push({ run_id, run_status: status, prefix, objects: contents.objects, bytes: contents.bytes, open_uploads: contents.openUploads.length });
  }
  orphans.sort((a, b) => a.prefix.localeCompare(b.prefix));
  return { model, orphans, skipped, bytes: orphans.reduce((s, o) => s + o.bytes, 0), objects: orphans.reduce((s, o) => s + o.objects, 0) };
}

/** Deletes the planned prefixes, each checked again first (a version may point there by now). */
export async function deleteOrphans(client: MlflowClient, s3: S3Client, plan: OrphanPlan): Promise<{ deleted: OrphanPrefix[]; bytes_deleted: number; kept: string[] }> {
  const deleted: OrphanPrefix[] = [];
  const kept: string[] = [];
  let bytes = 0;
  for (const o of plan.orphans) {
    const refs = await allVersionSources(client);
    if (referencesInto(o.prefix, refs).length) {
      kept.push(o.prefix);
      continue;
    }
    const contents = await listPrefix(s3, o.prefix);
    const done = await deletePrefix(s3, contents);
    bytes += done.bytes;
    log.info('Deleted orphaned run objects', { prefix: o.prefix, runId: o.run_id, objects: done.objects, bytes: done.bytes });
    deleted.push({ ...o, objects: done.objects, bytes: done.bytes });
  }
  return { deleted, bytes_deleted: bytes, kept };
}
