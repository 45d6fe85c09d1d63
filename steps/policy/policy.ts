// The mirroring policy: what may enter the company from the Hub. One validator for every edge
// (the deployment config `policy:`, the CLI's --policy-file / --policy / --narrow-policy), so the
// config, the WorkflowTemplate and a local run read a policy the same way.
//
// Narrowing can never widen: a policy is a list of LAYERS and a repo passes only if it passes
// EVERY layer (a file is mirrored only if every layer keeps it). The first layer is the base
// policy (the config's, baked into the WorkflowTemplate); a submission can only append layers.
// A layer that says `allowPickle: true` therefore cannot undo a base that says false: there is
// no merge to get wrong, only a conjunction. Base and narrowing layers are read with different
// defaults: a field left out of the base takes the strict default; a field left out of a
// narrowing layer adds no restriction.
import { createHash } from 'node:crypto';

export type PolicyRule = 'publishers' | 'license' | 'gated' | 'pickle' | 'remoteCode' | 'hubScan';

export interface PolicyLayer {
  readonly name?: string;
  /** Globs of `org` or `org/name`; undefined = any publisher (narrowing layers only). */
  readonly publishers?: readonly string[];
  /** Licence ids (cardData.license) as globs, `unknown` for none; undefined = any (narrowing layers only). */
  readonly licenses?: readonly string[];
  /** Repos whose only weights are pickle (`*.bin`, `*.pt`, ...) may be mirrored. */
  readonly allowPickle: boolean;
  /** With allowPickle: also mirror the pickle duplicates of safetensors weights (skipped otherwise). */
  readonly keepPickleDuplicates: boolean;
  /** Repos with `*.py` and an `auto_map` in config.json (trust_remote_code) may be mirrored. */
  readonly allowRemoteCode: boolean;
  /** Gated repos (terms accepted under the mirror's token) may be mirrored. */
  readonly allowGated: boolean;
}

export interface Policy {
  /** Base first, then narrowing layers. */
  readonly layers: readonly PolicyLayer[];
  /** Whether layers[0] is a base policy (else every layer is a narrowing one). */
  readonly hasBase: boolean;
  /** For tags and messages: the base's name, `+narrowed` when layers were added. */
  readonly name: string;
  /** `sha256:<16 hex>` of the normalized layers: which policy passed a version. */
  readonly hash: string;
}

export type LayerKind = 'base' | 'narrowing';

/** An invalid policy document; the message names the field (`config.policy.licenses[1]: ...`). */
export class PolicyValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyValidationError';
  }
}

const KNOWN_KEYS = ['name', 'publishers', 'licenses', 'allowPickle', 'keepPickleDuplicates', 'allowRemoteCode', 'allowGated'] as const;
/** One Hub id segment, with `*` / `?` wildcards: what a Hub org or repo name may hold. */
const SEGMENT_GLOB = '[A-Za-z0-9._*?-]+';
const PUBLISHER_GLOB = new RegExp(`^${SEGMENT_GLOB}(/${SEGMENT_GLOB})?$`);
/** Licence ids on the Hub are SPDX-like ids, compared lowercased (`apache-2.0`, `cc-by-nc-4.0`, `llama3.1`, `other`). */
const LICENSE_GLOB = /^[A-Za-z0-9._+*?-]+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** The licence id a repo without `cardData.license` is recorded and matched as. */
export const UNKNOWN_LICENSE = 'unknown';

