// The policy's decision about one repo, from facts the Hub published (no file content besides
// config.json). Pure functions, one per rule, so each is tested alone; `decide` runs them all.
// A repo passes only if EVERY layer lets it through (see policy.ts); a refusal names the rule,
// the layer and the file.
import { ExitCode, UserError } from '../common/errors';
import type { RepoFile } from '../hub/list-files';
import { licenseAllowed, type Policy, type PolicyLayer, type PolicyRule, publisherAllowed, UNKNOWN_LICENSE } from './policy';
import { isPickle, type WeightFormat, weightFormatOf, weightFormats } from './weights';

/** The policy refuses the repo: exit 9, never retried (the same repo is refused the same way). */
export class PolicyRefusal extends UserError {
  constructor(readonly rule: PolicyRule, readonly file: string | undefined, message: string, hint: string) {
    super(message, { exitCode: ExitCode.Policy, hint });
    this.name = 'PolicyRefusal';
  }
}

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

export interface RepoFacts {
  readonly repo: string;
  readonly gated: false | 'auto' | 'manual';
  /** `cardData.license` as a list; undefined or empty when the model card states none. */
  readonly licenses?: readonly string[];
  /** The files the allow/ignore patterns select. */
  readonly files: readonly RepoFile[];
  /** config.json has an `auto_map` (read only when the selection holds `*.py`). */
  readonly autoMap?: boolean;
  /** The Hub's scan status per path (`securityFileStatus.status`, lowercase); missing = unscanned. */
  readonly scan?: ReadonlyMap<string, string>;
}

export interface PolicyDecision {
  readonly policyName: string;
  readonly policyHash: string;
  /** The stated licences, comma-joined, or `unknown`. */
  readonly license: string;
  /** Weight formats of the files that will be mirrored. */
  readonly weightFormats: readonly WeightFormat[];
  /** The files that will be mirrored (the selection minus `skipped`). */
  readonly files: readonly RepoFile[];
  readonly skipped: readonly SkippedFile[];
  readonly remoteCode: boolean;
  readonly gated: false | 'auto' | 'manual';
  /** The Hub's scan of the mirrored files as `status=count` pairs, e.g. `safe=9,unscanned=1`. */
  readonly hubScan: string;
}

function layerName(policy: Policy, i: number): string {
  if (policy.hasBase && i === 0) return `policy "${policy.layers[0].name ?? policy.name}"`;
  return `narrowing layer ${policy.hasBase ? i : i + 1} of policy "${policy.name}"`;
}

/** The first layer that refuses, with its index. */
function firstRefusing(policy: Policy, refuses: (l: PolicyLayer) => boolean): number {
  return policy.layers.findIndex(refuses);
}

export function checkPublisher(policy: Policy, repo: string): void {
  const i = firstRefusing(policy, (l) => !!l.publishers && !publisherAllowed(l.publishers, repo));
  if (i < 0) return;
  throw new PolicyRefusal('publishers', undefined,
    `${layerName(policy, i)} refuses ${repo}: rule publishers — ${repo} matches none of ${policy.layers[i].publishers!.join(', ')}`,
    'Mirror only publishers the policy lists, or have the platform team add this org or repo to policy.publishers.');
}

export function checkGated(policy: Policy, repo: string, gated: RepoFacts['gated']): void {
  if (!gated) return;
  const i = firstRefusing(policy, (l) => !l.allowGated);
  if (i < 0) return;
  throw new PolicyRefusal('gated', undefined,
    `${layerName(policy, i)} refuses ${repo}: rule gated — the repo is gated (${gated}) and the policy does not allow gated models`,
    'Gated models carry terms accepted under the mirror\'s token; the platform team decides (policy.allowGated).');
}

/** The licences the card states, lowercased; `['unknown']` when it states none. */
export function statedLicenses(licenses: readonly string[] | undefined): string[] {
  const list = (licenses ?? []).map((l) => l.trim().toLowerCase()).filter(Boolean);
  return list.length ? list : [UNKNOWN_LICENSE];
}

export function checkLicense(policy: Policy, repo: string, licenses: readonly string[] | undefined): void {
  const stated = statedLicenses(licenses);
  for (const [i, l] of policy.layers.entries()) {
    const bad = l.licenses && stated.find((s) => !licenseAllowed(l.licenses!, s));
    if (!bad) continue;
    const what = bad === UNKNOWN_LICENSE ? 'its model card (README.md) states no licence, which counts as "unknown"' : `its licence "${bad}" (README.md cardData.license)`;
    throw new PolicyRefusal('license', 'README.md',
      `${layerName(policy, i)} refuses ${repo}: rule license, file README.md — ${what} is not in the allowlist (${l.licenses!.join(', ')})`,
      'Only licences the platform team listed may enter (policy.licenses; "unknown" admits repos without one).');
  }
}

