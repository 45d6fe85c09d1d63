// Adopting a run: a rerun of the same identity continues the prefix a failed or stuck run wrote
// into, so only what is missing moves (upload skips objects whose size and sha256 match and resumes
// open multipart uploads; the rest of that prefix's open uploads are aborted after the upload).
//
// Design: the failed run itself is reopened (runs/update status=RUNNING; MLflow 3.17.2 accepts
// FAILED -> RUNNING, measured, and keeps the old end_time until the run ends again) rather than
// pointing a new run at the old prefix. The files then stay in the artifact location of the run
// that registers them, so the version's run, its source and MLflow's own bookkeeping agree, and
// `mlflow gc` of a deleted "failed" run can never remove files a version uses. The earlier
// attempt's failure is kept as model_mirror.previous_failure and the attempt count as
// model_mirror.attempts.
//
// Two reruns may pick the same run at once: each writes itself as the lease owner, waits
// ADOPT_SETTLE_MS and reads the owner back; the one not named gives up. The lease is advisory
// (tags have no compare-and-set); register.ts still keeps one version per identity if both went on.
import { log } from '../common/log';
import type { MlflowClient } from './client';
import { leaseState, leaseTags } from './run-lease';
import { getRun, type Run, runTags, setRunTags } from './runs';
import { TAG } from './tags';

export const ADOPT_SETTLE_MS = 500;

export interface AdoptOptions {
  /** This process's lease owner id (none for an Argo workflow: the workflow owns the run). */
  readonly owner?: string;
  readonly argoWorkflow?: string;
  readonly settleMs?: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function deleteRunTag(client: MlflowClient, runId: string, key: string): Promise<void> {
  await client.post('/api/2.0/mlflow/runs/delete-tag', { run_id: runId, key }, { idempotent: true }).catch(() => undefined);
}

/** Reopens `run` for this process; false when another mirror took it first. */
export async function adoptRun(client: MlflowClient, run: Run, opts: AdoptOptions): Promise<boolean> {
  const runId = run.info.run_id;
  const before = await getRun(client, runId);
  const tags = runTags(before);
  // Someone adopted it since we listed it.
  if (before.info.status === 'RUNNING' && !tags[TAG.argoWorkflow] && leaseState(tags) === 'live' && tags[TAG.leaseOwner] !== opts.owner) return false;
  const attempts = (Number(tags[TAG.attempts]) || 1) + 1;
  await setRunTags(client, runId, {
    [TAG.attempts]: String(attempts),
    ...(tags[TAG.failureReason] ? { [TAG.previousFailure]: tags[TAG.failureReason] } : {}),
    ...(opts.owner ? leaseTags(opts.owner) : {}),
    ...(opts.argoWorkflow ? { [TAG.argoWorkflow]: opts.argoWorkflow } : {}),
  });
  if (opts.owner) {
    await sleep(opts.settleMs ?? ADOPT_SETTLE_MS);
    const after = runTags(await getRun(client, runId));
    if (after[TAG.leaseOwner] !== opts.owner) {
      log.info('Another mirror adopted the same run first', { runId, owner: after[TAG.leaseOwner] });
      return false;
    }
  }
  // A workflow's failed run adopted by a local mirror is the mirror's now: without the tag, a later
  // workflow's stale-run sweep does not close it under the mirror.
  if (opts.owner && !opts.argoWorkflow && tags[TAG.argoWorkflow]) await deleteRunTag(client, runId, TAG.argoWorkflow);
  if (before.info.status !== 'RUNNING') {
    await client.post('/api/2.0/mlflow/runs/update', { run_id: runId, status: 'RUNNING' }, { idempotent: true });
  }
  // The reopened run is not failed (yet): the reason moved to previous_failure.
  await deleteRunTag(client, runId, TAG.failureReason);
  await deleteRunTag(client, runId, TAG.workflowStatus);
  log.info(`Adopting run ${runId} (${before.info.status}, attempt ${attempts}): continuing its S3 prefix, only missing bytes are sent`, {
    runId, previousFailure: tags[TAG.failureReason],
  });
  return true;
}
