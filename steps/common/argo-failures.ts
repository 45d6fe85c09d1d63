// Argo's `{{workflow.failures}}`: what failed in a workflow, as the exit handler sees it. Argo
// passes the JSON list Go-quoted (operator.go: `strconv.Quote(string(json.Marshal(failures)))`),
// i.e. a JSON string holding the JSON list (`"null"` when nothing failed); a bare list is accepted.
import { PERMANENT_EXIT_CODES, type ExitCodeValue } from './errors';

export interface ArgoFailure {
  readonly displayName?: string;
  readonly templateName?: string;
  /** e.g. `Error (exit code 3)`, `OOMKilled`, `No more retries left`. */
  readonly message?: string;
  readonly phase?: string;
}

export type ParsedFailures =
  | { readonly kind: 'none' }
  | { readonly kind: 'list'; readonly failures: readonly ArgoFailure[] }
  /** Not Argo's JSON (a message typed by hand, or from another engine). */
  | { readonly kind: 'text'; readonly text: string };

export function parseArgoFailures(failures: string | undefined): ParsedFailures {
  let raw = (failures ?? '').trim();
  if (raw.startsWith('"')) {
    try {
      const unquoted = JSON.parse(raw) as unknown;
      if (typeof unquoted === 'string') raw = unquoted.trim();
    } catch {
      // not a quoted string: keep the text
    }
  }
  // An unsubstituted tag: Argo had nothing to put there.
  if (!raw || raw === 'null' || raw.startsWith('{{')) return { kind: 'none' };
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (Array.isArray(parsed)) {
      const list = parsed.filter((f): f is ArgoFailure => !!f && typeof f === 'object');
      return list.length ? { kind: 'list', failures: list } : { kind: 'none' };
    }
  } catch {
    // not JSON: keep the text
  }
  return { kind: 'text', text: raw };
}

/**
 * Whether a retry of the same input could succeed: `permanent` when every step exit code Argo
 * reports is one of PERMANENT_EXIT_CODES (not on the Hub, refused by policy, bad input…);
 * `transient` when any failure has another exit code or none at all (MLflow unavailable, a pod
 * deleted or OOM-killed); `none` when nothing failed.
 */
export function classifyArgoFailures(failures: string | undefined): 'permanent' | 'transient' | 'none' {
  const parsed = parseArgoFailures(failures);
  if (parsed.kind === 'none') return 'none';
  const messages = parsed.kind === 'list' ? parsed.failures.map((f) => f.message ?? '') : [parsed.text];
  const codes = messages.flatMap((m) => [...m.matchAll(/exit code (\d+)/g)].map((x) => Number(x[1])));
  // Parent nodes (steps, retries) fail "because a child failed" without a code: only the pods' codes count.
  if (codes.length === 0) return 'transient';
  return codes.every((c) => PERMANENT_EXIT_CODES.includes(c as ExitCodeValue)) ? 'permanent' : 'transient';
}