function show(v: unknown): string {
  const t = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

function globList(path: string, v: unknown, pattern: RegExp, hint: string, lower: boolean): string[] {
  if (!Array.isArray(v)) throw new PolicyValidationError(`${path}: must be a list of globs, got ${show(v)}`);
  return v.map((item, i) => {
    if (typeof item !== 'string' || !pattern.test(item) || item.includes('**')) {
      throw new PolicyValidationError(`${path}[${i}]: ${hint}, got ${show(item)}`);
    }
    return lower ? item.toLowerCase() : item;
  });
}

function bool(path: string, v: unknown, def: boolean): boolean {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') throw new PolicyValidationError(`${path}: must be true or false, got ${show(v)}`);
  return v;
}

/**
 * Validates one layer. `base`: publishers and licenses are required (an allowlist nobody wrote
 * is a policy nobody decided), every `allow*` defaults to false. `narrowing`: everything is
 * optional and a missing field restricts nothing.
 */
export function parsePolicyLayer(raw: unknown, path: string, kind: LayerKind): PolicyLayer {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PolicyValidationError(`${path}: must be a mapping (key: value), got ${show(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new PolicyValidationError(`${path}.${unknown[0]}: unknown field (known fields here: ${KNOWN_KEYS.join(', ')})`);
  const base = kind === 'base';
  let name: string | undefined;
  if (o.name !== undefined && o.name !== null) {
    if (typeof o.name !== 'string' || !NAME.test(o.name)) throw new PolicyValidationError(`${path}.name: must be a short name (letters, digits, ".", "_", "-"), got ${show(o.name)}`);
    name = o.name;
  }
  const list = (key: 'publishers' | 'licenses', pattern: RegExp, hint: string, lower: boolean): string[] | undefined => {
    const v = o[key];
    if (v === undefined || v === null) {
      if (base) throw new PolicyValidationError(`${path}.${key}: required in the base policy (${key === 'publishers' ? '"*" allows every publisher' : '"*" allows every stated licence; add "unknown" for repos without one'})`);
      return undefined;
    }
    return [...new Set(globList(`${path}.${key}`, v, pattern, hint, lower))].sort();
  };
  const publishers = list('publishers', PUBLISHER_GLOB, 'must be a glob of a Hub org ("Qwen", "meta-*") or repo ("openai-community/gpt2", "Qwen/Qwen2.5-*"): letters, digits, ".", "_", "-", "*", "?" and at most one "/"', false);
  const licenses = list('licenses', LICENSE_GLOB, 'must be a licence id or glob such as "apache-2.0", "cc-by-*" or "unknown"', true);
  const allowPickle = bool(`${path}.allowPickle`, o.allowPickle, !base);
  const keepPickleDuplicates = bool(`${path}.keepPickleDuplicates`, o.keepPickleDuplicates, !base);
  if (base && keepPickleDuplicates && !allowPickle) {
    throw new PolicyValidationError(`${path}.keepPickleDuplicates: needs allowPickle: true (pickle files are never mirrored without it)`);
  }
  return {
    ...(name ? { name } : {}),
    ...(publishers ? { publishers } : {}),
    ...(licenses ? { licenses } : {}),
    allowPickle,
    keepPickleDuplicates,
    allowRemoteCode: bool(`${path}.allowRemoteCode`, o.allowRemoteCode, !base),
    allowGated: bool(`${path}.allowGated`, o.allowGated, !base),
  };
}

/** The policy made of a base (optional) and narrowing layers; undefined when there is neither. */
export function buildPolicy(base: PolicyLayer | undefined, narrowing: readonly PolicyLayer[] = []): Policy | undefined {
  if (!base && narrowing.length === 0) return undefined;
  const layers = base ? [base, ...narrowing] : [...narrowing];
  const baseName = base?.name ?? (base ? 'policy' : 'narrowing');
  const name = base && narrowing.length ? `${baseName}+narrowed` : baseName;
  // Canonical JSON (fixed key order, sorted lists): the same rules hash the same everywhere.
  const canonical = JSON.stringify(layers.map((l) => Object.fromEntries([...KNOWN_KEYS].map((k) => [k, l[k] ?? null]))));
  const hash = `sha256:${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
  return { layers, hasBase: !!base, name, hash };
}

/** fnmatch-like match of a validated glob (`*` any run, `?` one character; never across `/`). */
export function globMatches(glob: string, value: string): boolean {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`).test(value);
}

/** A glob without `/` names an org (`Qwen` = every Qwen repo); with `/`, one repo id. */
export function publisherAllowed(globs: readonly string[], repo: string): boolean {
  const org = repo.includes('/') ? repo.slice(0, repo.indexOf('/')) : repo;
  return globs.some((g) => (g.includes('/') ? globMatches(g, repo) : globMatches(g, org)));
}

export function licenseAllowed(globs: readonly string[], license: string): boolean {
  return globs.some((g) => globMatches(g, license.toLowerCase()));
}
