// MLflow 3 logged models (`/api/2.0/mlflow/logged-models`): what the experiment's Models tab lists
// and what a model version's `model_id` points at.
import type { S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { mapLimit } from '../common/retry';
import { copyS3Object } from '../s3/copy-object';
import { joinUri } from './artifacts';
import { type KeyValue, MlflowClient, fromKeyValues, isMlflowError } from './client';
import { CREATE_TOKEN_TAG, newCreateToken } from './runs';
import { METADATA_FILES, type TransformersLayout } from './transformers-layout';

export type LoggedModelStatus = 'LOGGED_MODEL_PENDING' | 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED';

export interface LoggedModel {
  readonly info: {
    readonly model_id: string;
    readonly experiment_id: string;
    readonly name: string;
    readonly artifact_uri?: string;
    readonly status?: LoggedModelStatus;
    readonly source_run_id?: string;
    readonly model_type?: string;
    readonly tags?: readonly KeyValue[];
  };
  readonly data?: { readonly params?: readonly KeyValue[] };
}

export interface CreateLoggedModelInput {
  readonly experimentId: string;
  readonly name: string;
  readonly sourceRunId?: string;
  readonly modelType?: string;
  readonly tags?: Record<string, string>;
  readonly params?: Record<string, string>;
}

export async function createLoggedModel(client: MlflowClient, input: CreateLoggedModelInput): Promise<LoggedModel> {
  // See CREATE_TOKEN_TAG: a create that failed ambiguously is looked up before it is sent again.
  const token = newCreateToken();
  const tags = { ...input.tags, [CREATE_TOKEN_TAG]: token };
  const res = await client.create<{ model: LoggedModel }>('/api/2.0/mlflow/logged-models', {
    experiment_id: input.experimentId,
    name: input.name,
    source_run_id: input.sourceRunId,
    model_type: input.modelType,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    params: Object.entries(input.params ?? {}).map(([key, value]) => ({ key, value })),
  }, `logged model ${input.name}`, async () => {
    const found = await searchLoggedModels(client, [input.experimentId], `tags.\`${CREATE_TOKEN_TAG}\` = '${token}'`);
    return found[0] ? { model: found[0] } : undefined;
  });
  return res.model;
}

export async function getLoggedModel(client: MlflowClient, modelId: string): Promise<LoggedModel> {
  const res = await client.get<{ model: LoggedModel }>(`/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}`);
  return res.model;
}

export async function finalizeLoggedModel(client: MlflowClient, modelId: string, status: 'LOGGED_MODEL_READY' | 'LOGGED_MODEL_UPLOAD_FAILED'): Promise<LoggedModel> {
  const res = await client.patch<{ model: LoggedModel }>(`/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}`, { model_id: modelId, status });
  return res.model;
}

export async function setLoggedModelTags(client: MlflowClient, modelId: string, tags: Record<string, string>): Promise<void> {
  await client.patch(`/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}/tags`, {
    model_id: modelId,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  });
}

export async function searchLoggedModels(client: MlflowClient, experimentIds: readonly string[], filter?: string): Promise<LoggedModel[]> {
  const out: LoggedModel[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < 50; page++) {
    const res = await client.post<{ models?: LoggedModel[]; next_page_token?: string }>('/api/2.0/mlflow/logged-models/search', {
      experiment_ids: experimentIds,
      filter,
      max_results: 100,
      page_token: pageToken,
    }, { idempotent: true });
    out.push(...(res.models ?? []));
    pageToken = res.next_page_token || undefined;
    if (!pageToken) break;
  }
  return out;
}

export function loggedModelTags(m: LoggedModel): Record<string, string> {
  return fromKeyValues(m.info.tags);
}

/** True when the server has no logged-models API (MLflow < 3): callers then skip logged models. */
export function isMissingLoggedModelsApi(e: unknown): boolean {
  return isMlflowError(e) && e.errorCode === undefined && (e.status === 404 || e.status === 405);
}

export function warnNoLoggedModels(): void {
  log.warn('This MLflow server has no logged-models API (MLflow < 3): the model will not be listed in the experiment\'s Models tab');
}

export async function deleteLoggedModel(client: MlflowClient, modelId: string): Promise<void> {
  await client.delete(`/api/2.0/mlflow/logged-models/${encodeURIComponent(modelId)}`, { model_id: modelId }, { idempotent: true });
}

/** Lists the logged model among the run's outputs (the run page's "Logged models"). */
export async function linkRunOutputs(client: MlflowClient, runId: string, modelId: string): Promise<void> {
  await client.post('/api/2.0/mlflow/runs/outputs', { run_id: runId, models: [{ model_id: modelId, step: 0 }] }, { idempotent: true });
}

/**
 * Copies the whole MLflow model directory (`modelRoot`: the snapshot, the tokenizer component,
 * MLmodel, env files, manifest) to the logged model's artifact location, server-side. Returns
 * the bytes copied.
 */
export async function copyModelToLoggedModel(
  client: MlflowClient, s3: S3Client, input: { modelRoot: string; logged: LoggedModel; layout: TransformersLayout },
): Promise<number> {
  const dest = input.logged.info.artifact_uri;
  if (!dest || !/^s3a?:\/\//.test(dest)) {
    throw new UserError(`Logged model ${input.logged.info.model_id} has the artifact location ${dest ?? '(none)'}, not an s3:// URI`, { exitCode: ExitCode.Usage });
  }
  const items: Array<{ key: string; size?: number }> = [
    ...input.layout.entries.map((e) => ({ key: e.key, size: e.size })),
    ...METADATA_FILES.map((key) => ({ key })),
  ];
  const started = Date.now();
  // Biggest first; a few in flight (each big one also copies its parts in parallel).
  const sizes = await mapLimit([...items].sort((a, b) => (b.size ?? 0) - (a.size ?? 0)), 4, (it) =>
    copyS3Object(s3, joinUri(input.modelRoot, it.key), joinUri(dest, it.key), { size: it.size }));
  const bytes = sizes.reduce((n, b) => n + b, 0);
  const seconds = (Date.now() - started) / 1000;
  log.info(`Copied the model to logged model ${input.logged.info.model_id} (server-side)`, {
    location: dest, objects: items.length, bytes, seconds: Number(seconds.toFixed(1)),
  });
  return bytes;
}
