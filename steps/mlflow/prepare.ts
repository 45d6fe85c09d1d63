// `prepare`: the experiment and run a mirror writes into, and where its files go.
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { TOOL_NAME, TOOL_VERSION } from '../common/version';
import { joinUri } from './artifacts';
import type { MlflowClient } from './client';
import { getOrCreateExperiment } from './experiments';
import { validateModelName } from './registry';
import { createRun, getRun, type Run, terminateRun } from './runs';
import { fromKeyValues } from './client';
import { getExperiment } from './experiments';
import { PARAM, TAG } from './tags';
import { MODEL_ARTIFACT_PATH } from './transformers-layout';

export interface PrepareOptions {
  readonly modelId: string;
  readonly revision: string;
  readonly experiment: string;
  readonly modelName: string;
  readonly task?: string;
  readonly hubUrl?: string;
  /** From the Hub check (checkSource): recorded on the run as tags. */
  readonly commitSha?: string;
  readonly fileSet?: string;
  /** The Argo workflow running this prepare (`{{workflow.name}}`), recorded on the run. */
  readonly argoWorkflow?: string;
  /** The policy's decision as tags (steps/policy/tags.ts), recorded on the run; register copies them to the version. */
  readonly policyTags?: Readonly<Record<string, string>>;
  /** More tags for the new run (the lease of the process that will write into it). */
  readonly extraTags?: Record<string, string>;
}

export interface PrepareResult {
  readonly run_id: string;
  readonly run_name: string;
  readonly experiment_id: string;
  readonly experiment_name: string;
  /** The run's artifact root, e.g. s3://mlflow/artifacts/1/<run>/artifacts */
  readonly artifact_uri: string;
  /** Where `upload` writes: `<artifact_uri>/model` */
  readonly s3_destination: string;
  /** Set when a failed or stuck run was reopened: its status then (see adopt-run.ts). */
  readonly adopted_from?: string;
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

export function runNameFor(repo: string, revision: string): string {
  const rev = /^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 12) : revision;
  const name = `mirror-${repo.replace(/\//g, '--')}-${rev}`.replace(/[^\w.@-]+/g, '-');
  return name.length > 250 ? name.slice(0, 250) : name;
}

/** The checks that need neither the Hub nor MLflow: run them before anything else. */
export function validatePrepareInput(opts: Pick<PrepareOptions, 'modelId' | 'revision' | 'modelName'>): void {
  if (!REPO_ID.test(opts.modelId) || opts.modelId.includes('..')) {
    throw new UserError(`'${opts.modelId}' is not a Hub model id (expected org/name)`, { exitCode: ExitCode.Usage });
  }
  if (!opts.revision.trim()) throw new UserError('--revision is empty', { exitCode: ExitCode.Usage });
  validateModelName(opts.modelName);
}

