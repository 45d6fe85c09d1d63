// The policy's decision as MLflow tags (on the run at prepare, copied to the version by register).
import { TAG } from '../mlflow/tags';
import type { PolicyDecision } from './decide';

/** MLflow caps version tag values at 5000 characters; a long skip list is cut with a count. */
const MAX_TAG_VALUE = 4000;

function capped(list: readonly string[]): string {
  let out = '';
  for (const [i, item] of list.entries()) {
    const next = out ? `${out},${item}` : item;
    if (next.length > MAX_TAG_VALUE) return `${out},... (+${list.length - i} more)`;
    out = next;
  }
  return out;
}

export function policyTags(d: PolicyDecision): Record<string, string> {
  return {
    [TAG.policy]: d.policyName,
    [TAG.policyHash]: d.policyHash,
    [TAG.license]: d.license,
    [TAG.weightFormats]: d.weightFormats.join(',') || 'none',
    [TAG.policySkipped]: capped(d.skipped.map((s) => s.path)) || 'none',
    [TAG.remoteCode]: String(d.remoteCode),
    [TAG.hubScan]: d.hubScan || 'none',
    [TAG.gated]: String(d.gated),
  };
}