/**
 * Pickle weights: with safetensors in the selection, the pickle files are duplicates and are
 * skipped unless every layer allows and keeps them; without safetensors, any pickle file is
 * refused unless every layer allows pickle.
 */
export function selectWeights(policy: Policy, repo: string, files: readonly RepoFile[]): { kept: RepoFile[]; skipped: SkippedFile[] } {
  const pickles = files.filter((f) => isPickle(f.path));
  if (pickles.length === 0) return { kept: [...files], skipped: [] };
  const hasSafetensors = files.some((f) => weightFormatOf(f.path) === 'safetensors');
  if (hasSafetensors) {
    if (policy.layers.every((l) => l.allowPickle && l.keepPickleDuplicates)) return { kept: [...files], skipped: [] };
    return {
      kept: files.filter((f) => !isPickle(f.path)),
      skipped: pickles.map((f) => ({ path: f.path, reason: 'pickle duplicate of safetensors weights' })),
    };
  }
  const i = firstRefusing(policy, (l) => !l.allowPickle);
  if (i < 0) return { kept: [...files], skipped: [] };
  const file = pickles[0].path;
  throw new PolicyRefusal('pickle', file,
    `${layerName(policy, i)} refuses ${repo}: rule pickle, file ${file} — its weights are pickle only (${pickles.length} pickle file${pickles.length === 1 ? '' : 's'}, no safetensors) and pickle runs code when loaded`,
    'Mirror a safetensors revision of the model (e.g. the Hub\'s refs/convert/safetensors or a converted repo), exclude the files with --ignore-patterns, or have the platform team set policy.allowPickle.');
}

/** Remote code: `*.py` files in the selection and an `auto_map` in config.json (trust_remote_code). */
export function hasRemoteCode(files: readonly RepoFile[], autoMap: boolean | undefined): boolean {
  return !!autoMap && files.some((f) => f.path.endsWith('.py'));
}

export function checkRemoteCode(policy: Policy, repo: string, files: readonly RepoFile[], autoMap: boolean | undefined): void {
  if (!hasRemoteCode(files, autoMap)) return;
  const i = firstRefusing(policy, (l) => !l.allowRemoteCode);
  if (i < 0) return;
  const py = files.find((f) => f.path.endsWith('.py'))!.path;
  throw new PolicyRefusal('remoteCode', py,
    `${layerName(policy, i)} refuses ${repo}: rule remoteCode, file ${py} — config.json has an auto_map, so loading the model runs the repo's Python code (trust_remote_code)`,
    'Review the code first; the platform team decides (policy.allowRemoteCode).');
}

/** The Hub's own scan: a file it marks unsafe is refused by any policy; the rest is recorded. */
export function checkHubScan(policy: Policy, repo: string, files: readonly RepoFile[], scan: ReadonlyMap<string, string> | undefined): string {
  const counts = new Map<string, number>();
  for (const f of files) {
    const status = scan?.get(f.path) ?? 'unscanned';
    if (status === 'unsafe') {
      throw new PolicyRefusal('hubScan', f.path,
        `${layerName(policy, 0)} refuses ${repo}: rule hubScan, file ${f.path} — the Hub's security scan marks it unsafe`,
        `See the file's scan report on the Hub (${repo}, file ${f.path}); nothing marked unsafe is mirrored.`);
    }
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}=${n}`).join(',');
}

/** Every rule, in the order the facts become available; throws PolicyRefusal, else the decision. */
export function decide(policy: Policy, facts: RepoFacts): PolicyDecision {
  checkPublisher(policy, facts.repo);
  checkGated(policy, facts.repo, facts.gated);
  checkLicense(policy, facts.repo, facts.licenses);
  const { kept, skipped } = selectWeights(policy, facts.repo, facts.files);
  checkRemoteCode(policy, facts.repo, kept, facts.autoMap);
  const hubScan = checkHubScan(policy, facts.repo, kept, facts.scan);
  return {
    policyName: policy.name,
    policyHash: policy.hash,
    license: statedLicenses(facts.licenses).join(','),
    weightFormats: weightFormats(kept.map((f) => f.path)),
    files: kept,
    skipped,
    remoteCode: hasRemoteCode(kept, facts.autoMap),
    gated: facts.gated,
    hubScan,
  };
}
