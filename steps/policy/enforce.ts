// Applies the policy to one repo at a pinned commit: asks the Hub only what the next rule needs,
// refuses as early as possible, and returns the files to mirror. Called by prepare/mirror (via
// checkSource, before any MLflow state) and by download (the same selection, so the version's
// file set is what prepare computed).
import { log } from '../common/log';
import type { HubFetchOptions } from '../hub/hub-fetch';
import type { RepoFile } from '../hub/list-files';
import { checkGated, checkLicense, checkPublisher, checkRemoteCode, decide, type PolicyDecision, selectWeights } from './decide';
import { fetchCardLicenses, fetchHasAutoMap, fetchScanStatus } from './hub-facts';
import type { Policy } from './policy';

export interface EnforcePolicyOptions extends HubFetchOptions {
  readonly repo: string;
  readonly commitSha: string;
  readonly gated: false | 'auto' | 'manual';
  /** The files the allow/ignore patterns select. */
  readonly files: readonly RepoFile[];
}

/** The checks that need nothing but the repo id and its gated flag: before any token is asked for. */
export function admitRepo(policy: Policy, repo: string, gated: false | 'auto' | 'manual'): void {
  checkPublisher(policy, repo);
  checkGated(policy, repo, gated);
}

export async function enforcePolicy(policy: Policy, opts: EnforcePolicyOptions): Promise<PolicyDecision> {
  const { repo, gated, files } = opts;
  admitRepo(policy, repo, gated);
  const licenses = await fetchCardLicenses(opts);
  checkLicense(policy, repo, licenses);
  const { kept } = selectWeights(policy, repo, files);
  const autoMap = kept.some((f) => f.path.endsWith('.py')) ? await fetchHasAutoMap(opts) : false;
  checkRemoteCode(policy, repo, kept, autoMap);
  const scan = await fetchScanStatus(opts, kept.map((f) => f.path));
  const decision = decide(policy, { repo, gated, licenses, files, autoMap, scan });
  log.info(`Policy ${decision.policyName} (${decision.policyHash}) admits ${repo}: licence ${decision.license}, weights ${decision.weightFormats.join('+') || 'none'}, Hub scan ${decision.hubScan || 'none'}${decision.skipped.length ? `; skipping ${decision.skipped.length} pickle duplicate(s): ${decision.skipped.map((s) => s.path).join(', ')}` : ''}`);
  return decision;
}
