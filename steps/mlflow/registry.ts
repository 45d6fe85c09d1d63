// Model Registry: registered models, versions, aliases, version tags.
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { type KeyValue, MlflowClient, fromKeyValues, isMlflowError, isNotFound } from './client';

export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly run_id?: string;
  readonly model_id?: string;
  readonly status: ModelVersionStatus;
  readonly status_message?: string;
  readonly tags?: readonly KeyValue[];
  readonly aliases?: readonly string[];
  readonly creation_timestamp?: number | string;
}

export interface RegisteredModel {
  readonly name: string;
  readonly description?: string;
  readonly tags?: readonly KeyValue[];
  readonly aliases?: readonly { alias: string; version: string }[];
}

/** MLflow's registered model name rules (mlflow.utils.validation._validate_model_name), checked before any call. */
export function validateModelName(name: string): void {
  if (!name || !name.trim()) {
    throw new UserError('The registered model name is empty', { exitCode: ExitCode.Usage, hint: 'Pass --model-name NAME.' });
  }
  if (/[/:]/.test(name)) {
    throw new UserError(`Invalid registered model name '${name}': names cannot contain '/' or ':'`, {
      exitCode: ExitCode.Usage,
      hint: `Hub ids contain '/': use e.g. '${name.replace(/[/:]+/g, '-')}' or '${name.replace(/[/:]+/g, '.')}'.`,
    });
  }
  if (name === '.' || name.startsWith('..') || name.includes('//') || name !== name.trim() || /(^|\/)\.\.?($|\/)/.test(name)) {
    throw new UserError(`Invalid registered model name '${name}': it must not be a relative path or have surrounding spaces`, { exitCode: ExitCode.Usage });
  }
}

/** MLflow's alias rules: letters, digits, '_' and '-'; not 'latest'; not 'v<digits>'. */
export function validateAlias(alias: string): void {
  if (!/^[\w-]+$/.test(alias) || alias.length > 255) {
    throw new UserError(`Invalid alias '${alias}': use letters, digits, '_' and '-' (at most 255)`, { exitCode: ExitCode.Usage });
  }
  if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias)) {
    throw new UserError(`Alias '${alias}' is reserved by MLflow ('latest' and 'v<number>' are)`, { exitCode: ExitCode.Usage });
  }
}

