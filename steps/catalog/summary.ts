// What one catalog sync did, entry by entry: each entry ran as its own mirror Workflow, and the
// CronWorkflow hands us what it read from each (phase and global outputs).
import { ExitCode, UserError } from '../common/errors';

/** The mirror WorkflowTemplate parameters a catalog entry sets (the CronWorkflow's item fields). */
export const CATALOG_ENTRY_FIELDS = ['model_id', 'revision', 'model_name', 'task', 'alias', 'allow_patterns', 'ignore_patterns'] as const;
/** The output parameters the CronWorkflow reads from each entry's Workflow. */
export const CATALOG_RESULT_FIELDS = { workflow: 'workflow', modelId: 'model_id', revision: 'revision', phase: 'phase', outputs: 'outputs' } as const;
/** The summary's outputs: a count per outcome, and `entries` (JSON, one object per entry). */
export const CATALOG_OUTCOMES = ['new', 'unchanged', 'refused', 'failed'] as const;
export const CATALOG_OUTPUTS = [...CATALOG_OUTCOMES, 'entries'] as const;

export type CatalogOutcome = (typeof CATALOG_OUTCOMES)[number];

export interface CatalogEntryRef {
  readonly model_id: string;
  readonly revision: string;
}

export interface CatalogEntryResult extends CatalogEntryRef {
  readonly outcome: CatalogOutcome;
  /** The version the entry now points at (new or reused), when known. */
  readonly version?: string;
  readonly workflow?: string;
  readonly phase?: string;
}

export interface CatalogSummary {
  readonly counts: Record<CatalogOutcome, number>;
  readonly entries: readonly CatalogEntryResult[];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`${what} is not JSON: ${text.slice(0, 200)}`, { exitCode: ExitCode.Usage });
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** `[{"name":"run_id","value":"…"}, …]` (a Workflow's status.outputs.parameters) → name → value. */
function globalOutputs(text: unknown): Record<string, string> {
  if (typeof text !== 'string' || text.trim() === '') return {};
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const p of Array.isArray(list) ? list : []) {
    const r = asRecord(p);
    if (typeof r.name === 'string' && typeof r.value === 'string') out[r.name] = r.value;
  }
  return out;
}

/**
 * new: the Workflow Succeeded and registered a version. unchanged: it Succeeded reusing the
 * version (prepare found the same repo, commit and files: 0 bytes, no run). refused: it failed
 * before prepare made a run, with an exit code a retry cannot fix (not on the Hub, gated, refused
 * by policy: the exit handler's `failure_class` output is `permanent`). failed: everything else,
 * including MLflow or the Hub unavailable during prepare, and an entry that has no result at all
 * (not submitted, or not watched to the end).
 */
export function summarizeCatalog(entriesJson: string, resultsJson: string): CatalogSummary {
  const entries = parseJson(entriesJson, '--entries');
  if (!Array.isArray(entries)) throw new UserError('--entries must be a JSON list of {model_id, revision}', { exitCode: ExitCode.Usage });
  // Argo leaves the tag as it is when no entry produced outputs at all.
  const rawResults = resultsJson.trim() === '' || resultsJson.startsWith('{{') ? [] : parseJson(resultsJson, '--results');
  const results = (Array.isArray(rawResults) ? rawResults : []).map(asRecord);
  const counts: Record<CatalogOutcome, number> = { new: 0, unchanged: 0, refused: 0, failed: 0 };
  const out: CatalogEntryResult[] = entries.map((e) => {
    const ref = asRecord(e);
    const modelId = String(ref.model_id ?? '');
    const revision = String(ref.revision ?? '');
    const r = results.find((x) => x[CATALOG_RESULT_FIELDS.modelId] === modelId && x[CATALOG_RESULT_FIELDS.revision] === revision);
    let result: CatalogEntryResult;
    if (!r) {
      result = { model_id: modelId, revision, outcome: 'failed' };
    } else {
      const phase = String(r[CATALOG_RESULT_FIELDS.phase] ?? '');
      const outputs = globalOutputs(r[CATALOG_RESULT_FIELDS.outputs]);
      const workflow = String(r[CATALOG_RESULT_FIELDS.workflow] ?? '') || undefined;
      const version = outputs.model_version || undefined;
      let outcome: CatalogOutcome;
      if (phase === 'Succeeded') outcome = version ? 'new' : 'unchanged';
      else if ((phase === 'Failed' || phase === 'Error') && !outputs.run_id && outputs.failure_class === 'permanent') outcome = 'refused';
      else outcome = 'failed';
      result = { model_id: modelId, revision, outcome, ...(version ? { version } : {}), ...(workflow ? { workflow } : {}), phase };
    }
    counts[result.outcome] += 1;
    return result;
  });
  return { counts, entries: out };
}
