// The runs made for one version identity (model name, repo, commit, file selection), found by the
// tags `prepare` writes on every run, and what each one means to a new mirror of that identity.
import type { MlflowClient } from './client';
import { leaseState } from './run-lease';
import { filterLiteral } from './registry';
import { type Run, runTags } from './runs';
import { TAG } from './tags';

export interface RunIdentity {
  readonly experimentId: string;
  readonly modelName: string;
  readonly repo: string;
  readonly commitSha: string;
  readonly fileSet: string;
}

/** Every active (not deleted) run of the identity, newest first. */
export async function searchIdentityRuns(client: MlflowClient, id: RunIdentity): Promise<Run[]> {
  const filter = [
    `tags.\`${TAG.sourceRepo}\` = ${filterLiteral(id.repo)}`,
    `tags.\`${TAG.commitSha}\` = ${filterLiteral(id.commitSha)}`,
    `tags.\`${TAG.fileSet}\` = ${filterLiteral(id.fileSet)}`,
    `tags.\`${TAG.registeredModel}\` = ${filterLiteral(id.modelName)}`,
  ].join(' and ');
  const out: Run[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.post<{ runs?: Run[]; next_page_token?: string }>('/api/2.0/mlflow/runs/search', {
      experiment_ids: [id.experimentId], filter, max_results: 200, order_by: ['attributes.start_time DESC'], page_token: pageToken,
    }, { idempotent: true });
    out.push(...(page.runs ?? []));
    pageToken = page.next_page_token || undefined;
  } while (pageToken);
  return out;
}

/**
 * - live: a process is writing into it (RUNNING with a lease that is still renewed): never adopted;
 *   a mirror of the same identity waits for it instead;
 * - adoptable: FAILED/KILLED, or RUNNING with its lease expired or its owner's pid gone, or RUNNING
 *   for the Argo workflow now running (an earlier attempt of its own prepare);
 * - ignored: FINISHED, superseded/swept, or RUNNING for another Argo workflow (the stale-run
 *   sweep under the workflow mutex decides those) or from a mirror without a lease.
 */
export type RunRole = 'live' | 'adoptable' | 'ignored';

export function classifyRun(run: Run, ctx: { argoWorkflow?: string; now?: number } = {}): RunRole {
  const tags = runTags(run);
  if (run.info.lifecycle_stage === 'deleted' || tags[TAG.supersededBy] || tags[TAG.swept]) return 'ignored';
  const status = run.info.status;
  if (status === 'FAILED' || status === 'KILLED') return 'adoptable';
  if (status !== 'RUNNING' && status !== 'SCHEDULED') return 'ignored';
  const workflow = tags[TAG.argoWorkflow];
  if (workflow) return ctx.argoWorkflow === workflow ? 'adoptable' : 'ignored';
  const lease = leaseState(tags, ctx.now);
  if (lease === 'live') return 'live';
  if (lease === 'none') return 'ignored';
  return 'adoptable';
}

/** Total order used when concurrent mirrors must agree on one run: the older start wins. */
export function olderRun(a: Run, b: Run): number {
  return Number(a.info.start_time ?? 0) - Number(b.info.start_time ?? 0) || a.info.run_id.localeCompare(b.info.run_id);
}
