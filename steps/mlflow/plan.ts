// The start of every mirror (`prepare`, `mirror`): Hub first, then the registry, then MLflow state.
//  1. input checks (no network);
//  2. the Hub: repo, revision -> commit, file selection, gated access (checkSource) — a mistyped
//     id or revision fails here, before any experiment, run or version exists;
//  3. the registry: is (model name, repo, commit, file selection) already a READY version? Then
//     re-apply the alias and tags and stop: no run, no objects, 0 bytes moved;
//  4. otherwise the experiment and a run to upload into.
import type { RetryOptions } from '../common/retry';
import { checkSource, type CheckedSource } from '../hub/check-source';
import type { Policy } from '../policy/policy';
import { policyTags } from '../policy/tags';
import type { MlflowClient } from './client';
import { findRegisteredVersion, reapplyToExisting } from './identity';
import { getExperimentByName } from './experiments';
import { closeStaleWorkflowRuns } from './stale-runs';
import { type PrepareOptions, type PrepareResult, prepareRun, resumableRun, validatePrepareInput } from './prepare';
import { setModelVersionTags, validateAlias, type ModelVersion } from './registry';
import { setRunTags } from './runs';

export interface PlanOptions extends PrepareOptions {
  readonly alias?: string;
  readonly accessToken?: string;
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
  readonly retry?: RetryOptions;
  /** A run an interrupted `mirror` left RUNNING, to continue instead of a new one. */
  readonly previousRunId?: string;
  readonly waitTimeoutSeconds?: number;
  /** The mirroring policy, checked on the Hub before any MLflow state (a refusal exits 9). */
  readonly policy?: Policy;
}

export type MirrorPlan =
  | { readonly reused: true; readonly source: CheckedSource; readonly version: ModelVersion; readonly model_uri: string }
  | { readonly reused: false; readonly source: CheckedSource; readonly run: PrepareResult };

export async function planMirror(client: MlflowClient, opts: PlanOptions): Promise<MirrorPlan> {
  validatePrepareInput(opts);
  if (opts.alias) validateAlias(opts.alias);
  const source = await checkSource({
    modelId: opts.modelId,
    revision: opts.revision,
    hubUrl: opts.hubUrl,
    accessToken: opts.accessToken,
    allowPatterns: opts.allowPatterns,
    ignorePatterns: opts.ignorePatterns,
    retry: opts.retry,
    policy: opts.policy,
  });
  const tags = source.policy ? policyTags(source.policy) : undefined;
  if (opts.argoWorkflow) {
    // Before looking for a version to reuse: closing a stale run also deletes a version made from it.
    const experiment = await getExperimentByName(client, opts.experiment);
    if (experiment) {
      await closeStaleWorkflowRuns(client, { experimentId: experiment.experiment_id, modelId: opts.modelId, currentWorkflow: opts.argoWorkflow });
    }
  }
  const identity = { modelName: opts.modelName, repo: source.repo, commitSha: source.commitSha, fileSet: source.fileSet };
  const existing = await findRegisteredVersion(client, identity, opts.waitTimeoutSeconds);
  if (existing) {
    await reapplyToExisting(client, identity, existing, opts.alias);
    // The policy that passed it this time (same files, so the same bytes).
    if (tags) await setModelVersionTags(client, opts.modelName, existing.version, tags);
    return { reused: true, source, version: existing, model_uri: `models:/${opts.modelName}/${existing.version}` };
  }
  const prepareOpts: PrepareOptions = { ...opts, commitSha: source.commitSha, fileSet: source.fileSet, policyTags: tags };
  const resumed = opts.previousRunId ? await resumableRun(client, opts.previousRunId, prepareOpts) : undefined;
  if (resumed && tags) await setRunTags(client, resumed.run_id, tags);
  const run = resumed || await prepareRun(client, prepareOpts);
  return { reused: false, source, run };
}
