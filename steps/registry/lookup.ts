// Finding a registered model or version with errors that say what exists instead (exit 3).
import { ExitCode, UserError } from '../common/errors';
import { type MlflowClient, isNotFound } from '../mlflow/client';
import { type ModelVersion, type RegisteredModel, getRegisteredModel, searchModelVersions, filterLiteral } from '../mlflow/registry';
import { type ModelRef, formatRef } from './model-ref';

export async function requireRegisteredModel(client: MlflowClient, name: string): Promise<RegisteredModel> {
  const model = await getRegisteredModel(client, name);
  if (!model) {
    throw new UserError(`No registered model '${name}' on ${client.url}`, {
      exitCode: ExitCode.NotFound,
      hint: 'See the mirrored models with `model-mirror models list` (names are case-sensitive).',
    });
  }
  return model;
}

/** Every version of the model, oldest first (by version number). */
export async function listVersions(client: MlflowClient, name: string): Promise<ModelVersion[]> {
  const versions = await searchModelVersions(client, `name=${filterLiteral(name)}`);
  return versions.sort((a, b) => Number(a.version) - Number(b.version));
}

function aliasList(model: RegisteredModel): string {
  const aliases = (model.aliases ?? []).map((a) => `${a.alias} (version ${a.version})`);
  return aliases.length ? aliases.join(', ') : 'none';
}

/** The version a reference names (alias or number); the model must exist. */
export async function resolveVersionRef(client: MlflowClient, ref: ModelRef): Promise<ModelVersion> {
  const model = await requireRegisteredModel(client, ref.name);
  if (ref.alias) {
    try {
      const res = await client.get<{ model_version: ModelVersion }>('/api/2.0/mlflow/registered-models/alias', { name: ref.name, alias: ref.alias });
      return res.model_version;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      throw new UserError(`Registered model '${ref.name}' has no alias '${ref.alias}'`, {
        exitCode: ExitCode.NotFound,
        hint: `Its aliases: ${aliasList(model)}. Set one with \`model-mirror models promote ${ref.name} VERSION --alias ${ref.alias}\`.`,
        cause: e,
      });
    }
  }
  const version = ref.version!;
  try {
    const res = await client.get<{ model_version: ModelVersion }>('/api/2.0/mlflow/model-versions/get', { name: ref.name, version });
    return res.model_version;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    const existing = (await listVersions(client, ref.name)).map((v) => v.version);
    throw new UserError(`Registered model '${ref.name}' has no version ${version} (${formatRef(ref)})`, {
      exitCode: ExitCode.NotFound,
      hint: `Its versions: ${existing.length ? existing.join(', ') : 'none'}.`,
      cause: e,
    });
  }
}