export async function getRegisteredModel(client: MlflowClient, name: string): Promise<RegisteredModel | undefined> {
  try {
    const res = await client.get<{ registered_model: RegisteredModel }>('/api/2.0/mlflow/registered-models/get', { name });
    return res.registered_model;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function getOrCreateRegisteredModel(client: MlflowClient, name: string, opts: { description?: string; tags?: Record<string, string> } = {}): Promise<{ model: RegisteredModel; created: boolean }> {
  validateModelName(name);
  const existing = await getRegisteredModel(client, name);
  if (existing) return { model: existing, created: false };
  try {
    const res = await client.post<{ registered_model: RegisteredModel }>('/api/2.0/mlflow/registered-models/create', {
      name,
      description: opts.description,
      tags: Object.entries(opts.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    log.info('Created registered model', { model: name });
    return { model: res.registered_model, created: true };
  } catch (e) {
    if (isMlflowError(e, 'RESOURCE_ALREADY_EXISTS')) {
      const again = await getRegisteredModel(client, name);
      if (again) return { model: again, created: false };
    }
    throw e;
  }
}

export interface CreateModelVersionInput {
  readonly name: string;
  readonly source: string;
  readonly runId?: string;
  readonly modelId?: string;
  readonly tags?: Record<string, string>;
  readonly description?: string;
}

export async function createModelVersion(client: MlflowClient, input: CreateModelVersionInput): Promise<ModelVersion> {
  const res = await client.post<{ model_version: ModelVersion }>('/api/2.0/mlflow/model-versions/create', {
    name: input.name,
    source: input.source,
    run_id: input.runId,
    model_id: input.modelId,
    description: input.description,
    tags: Object.entries(input.tags ?? {}).map(([key, value]) => ({ key, value })),
  });
  return res.model_version;
}

export async function getModelVersion(client: MlflowClient, name: string, version: string): Promise<ModelVersion> {
  try {
    const res = await client.get<{ model_version: ModelVersion }>('/api/2.0/mlflow/model-versions/get', { name, version });
    return res.model_version;
  } catch (e) {
    if (isNotFound(e)) {
      throw new UserError(`Registered model '${name}' has no version ${version} on ${client.url}`, { exitCode: ExitCode.NotFound, cause: e });
    }
    throw e;
  }
}

/** Escapes a value for an MLflow search filter string literal. */
export function filterLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** All versions matching `filter` (e.g. `name='x' and tags.\`k\`='v'`), every page. */
export async function searchModelVersions(client: MlflowClient, filter: string, maxPages = 50): Promise<ModelVersion[]> {
  const out: ModelVersion[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await client.get<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      '/api/2.0/mlflow/model-versions/search',
      { filter, max_results: 200, page_token: pageToken },
    );
    out.push(...(res.model_versions ?? []));
    pageToken = res.next_page_token || undefined;
    if (!pageToken) break;
  }
  return out;
}

/** Polls until the version is READY; FAILED_REGISTRATION or the timeout is an error. */
export async function waitForModelVersionReady(client: MlflowClient, name: string, version: string, timeoutSeconds: number, pollMs = 1000): Promise<ModelVersion> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let delay = Math.min(pollMs, 250);
  for (;;) {
    const mv = await getModelVersion(client, name, version);
    if (mv.status === 'READY') return mv;
    if (mv.status === 'FAILED_REGISTRATION') {
      throw new UserError(`Model version ${name}/${version} failed registration: ${mv.status_message ?? 'no message'}`, { exitCode: ExitCode.Internal });
    }
    if (Date.now() >= deadline) {
      throw new UserError(`Model version ${name}/${version} is still ${mv.status} after ${timeoutSeconds}s`, {
        exitCode: ExitCode.Unavailable,
        hint: 'Raise --wait-timeout, or check the MLflow server logs.',
      });
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, pollMs);
  }
}

export async function setModelVersionTags(client: MlflowClient, name: string, version: string, tags: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(tags)) {
    // Concurrent mirrors reusing one version set the same tag at once: see isUpsertRace.
    await retryUpsertRace(`tag ${key} of ${name}/${version}`, () => client.post('/api/2.0/mlflow/model-versions/set-tag', { name, version, key, value }, { idempotent: true }));
  }
}

/** The version an alias points at, or undefined. */
export async function getAliasVersion(client: MlflowClient, name: string, alias: string): Promise<string | undefined> {
  try {
    const res = await client.get<{ model_version: ModelVersion }>('/api/2.0/mlflow/registered-models/alias', { name, alias });
    return res.model_version?.version;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * MLflow sets an alias or a version tag by reading the row and then inserting or updating it; two
 * mirrors doing it at once race, and the loser gets a unique-constraint error (`UniqueViolation`,
 * a 400). That is a conflict to retry, not bad input: the retry updates the row the other wrote.
 */
export function isUpsertRace(e: unknown): boolean {
  return /UniqueViolation|IntegrityError|unique constraint|duplicate key/i.test((e as Error)?.message ?? '');
}
/** Retries `write` after an upsert race; `settled` (a re-read) may say the value is already there. */
async function retryUpsertRace(what: string, write: () => Promise<unknown>, settled?: () => Promise<boolean>, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (e) {
      if (!isUpsertRace(e) || attempt >= attempts) throw e;
      if (settled && await settled()) return;
      log.info(`${what} was being written concurrently; writing it again`);
      await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 200) * attempt));
    }
  }
}

export async function setAlias(client: MlflowClient, name: string, alias: string, version: string): Promise<void> {
  validateAlias(alias);
  await retryUpsertRace(
    `alias ${alias} of ${name}`,
    () => client.post('/api/2.0/mlflow/registered-models/alias', { name, alias, version }, { idempotent: true }),
    async () => (await getAliasVersion(client, name, alias)) === version,
  );
}


export async function deleteModelVersion(client: MlflowClient, name: string, version: string): Promise<void> {
  try {
    await client.delete('/api/2.0/mlflow/model-versions/delete', { name, version }, { idempotent: true });
  } catch (e) {
    if (isNotFound(e)) return; // already gone
    throw e;
  }
}

export async function getModelVersionDownloadUri(client: MlflowClient, name: string, version: string): Promise<string> {
  const res = await client.get<{ artifact_uri: string }>('/api/2.0/mlflow/model-versions/get-download-uri', { name, version });
  return res.artifact_uri;
}

export function versionTags(mv: ModelVersion): Record<string, string> {
  return fromKeyValues(mv.tags);
}