export async function prepareRun(client: MlflowClient, opts: PrepareOptions): Promise<PrepareResult> {
  validatePrepareInput(opts); // fail before creating anything

  const { experiment } = await getOrCreateExperiment(client, opts.experiment);
  if (experiment.artifact_location && !/^s3a?:\/\//.test(experiment.artifact_location)) {
    throw new UserError(`MLflow experiment '${experiment.name}' stores artifacts at ${experiment.artifact_location}, not on S3`, {
      exitCode: ExitCode.Usage,
      hint: 'Run the MLflow server with --default-artifact-root s3://<bucket>/<prefix> and --no-serve-artifacts (model-mirror writes to S3 directly), or use an experiment created that way.',
    });
  }

  const runName = runNameFor(opts.modelId, opts.revision);
  const run = await createRun(client, {
    experimentId: experiment.experiment_id,
    runName,
    tags: {
      [TAG.sourceRepo]: opts.modelId,
      [TAG.requestedRevision]: opts.revision,
      [TAG.registeredModel]: opts.modelName,
      [TAG.toolVersion]: TOOL_VERSION,
      [TAG.sourceName]: `${TOOL_NAME} ${opts.modelId}@${opts.revision}`,
      [TAG.sourceType]: 'JOB',
      [TAG.user]: TOOL_NAME,
      ...(opts.hubUrl ? { [TAG.hubUrl]: opts.hubUrl } : {}),
      ...(opts.commitSha ? { [TAG.commitSha]: opts.commitSha } : {}),
      ...(opts.fileSet ? { [TAG.fileSet]: opts.fileSet } : {}),
      ...(opts.argoWorkflow ? { [TAG.argoWorkflow]: opts.argoWorkflow } : {}),
      ...opts.policyTags,
      ...opts.extraTags,
    },
  });
  const runId = run.info.run_id;
  const artifactUri = run.info.artifact_uri;
  if (!/^s3a?:\/\//.test(artifactUri)) {
    await terminateRun(client, runId, 'FAILED').catch(() => undefined);
    throw new UserError(`MLflow gave run ${runId} the artifact location ${artifactUri}, not an s3:// URI`, {
      exitCode: ExitCode.Usage,
      hint: 'Start the MLflow server with --no-serve-artifacts and an s3:// --default-artifact-root: with artifact serving on, runs get mlflow-artifacts:/ URIs that clients cannot write to S3 directly.',
    });
  }
  // Params are immutable: only what is known now (commit_sha is logged by `register`).
  const params: Record<string, string> = {
    [PARAM.sourceRepo]: opts.modelId,
    [PARAM.requestedRevision]: opts.revision,
    [PARAM.registeredModelName]: opts.modelName,
  };
  if (opts.task) params[PARAM.task] = opts.task;
  await client.post('/api/2.0/mlflow/runs/log-batch', {
    run_id: runId,
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
  }, { idempotent: true });

  const result: PrepareResult = {
    run_id: runId,
    run_name: runName,
    experiment_id: experiment.experiment_id,
    experiment_name: experiment.name,
    artifact_uri: artifactUri.replace(/\/+$/, ''),
    s3_destination: joinUri(artifactUri, MODEL_ARTIFACT_PATH),
  };
  log.info('Prepared MLflow run', { runId, experiment: experiment.name, destination: result.s3_destination });
  return result;
}

/** What `prepare` reports for an existing run that this mirror continues. */
export async function preparedFromRun(client: MlflowClient, run: Run, opts: PrepareOptions, adoptedFrom: string): Promise<PrepareResult> {
  const experiment = await getExperiment(client, run.info.experiment_id);
  const artifactUri = run.info.artifact_uri.replace(/\/+$/, '');
  return {
    run_id: run.info.run_id,
    run_name: run.info.run_name ?? runNameFor(opts.modelId, opts.revision),
    experiment_id: experiment.experiment_id,
    experiment_name: experiment.name,
    artifact_uri: artifactUri,
    s3_destination: joinUri(artifactUri, MODEL_ARTIFACT_PATH),
    adopted_from: adoptedFrom,
  };
}

/**
 * A run a mirror killed in the same work dir left RUNNING without a lease (made before leases
 * existed): still RUNNING, made for exactly these options, in this experiment. Undefined otherwise.
 */
export async function legacyResumableRun(client: MlflowClient, runId: string, opts: PrepareOptions): Promise<Run | undefined> {
  let run;
  try {
    run = await getRun(client, runId);
  } catch (e) {
    if (e instanceof UserError && e.exitCode === ExitCode.NotFound) return undefined;
    throw e;
  }
  if (run.info.status !== 'RUNNING' || run.info.lifecycle_stage === 'deleted') return undefined;
  const tags = fromKeyValues(run.data.tags);
  if (tags[TAG.leaseOwner] || tags[TAG.argoWorkflow]) return undefined; // owned: see identity-runs.ts
  if (tags[TAG.sourceRepo] !== opts.modelId || tags[TAG.requestedRevision] !== opts.revision || tags[TAG.registeredModel] !== opts.modelName) return undefined;
  // Another file selection or commit: its objects are not this mirror's.
  if (opts.fileSet && tags[TAG.fileSet] && tags[TAG.fileSet] !== opts.fileSet) return undefined;
  if (opts.commitSha && tags[TAG.commitSha] && tags[TAG.commitSha] !== opts.commitSha) return undefined;
  const experiment = await getExperiment(client, run.info.experiment_id);
  if (experiment.name !== opts.experiment || !/^s3a?:\/\//.test(run.info.artifact_uri)) return undefined;
  return run;
}
