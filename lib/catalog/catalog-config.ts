// `catalog:` in the config: the models to keep mirrored, and when to sync them. Each entry is
// one submission of the mirror WorkflowTemplate, so its fields are that template's parameters.
import { validateModelId } from '../../steps/hub/hub-config';
import { ConfigError, CRON, DNS_LABEL, DNS_LABEL_HINT, ObjectReader, show } from '../config-reader';

export interface CatalogEntry {
  readonly model_id: string;
  /** Branch, tag or commit sha. A branch is followed: each sync mirrors where it points now. */
  readonly revision: string;
  /** '' = derived from model_id (the template's default). */
  readonly model_name: string;
  readonly alias: string;
  readonly task: string;
  /** Comma-separated globs, as the template's parameters take them ('' = all files / none). */
  readonly allow_patterns: string;
  readonly ignore_patterns: string;
}

export interface CatalogConfig {
  /** CronWorkflow name. */
  readonly name: string;
  readonly schedule: string;
  /** IANA time zone of the schedule. @default - the controller's */
  readonly timezone?: string;
  /** Entries mirrored at the same time. */
  readonly parallelism: number;
  readonly suspend: boolean;
  readonly models: readonly CatalogEntry[];
}

const REVISION = { pattern: /^[^\s,]+$/, patternHint: 'must be a branch, tag or commit sha without spaces' };
const MODEL_NAME = { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/, patternHint: 'must be a registered model name (letters, digits, ".", "_", "-")' };
const ALIAS = { pattern: /^[A-Za-z_][A-Za-z0-9_-]{0,254}$/, patternHint: 'must be an MLflow alias (letters, digits, "_", "-"; not a version like "v1")' };
const TIMEZONE = { pattern: /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, patternHint: 'must be an IANA time zone such as "Europe/Paris"' };
const GLOB = { pattern: /^[^,\s]+$/, patternHint: 'must be a glob without "," or spaces' };

/** Reads `catalog:`; undefined when it lists no models (nothing is synthesized). */
export function readCatalog(r: ObjectReader, defaults: { name: string; revision: string }): CatalogConfig | undefined {
  const entries = r.objectList('models');
  const catalog: CatalogConfig = {
    name: r.string('name', `${defaults.name}-catalog`, { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }),
    schedule: r.string('schedule', '17 2 * * *', { pattern: CRON, patternHint: 'must be a cron schedule such as "17 2 * * *"' }),
    timezone: r.optionalString('timezone', TIMEZONE),
    parallelism: r.integer('parallelism', 2, { min: 1, max: 50 }),
    suspend: r.boolean('suspend', false),
    models: entries.map((e) => readEntry(e, defaults.revision)),
  };
  r.done();
  if (catalog.name.length > 52) {
    // Argo names each scheduled Workflow `<name>-<timestamp>` (11 characters).
    r.fail('name', `must be at most 52 characters (the scheduled Workflows append a timestamp), got ${show(catalog.name)}`);
  }
  const seen = new Map<string, number>();
  catalog.models.forEach((m, i) => {
    const key = `${m.model_id}@${m.revision}`;
    const first = seen.get(key);
    if (first !== undefined) throw new ConfigError(`config.catalog.models[${i}]: ${key} is already entry ${first}`);
    seen.set(key, i);
  });
  return catalog.models.length > 0 ? catalog : undefined;
}

function readEntry(r: ObjectReader, defaultRevision: string): CatalogEntry {
  const rawId = r.string('model_id', '');
  if (rawId === '') r.fail('model_id', 'is required (a Hub repo id such as "openai-community/gpt2")');
  let modelId: string;
  try {
    modelId = validateModelId(rawId);
  } catch {
    r.fail('model_id', `must be a Hub repo id such as "openai-community/gpt2", got ${show(rawId)}`);
  }
  const entry: CatalogEntry = {
    model_id: modelId,
    revision: r.string('revision', defaultRevision, REVISION),
    model_name: r.optionalString('model_name', MODEL_NAME) ?? '',
    alias: r.optionalString('alias', ALIAS) ?? '',
    task: r.optionalString('task', { pattern: /^[a-z0-9-]+$/, patternHint: 'must be a transformers task such as "text-generation"' }) ?? '',
    allow_patterns: r.stringList('allow_patterns', [], GLOB).join(','),
    ignore_patterns: r.stringList('ignore_patterns', [], GLOB).join(','),
  };
  r.done();
  if (/^v\d+$/i.test(entry.alias)) r.fail('alias', `must not look like a version ("v1" means version 1 to MLflow), got ${show(entry.alias)}`);
  return entry;
}
