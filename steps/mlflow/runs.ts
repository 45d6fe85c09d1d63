// Runs: create, read, tag, log params, terminate.
import { randomUUID } from 'node:crypto';
import { ExitCode, UserError } from '../common/errors';
import { type KeyValue, MlflowClient, fromKeyValues, isNotFound } from './client';

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface RunInfo {
  readonly run_id: string;
  readonly run_name?: string;
  readonly experiment_id: string;
  readonly status: RunStatus;
  readonly start_time?: number | string;
  readonly end_time?: number | string;
  /** Where the run's artifacts live, e.g. `s3://mlflow/artifacts/1/<run>/artifacts`. */
  readonly artifact_uri: string;
  readonly lifecycle_stage?: string;
}

export interface Run {
  readonly info: RunInfo;
  readonly data: { readonly tags?: readonly KeyValue[]; readonly params?: readonly KeyValue[] };
}

export const MAX_PARAM_VALUE_LENGTH = 6000;
export const MAX_TAG_VALUE_LENGTH = 8000;
const MAX_BATCH = 100;

export interface CreateRunInput {
  readonly experimentId: string;
  readonly runName: string;
  readonly tags?: Record<string, string>;
  readonly startTime?: number;
}

/**
 * Tag holding a token this client made up for one create call: after an ambiguous failure
 * (connection lost after sending, 5xx) a search for it tells whether MLflow created the object.
 */
export const CREATE_TOKEN_TAG = 'model_mirror.create_token';

export function newCreateToken(): string {
  return randomUUID();
}

export async function createRun(client: MlflowClient, input: CreateRunInput): Promise<Run> {
  const token = newCreateToken();
  const tags = { ...input.tags, [CREATE_TOKEN_TAG]: token };
  const res = await client.create<{ run: Run }>('/api/2.0/mlflow/runs/create', {
    experiment_id: input.experimentId,
    run_name: input.runName,
    start_time: input.startTime ?? Date.now(),
    tags: Object.entries(tags).map(([key, value]) => ({ key, value: truncate(value, MAX_TAG_VALUE_LENGTH) })),
  }, `run ${input.runName}`, async () => {
    const found = await findRunByTag(client, input.experimentId, CREATE_TOKEN_TAG, token);
    return found ? { run: found } : undefined;
  });
  return res.run;
}

/** The run of `experimentId` whose tag `key` is `value`, if any (deleted runs included). */
export async function findRunByTag(client: MlflowClient, experimentId: string, key: string, value: string): Promise<Run | undefined> {
  const res = await client.post<{ runs?: Run[] }>('/api/2.0/mlflow/runs/search', {
    experiment_ids: [experimentId],
    filter: `tags.\`${key}\` = '${value.replace(/'/g, "\\'")}'`,
    run_view_type: 'ALL',
    max_results: 1,
  }, { idempotent: true });
  return res.runs?.[0];
}

export async function getRun(client: MlflowClient, runId: string): Promise<Run> {
  if (!/^[0-9a-zA-Z_-]{1,64}$/.test(runId)) {
    throw new UserError(`'${runId}' is not an MLflow run id`, { exitCode: ExitCode.Usage, hint: 'Pass the run_id that `model-mirror prepare` printed.' });
  }
  try {
    const res = await client.get<{ run: Run }>('/api/2.0/mlflow/runs/get', { run_id: runId });
    return res.run;
  } catch (e) {
    if (isNotFound(e)) {
      throw new UserError(`MLflow run ${runId} does not exist on ${client.url}`, {
        exitCode: ExitCode.NotFound,
        hint: 'Pass the run_id that `model-mirror prepare` printed, against the same tracking server.',
        cause: e,
      });
    }
    throw e;
  }
}

export function runTags(run: Run): Record<string, string> {
  return fromKeyValues(run.data.tags);
}
export function runParams(run: Run): Record<string, string> {
  return fromKeyValues(run.data.params);
}

export async function setRunTags(client: MlflowClient, runId: string, tags: Record<string, string>): Promise<void> {
  const list = Object.entries(tags).map(([key, value]) => ({ key, value: truncate(value, MAX_TAG_VALUE_LENGTH) }));
  for (let i = 0; i < list.length; i += MAX_BATCH) {
    // Setting a tag again to the same value is harmless: retry freely.
    await client.post('/api/2.0/mlflow/runs/log-batch', { run_id: runId, tags: list.slice(i, i + MAX_BATCH) }, { idempotent: true });
  }
}

/**
 * Logs params once. MLflow params are immutable: logging the same value again is accepted,
 * a different value is rejected, so params already on the run with the same value are skipped
 * and a different existing value is a Conflict.
 */
export async function logParamsOnce(client: MlflowClient, run: Run, params: Record<string, string>): Promise<void> {
  const existing = runParams(run);
  const todo: KeyValue[] = [];
  for (const [key, raw] of Object.entries(params)) {
    const value = truncate(raw, MAX_PARAM_VALUE_LENGTH);
    if (key in existing) {
      if (existing[key] !== value) {
        throw new UserError(`MLflow run ${run.info.run_id} already has param ${key}=${existing[key]}, not ${value}`, {
          exitCode: ExitCode.Conflict,
          hint: 'Params are immutable: use a new run (`model-mirror prepare`) for a different model or revision.',
        });
      }
      continue;
    }
    todo.push({ key, value });
  }
  for (let i = 0; i < todo.length; i += MAX_BATCH) {
    await client.post('/api/2.0/mlflow/runs/log-batch', { run_id: run.info.run_id, params: todo.slice(i, i + MAX_BATCH) }, { idempotent: true });
  }
}

export async function terminateRun(client: MlflowClient, runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<RunInfo> {
  const res = await client.post<{ run_info: RunInfo }>('/api/2.0/mlflow/runs/update', {
    run_id: runId,
    status,
    end_time: Date.now(),
  }, { idempotent: true });
  return res.run_info;
}

export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}
