// `<name>`, `<name>@<alias>` or `<name>/<version>`: how the `models` commands name a model or one
// of its versions. Registered model names cannot contain '/' (validateModelName), so the last '/'
// or '@' is unambiguous.
import { ExitCode, UserError } from '../common/errors';

export interface ModelRef {
  readonly name: string;
  readonly alias?: string;
  readonly version?: string;
}

export function parseModelRef(text: string): ModelRef {
  const raw = String(text ?? '').trim();
  const slash = raw.lastIndexOf('/');
  const at = raw.lastIndexOf('@');
  let ref: ModelRef;
  if (slash > 0) {
    ref = { name: raw.slice(0, slash), version: raw.slice(slash + 1) };
    if (!/^[1-9]\d*$/.test(ref.version!)) {
      throw new UserError(`'${raw}': the version after '/' must be a number`, { exitCode: ExitCode.Usage, hint: 'Write NAME/3 for version 3, or NAME@ALIAS.' });
    }
  } else if (at > 0) {
    ref = { name: raw.slice(0, at), alias: raw.slice(at + 1) };
    if (!ref.alias) throw new UserError(`'${raw}': the alias after '@' is empty`, { exitCode: ExitCode.Usage });
  } else {
    ref = { name: raw };
  }
  if (!ref.name || ref.name.includes('/') || ref.name.startsWith('@')) {
    throw new UserError(`'${raw}' is not a model reference`, { exitCode: ExitCode.Usage, hint: 'Write NAME, NAME@ALIAS or NAME/VERSION (e.g. gpt2@production, gpt2/3).' });
  }
  return ref;
}

/** A reference that must name one version (alias or number). */
export function parseVersionRef(text: string): ModelRef & ({ alias: string } | { version: string }) {
  const ref = parseModelRef(text);
  if (!ref.alias && !ref.version) {
    throw new UserError(`'${text}' names a model, not a version`, { exitCode: ExitCode.Usage, hint: `Write ${ref.name}@ALIAS or ${ref.name}/VERSION.` });
  }
  return ref as ModelRef & ({ alias: string } | { version: string });
}

export function formatRef(ref: ModelRef): string {
  if (ref.alias) return `${ref.name}@${ref.alias}`;
  if (ref.version) return `${ref.name}/${ref.version}`;
  return ref.name;
}
