// `models promote`: point an alias at a version, saying which version held it before.
import { ExitCode, UserError } from '../common/errors';
import type { MlflowClient } from '../mlflow/client';
import { setAlias, validateAlias } from '../mlflow/registry';
import { requireRegisteredModel, resolveVersionRef } from './lookup';

export interface PromoteInput {
  readonly name: string;
  readonly version: string;
  readonly alias: string;
  /**
   * Refuse unless the alias still points at this version ('none': unless the alias is unset).
   * For automation that read the alias earlier and must not undo someone else's move.
   */
  readonly ifCurrent?: string;
}

export interface PromoteResult {
  readonly model: string;
  readonly alias: string;
  readonly version: string;
  /** The version that held the alias before, or null when it was unset. */
  readonly previous: string | null;
  readonly changed: boolean;
}

export async function promote(client: MlflowClient, input: PromoteInput): Promise<PromoteResult> {
  validateAlias(input.alias);
  const model = await requireRegisteredModel(client, input.name);
  await resolveVersionRef(client, { name: input.name, version: input.version }); // exit 3 with the list of versions
  const previous = (model.aliases ?? []).find((a) => a.alias === input.alias)?.version ?? null;
  if (input.ifCurrent !== undefined) {
    const expected = input.ifCurrent === 'none' ? null : input.ifCurrent;
    if (previous !== expected) {
      throw new UserError(
        `Alias '${input.alias}' of '${input.name}' is ${previous === null ? 'unset' : `at version ${previous}`}, not ${expected === null ? 'unset' : `at version ${expected}`} as --if-current says: it moved, nothing changed`,
        { exitCode: ExitCode.Conflict, hint: `Read the alias again (\`model-mirror models show ${input.name}@${input.alias}\`) and decide again.` },
      );
    }
  }
  if (previous !== input.version) await setAlias(client, input.name, input.alias, input.version);
  return { model: input.name, alias: input.alias, version: input.version, previous, changed: previous !== input.version };
}
