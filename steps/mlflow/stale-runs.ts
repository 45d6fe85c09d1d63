// Runs that an Argo workflow left RUNNING. When Argo cannot create a step's pod (admission
// refused, quota, a bad image) it ends the workflow as Error and never runs the exit handler, so
// nothing closes the run `prepare` created. The next workflow for the same model closes them:
// it holds the model's mutex, so any other workflow's run that is still RUNNING is stale.
import { log } from '../common/log';
import type { MlflowClient } from './client';
import { finalizeRun } from './finalize';
import type { Run } from './runs';
import { TAG } from './tags';

export interface StaleRunSweep {
  readonly experimentId: string;
  readonly modelId: string;
  /** The workflow doing the sweep; its own runs are never touched. */
  readonly currentWorkflow: string;
}

const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Closes (FAILED, with the reason and without a version) every stale run; returns their ids. */
export async function closeStaleWorkflowRuns(client: MlflowClient, sweep: StaleRunSweep): Promise<string[]> {
  const filter = [
    `attributes.status = 'RUNNING'`,
    `tags.\`${TAG.sourceRepo}\` = ${quote(sweep.modelId)}`,
    `tags.\`${TAG.argoWorkflow}\` != ${quote(sweep.currentWorkflow)}`,
  ].join(' and ');
  const closed: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await client.post<{ runs?: Run[]; next_page_token?: string }>('/api/2.0/mlflow/runs/search', {
      experiment_ids: [sweep.experimentId], filter, max_results: 100, page_token: pageToken,
    }, { idempotent: true });
    for (const run of page.runs ?? []) {
      const workflow = (run.data.tags ?? []).find((t) => t.key === TAG.argoWorkflow)?.value;
      if (!workflow) continue; // a local `mirror` run: not ours to judge
      await finalizeRun(client, {
        runId: run.info.run_id,
        workflowStatus: 'Error',
        failures: `workflow ${workflow} ended without running its exit handler (closed by ${sweep.currentWorkflow})`,
      });
      log.warn('Closed a run an ended workflow left RUNNING', { runId: run.info.run_id, workflow });
      closed.push(run.info.run_id);
    }
    pageToken = page.next_page_token || undefined;
  } while (pageToken);
  return closed;
}
