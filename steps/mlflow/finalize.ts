// `finalize` (the workflow's exit handler): close the run, and on failure make sure no READY
// model version points at the (possibly incomplete) files of this run.
import { parseArgoFailures } from '../common/argo-failures';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { type MlflowClient, isMlflowError } from './client';
import { finalizeLoggedModel, getLoggedModel, isMissingLoggedModelsApi } from './logged-models';
import { deleteModelVersion, filterLiteral, searchModelVersions } from './registry';
import { MAX_TAG_VALUE_LENGTH, getRun, runTags, setRunTags, terminateRun, truncate } from './runs';
import { TAG } from './tags';

export type WorkflowStatus = 'Succeeded' | 'Failed' | 'Error';
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ['Succeeded', 'Failed', 'Error'];

export interface FinalizeOptions {
  readonly runId: string;
  readonly workflowStatus: WorkflowStatus;
  /** Argo's `{{workflow.failures}}` (JSON array) or any text. */
  readonly failures?: string;
  /** Restrict version clean-up to this registered model. */
  readonly modelName?: string;
}

export interface FinalizeResult {
  readonly run_id: string;
  readonly run_status: 'FINISHED' | 'FAILED';
  readonly deleted_versions: readonly string[];
  readonly failure_reason?: string;
}

/** A one-line summary of Argo's `{{workflow.failures}}` (see argo-failures.ts), or the text itself. */
export function summarizeFailures(failures: string | undefined, status: WorkflowStatus): string {
  const parsed = parseArgoFailures(failures);
  if (parsed.kind === 'text') return parsed.text;
  if (parsed.kind === 'none') return `workflow ${status}`;
  return parsed.failures.map((f) => {
    const who = f.displayName || f.templateName || 'step';
    return `${who}${f.phase ? ` (${f.phase})` : ''}: ${f.message ?? 'no message'}`;
  }).join('; ');
}

export async function finalizeRun(client: MlflowClient, opts: FinalizeOptions): Promise<FinalizeResult> {
  if (!WORKFLOW_STATUSES.includes(opts.workflowStatus)) {
    throw new UserError(`--workflow-status must be one of ${WORKFLOW_STATUSES.join(', ')}, not '${opts.workflowStatus}'`, { exitCode: ExitCode.Usage });
  }
  const run = await getRun(client, opts.runId);
  const tags = runTags(run);
  const modelId = tags[TAG.loggedModelId];

  if (opts.workflowStatus === 'Succeeded') {
    if (modelId) {
      try {
        const lm = await getLoggedModel(client, modelId);
        if (lm.info.status !== 'LOGGED_MODEL_READY') await finalizeLoggedModel(client, modelId, 'LOGGED_MODEL_READY');
      } catch (e) {
        if (!isMlflowError(e) && !isMissingLoggedModelsApi(e)) throw e;
        log.warn('Could not finalize the logged model', { modelId, error: (e as Error).message });
      }
    }
    await setRunTags(client, opts.runId, { [TAG.workflowStatus]: opts.workflowStatus });
    await terminateRun(client, opts.runId, 'FINISHED');
    log.info('Run finished', { runId: opts.runId });
    return { run_id: opts.runId, run_status: 'FINISHED', deleted_versions: [] };
  }

  // Failure: record why, then remove every version registered from this run.
  const reason = truncate(summarizeFailures(opts.failures, opts.workflowStatus), MAX_TAG_VALUE_LENGTH);
  await setRunTags(client, opts.runId, { [TAG.workflowStatus]: opts.workflowStatus, [TAG.failureReason]: reason });
  const filter = opts.modelName
    ? `name=${filterLiteral(opts.modelName)} and run_id=${filterLiteral(opts.runId)}`
    : `run_id=${filterLiteral(opts.runId)}`;
  const versions = (await searchModelVersions(client, filter)).filter((mv) => mv.run_id === opts.runId);
  const deleted: string[] = [];
  for (const mv of versions) {
    await deleteModelVersion(client, mv.name, mv.version);
    deleted.push(`${mv.name}/${mv.version}`);
    log.warn('Deleted the model version registered by the failed run', { model: mv.name, version: mv.version });
  }
  if (modelId) {
    try {
      await finalizeLoggedModel(client, modelId, 'LOGGED_MODEL_UPLOAD_FAILED');
    } catch (e) {
      if (!isMlflowError(e)) throw e;
      log.warn('Could not mark the logged model failed', { modelId, error: (e as Error).message });
    }
  }
  await terminateRun(client, opts.runId, 'FAILED');
  log.info('Run marked FAILED', { runId: opts.runId, reason });
  return { run_id: opts.runId, run_status: 'FAILED', deleted_versions: deleted, failure_reason: reason };
}
