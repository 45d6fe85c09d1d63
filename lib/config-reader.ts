// Small typed readers for the raw (YAML/JSON/env) config. Each reader checks one field and
// throws a ConfigError that names it, e.g. `config.mlflow.replicas: must be a positive integer,
// got -1`. Objects reject unknown keys, so a typo is an error instead of a silently ignored field.

/** Invalid configuration: the message names the field; main.ts prints it without a stack. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}

/** Renders a value for an error message: short, JSON-ish, never multi-line. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

export type Raw = Record<string, unknown>;

/** A view on one object of the raw config; `path` is its dotted name (`config.mlflow`). */
export class ObjectReader {
  private readonly seen = new Set<string>();

  constructor(readonly path: string, private readonly raw: Raw) {}

  static of(path: string, value: unknown): ObjectReader {
    if (value === undefined || value === null) return new ObjectReader(path, {});
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(`${path}: must be a mapping (key: value), got ${show(value)}`);
    }
    return new ObjectReader(path, value as Raw);
  }

  field(key: string): string {
    return `${this.path}.${key}`;
  }

  private get(key: string): unknown {
    this.seen.add(key);
    const v = this.raw[key];
    return v === null ? undefined : v;
  }

  fail(key: string, message: string): never {
    throw new ConfigError(`${this.field(key)}: ${message}`);
  }

  /** The field's raw value, for a section another validator reads (e.g. `policy`, steps/policy). */
  value(key: string): unknown {
    return this.get(key);
  }

  child(key: string): ObjectReader {
    return ObjectReader.of(this.field(key), this.get(key));
  }

  string(key: string, def: string, opts: { pattern?: RegExp; patternHint?: string; allowEmpty?: boolean } = {}): string {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${show(v)}`);
    if (!opts.allowEmpty && v.trim() === '') this.fail(key, 'must not be empty');
    if (opts.pattern && !opts.pattern.test(v)) this.fail(key, `${opts.patternHint ?? `must match ${opts.pattern}`}, got ${show(v)}`);
    return v;
  }

  optionalString(key: string, opts: { pattern?: RegExp; patternHint?: string } = {}): string | undefined {
    const v = this.get(key);
    if (v === undefined || v === '') return undefined;
    this.seen.delete(key);
    return this.string(key, '', opts);
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${show(v)}`);
    return v;
  }

  integer(key: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.get(key);
    if (v === undefined) return def;
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      let what: string;
      if (min === 1 && max === Number.MAX_SAFE_INTEGER) what = 'a positive integer';
      else if (min === 0 && max === Number.MAX_SAFE_INTEGER) what = 'a non-negative integer';
      else if (max === Number.MAX_SAFE_INTEGER) what = `an integer >= ${min}`;
      else what = `an integer from ${min} to ${max}`;
      this.fail(key, `must be ${what}, got ${show(v)}`);
    }
    return v;
  }

  number(key: string, def: number, opts: { min?: number; max?: number } = {}): number {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      this.fail(key, `must be a number${opts.min !== undefined ? ` >= ${opts.min}` : ''}${opts.max !== undefined ? ` <= ${opts.max}` : ''}, got ${show(v)}`);
    }
    return v;
  }

  oneOf<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const v = this.get(key);
    if (v === undefined) return def;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${show(v)}`);
    }
    return v as T;
  }

  stringList(key: string, def: readonly string[], opts: { pattern?: RegExp; patternHint?: string } = {}): string[] {
    const v = this.get(key);
    if (v === undefined) return [...def];
    if (!Array.isArray(v)) this.fail(key, `must be a list of strings, got ${show(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'string' || item === '') this.fail(`${key}[${i}]`, `must be a non-empty string, got ${show(item)}`);
      if (opts.pattern && !opts.pattern.test(item)) this.fail(`${key}[${i}]`, `${opts.patternHint ?? `must match ${opts.pattern}`}, got ${show(item)}`);
      return item;
    });
  }

  integerList(key: string, def: readonly number[], opts: { min?: number; max?: number } = {}): number[] {
    const v = this.get(key);
    if (v === undefined) return [...def];
    if (!Array.isArray(v)) this.fail(key, `must be a list of integers, got ${show(v)}`);
    const min = opts.min ?? Number.MIN_SAFE_INTEGER;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    return v.map((item, i) => {
      if (typeof item !== 'number' || !Number.isInteger(item) || item < min || item > max) {
        this.fail(`${key}[${i}]`, `must be an integer from ${min} to ${max}, got ${show(item)}`);
      }
      return item as number;
    });
  }

  stringMap(key: string, opts: { keyPattern?: RegExp; keyHint?: string } = {}): Record<string, string> {
    const v = this.get(key);
    if (v === undefined) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be a mapping of strings, got ${show(v)}`);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Raw)) {
      if (opts.keyPattern && !opts.keyPattern.test(k)) this.fail(`${key}.${k}`, `${opts.keyHint ?? 'invalid key'}`);
      if (typeof val !== 'string') this.fail(`${key}.${k}`, `must be a string, got ${show(val)}`);
      out[k] = val;
    }
    return out;
  }

  /** A list of mappings, each read with its own reader (`config.catalog.models[0]`). */
  objectList(key: string): ObjectReader[] {
    const v = this.get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, `must be a list of mappings, got ${show(v)}`);
    return v.map((item, i) => ObjectReader.of(`${this.field(key)}[${i}]`, item));
  }

  /** Call once every field is read: anything left is a typo or a field this version lacks. */
  done(): void {
    const unknown = Object.keys(this.raw).filter((k) => !this.seen.has(k));
    if (unknown.length > 0) {
      const known = [...this.seen].sort().join(', ');
      throw new ConfigError(`${this.field(unknown[0])}: unknown field (known fields here: ${known})`);
    }
  }
}

// --- shared patterns ------------------------------------------------------------------------------

/** RFC 1123 label: Kubernetes namespace, Service and most object names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_LABEL_HINT = 'must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)';
/** RFC 1123 subdomain: Secret, ConfigMap, ServiceAccount names; hostnames. */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_SUBDOMAIN_HINT = 'must be a DNS-1123 subdomain (lowercase letters, digits, "-" and ".")';
/** Kubernetes resource quantity (`500m`, `1Gi`, `2`). */
export const QUANTITY = /^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
export const QUANTITY_HINT = 'must be a Kubernetes quantity such as "500m", "512Mi" or "2Gi"';
/** Label value: at most 63 characters, alphanumeric at both ends. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Go duration as Argo's backoff fields take it (`30s`, `5m`, `1h30m`). */
export const DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
export const DURATION_HINT = 'must be a duration such as "30s", "5m" or "1h"';
/** Container image reference (registry/repository[:tag][@digest]), loosely. */
export const IMAGE = /^[a-z0-9]+([._\-/:][a-zA-Z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
export const IMAGE_HINT = 'must be an image reference such as "ghcr.io/org/name:tag"';
/** Standard five-field cron schedule (or @hourly, @daily, ...). */
export const CRON = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;
