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

/**
 * Every version of the model, oldest first (by version number), with its aliases: MLflow's
 * version search leaves `aliases` empty, the registered model lists them.
 */
export async function listVersions(client: MlflowClient, name: string): Promise<ModelVersion[]> {
  const [versions, model] = [await searchModelVersions(client, `name=${filterLiteral(name)}`), await getRegisteredModel(client, name)];
  const aliases = new Map<string, string[]>();
  for (const a of model?.aliases ?? []) aliases.set(a.version, [...(aliases.get(a.version) ?? []), a.alias]);
  return versions
    .map((v) => ({ ...v, aliases: aliases.get(v.version) ?? [] }))
    .sort((a, b) => Number(a.version) - Number(b.version));
}

function aliasList(model: RegisteredModel): string {
  const aliases = (model.aliases ?? []).map((a) => `${a.alias} (version ${a.version})`);
  return aliases.length ? aliases.join(', ') : 'none';
}

/** The version a reference names (alias or number); the model must exist. */
export async function resolveVersionRef(client: MlflowClient, ref: ModelRef): Promise<ModelVersion> {
  const model = await requireRegisteredModel(client, ref.name);
  if (ref.alias) {
    // Checked against the model's own alias list: MLflow answers an unknown alias with a
    // parameter error, not "not found".
    const held = (model.aliases ?? []).find((a) => a.alias === ref.alias);
    if (!held) {
      throw new UserError(`Registered model '${ref.name}' has no alias '${ref.alias}'`, {
        exitCode: ExitCode.NotFound,
        hint: `Its aliases: ${aliasList(model)}. Set one with \`model-mirror models promote ${ref.name} VERSION --alias ${ref.alias}\`.`,
      });
    }
    return resolveVersionRef(client, { name: ref.name, version: held.version });
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
