import { ExitCode, UserError } from './errors';

// Async control flow shared by the data-plane steps: retry with exponential backoff + jitter
// (honouring Retry-After / RateLimit from the server), cancellable sleep, bounded parallelism.

export interface RetryOptions {
  /** Retries after the first attempt (so `retries + 1` attempts in all). @default 5 */
  readonly retries?: number;
  /** First backoff step. @default 500 ms */
  readonly baseDelayMs?: number;
  /** Cap on one computed backoff step. @default 30 s */
  readonly maxDelayMs?: number;
  /** Cap on a server-requested wait (Retry-After / RateLimit reset). @default 5 min */
  readonly maxServerDelayMs?: number;
  /** Which errors to retry. @default isRetryableError */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  readonly onRetry?: (info: RetryInfo) => void;
  readonly signal?: AbortSignal;
  /** For tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly retries: number;
  readonly delayMs: number;
  readonly error: unknown;
}

/**
 * A failure worth retrying (429, 5xx, dropped connection). `retryAfterMs` is the wait the server
 * asked for, if any; it replaces the computed backoff when longer.
 */
export class RetryableError extends Error {
  readonly status?: number;
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RetryableError';
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** HTTP statuses that are transient by nature. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True for network-level failures: connection reset/refused, socket closed mid-body, timeouts.
 * Node's fetch wraps them as `TypeError: fetch failed` / `terminated` with the real error in `cause`.
 */
export function isTransientNetworkError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = errorCode(cur);
    if (code && TRANSIENT_CODES.has(code)) return true;
    const err = cur as Error;
    if (err instanceof TypeError && (err.message === 'fetch failed' || err.message === 'terminated')) return true;
    if (err?.name === 'SocketError' || err?.name === 'TimeoutError') return true;
  }
  return false;
}

/**
 * What went wrong, for a retry warning: the error's message and its causes' messages (an error's
 * class name alone, e.g. `Error`, says nothing). Callers log it through `log`, which redacts secrets.
 */
export function describeRetryError(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur != null && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const err = cur as { message?: unknown; name?: unknown };
    const code = errorCode(cur);
    let piece = typeof err.message === 'string' && err.message.trim() ? err.message.trim() : typeof cur === 'string' ? cur : '';
    if (code && !piece.includes(code)) piece = piece ? `${piece} (${code})` : code;
    if (piece && !parts.some((p) => p.includes(piece))) parts.push(piece);
  }
  const status = (e as { status?: unknown } | undefined)?.status;
  const text = parts.join(': ') || (typeof (e as Error)?.name === 'string' ? `${(e as Error).name} without a message` : String(e));
  return typeof status === 'number' && !text.includes(String(status)) ? `HTTP ${status}: ${text}` : text;
}

export function isRetryableError(e: unknown): boolean {
  if (e instanceof RetryableError) return true;
  if ((e as Error)?.name === 'AbortError') return false;
  return isTransientNetworkError(e);
}

/**
 * Parses `Retry-After`: delta-seconds (`120`) or an HTTP date. Returns milliseconds to wait
 * (never negative), or undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  if (/^-\d/.test(v)) return 0;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/**
 * Reads the reset time from a `RateLimit` header, in milliseconds. Understands the IETF
 * structured form the Hub sends (`"api";r=0;t=55`: t = seconds until the window resets) and the
 * older `limit=100, remaining=0, reset=55` form.
 */
export function parseRateLimitReset(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const m = /(?:^|[;,\s])(?:t|reset)\s*=\s*(\d+(?:\.\d+)?)/i.exec(value);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** The wait a 429/503 response asks for: the longer of Retry-After and the RateLimit reset. */
export function serverRequestedDelay(headers: { get(name: string): string | null }, nowMs: number = Date.now()): number | undefined {
  const a = parseRetryAfter(headers.get('retry-after'), nowMs);
  const b = parseRateLimitReset(headers.get('ratelimit'));
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

/**
 * Backoff for retry number `attempt` (1-based): exponential, capped, with "equal jitter"
 * (half fixed, half random) so parallel workers do not retry in lockstep.
 */
export function backoffDelay(attempt: number, baseDelayMs = 500, maxDelayMs = 30_000, random: () => number = Math.random): number {
  const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** The wait before retry `attempt` after `error`: server's request wins when longer; capped. */
export function retryDelay(attempt: number, error: unknown, opts: RetryOptions = {}): number {
  const computed = backoffDelay(attempt, opts.baseDelayMs ?? 500, opts.maxDelayMs ?? 30_000, opts.random ?? Math.random);
  const server = error instanceof RetryableError ? error.retryAfterMs : undefined;
  if (server === undefined) return computed;
  // A server-requested wait is honoured exactly (plus a little jitter), up to the cap.
  const jitter = Math.round((opts.random ?? Math.random)() * 250);
  return Math.min(opts.maxServerDelayMs ?? 300_000, Math.max(server + jitter, Math.min(computed, 1_000)));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('The operation was aborted');
  e.name = 'AbortError';
  return e;
}

/** Runs `fn` until it succeeds, a non-retryable error is thrown, or retries run out (last error thrown). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 5;
  const isRetryable = opts.isRetryable ?? isRetryableError;
  const doSleep = opts.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (opts.signal?.aborted || attempt >= retries || !isRetryable(e)) throw e;
      const delayMs = retryDelay(attempt + 1, e, opts);
      opts.onRetry?.({ attempt: attempt + 1, retries, delayMs, error: e });
      await doSleep(delayMs, opts.signal);
    }
  }
}

/**
 * Maps `items` through `fn` with at most `limit` in flight. On the first failure no new item
 * starts, `signal` (passed to `fn`) is aborted so in-flight work can stop early, and once every
 * in-flight call has settled the first error is thrown. Results keep input order.
 */
export async function mapLimit<T, R>(
  items: ArrayLike<T>,
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  parentSignal?: AbortSignal,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parentSignal?.reason);
  if (parentSignal?.aborted) onParentAbort();
  parentSignal?.addEventListener('abort', onParentAbort, { once: true });
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const worker = async () => {
    while (!firstError && !controller.signal.aborted && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i, controller.signal);
      } catch (e) {
        if (!firstError) {
          firstError = { error: e };
          controller.abort(e);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    parentSignal?.removeEventListener('abort', onParentAbort);
  }
  if (firstError) throw firstError.error;
  if (parentSignal?.aborted) throw abortError(parentSignal);
  return results;
}

// --- Waiting out a peer's restart (MLflow, S3) ---------------------------------------------------

/** How long a peer may stay unavailable before a step gives up, by default (a rolling restart takes 20-60 s). */
export const DEFAULT_UNAVAILABLE_TIMEOUT_S = 180;
export const UNAVAILABLE_TIMEOUT_ENV = 'MODEL_MIRROR_UNAVAILABLE_TIMEOUT';

let unavailableTimeoutOverrideMs: number | undefined;

/**
 * Seconds (>= 0) from `--unavailable-timeout`, else MODEL_MIRROR_UNAVAILABLE_TIMEOUT, else the
 * default; undefined in, undefined out means "not given". Throws on anything that is not a number.
 */
export function parseUnavailableTimeout(value: unknown, source: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new Error(`${source} must be a number of seconds between 0 and 86400 (got ${typeof value === 'number' ? String(value) : JSON.stringify(value)})`);
  }
  return n;
}

/** Set once per command by the CLI (the global option); undefined goes back to env/default. */
export function setUnavailableTimeout(seconds: number | undefined): void {
  unavailableTimeoutOverrideMs = seconds === undefined ? undefined : Math.round(seconds * 1000);
}

/** The budget for one period of unavailability, in milliseconds. */
export function unavailableTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  if (unavailableTimeoutOverrideMs !== undefined) return unavailableTimeoutOverrideMs;
  try {
    const fromEnv = parseUnavailableTimeout(env[UNAVAILABLE_TIMEOUT_ENV], UNAVAILABLE_TIMEOUT_ENV);
    if (fromEnv !== undefined) return Math.round(fromEnv * 1000);
  } catch {
    // the CLI rejects a bad value up front; a library caller gets the default
  }
  return DEFAULT_UNAVAILABLE_TIMEOUT_S * 1000;
}

/**
 * Why a peer did not answer, in words for the "waiting for ..." line, or undefined when the
 * failure is not one of unavailability (so the caller fails or retries by its own rules):
 * connection refused/reset, DNS failure, socket timeout, HTTP 502/503/504/429.
 */
export function unavailableReason(e: unknown, status?: number): string | undefined {
  if (status === 502 || status === 503 || status === 504 || status === 429) return `HTTP ${status}`;
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = errorCode(cur);
    const name = (cur as { name?: unknown }).name;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED' || code === 'ECONNABORTED') return 'connection reset';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'DNS lookup failed';
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENETDOWN') return 'host unreachable';
    if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError') return 'timed out';
  }
  const msg = (e as Error)?.message ?? '';
  const m = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)\b|socket hang up/.exec(msg);
  if (m) return m[1] ? unavailableReason({ code: m[1] }) : 'connection reset';
  return undefined;
}

export interface OutageOptions {
  /** Budget for this outage. @default unavailableTimeoutMs() */
  readonly budgetMs?: number;
  /** First wait. @default 1 s */
  readonly baseDelayMs?: number;
  /** Longest wait between two attempts. @default 10 s */
  readonly maxDelayMs?: number;
  /** Where "waiting for ..." lines go. @default log.warn (set by the caller, see log.ts) */
  readonly report?: (line: string) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/**
 * One period during which a peer (`MLflow at http://…`, `S3 at http://…`) does not answer: when
 * it started, how long to wait before the next attempt (capped exponential backoff, a server's
 * Retry-After honoured), and the log lines that say so. The budget counts from the first failure.
 */
export class Outage {
  readonly startedAt: number;
  readonly budgetMs: number;
  private attempts = 0;
  private lastReason = '';
  private readonly now: () => number;

  constructor(readonly peer: string, private readonly opts: OutageOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.budgetMs = opts.budgetMs ?? unavailableTimeoutMs();
  }

  get elapsedMs(): number {
    return this.now() - this.startedAt;
  }

  get failedAttempts(): number {
    return this.attempts;
  }

  get reason(): string {
    return this.lastReason;
  }

  /**
   * Records a failed attempt and returns the wait before the next one, logging what is waited
   * for; undefined once the budget is spent (the caller gives up with `gaveUpMessage`).
   */
  nextDelay(reason: string, serverDelayMs?: number): number | undefined {
    this.attempts++;
    this.lastReason = reason;
    const left = this.budgetMs - this.elapsedMs;
    if (left <= 0) return undefined;
    const computed = backoffDelay(this.attempts, this.opts.baseDelayMs ?? 1_000, this.opts.maxDelayMs ?? 10_000, this.opts.random);
    const delay = Math.max(0, Math.min(left, serverDelayMs !== undefined ? Math.max(serverDelayMs, computed / 2) : computed));
    this.opts.report?.(`waiting for ${this.peer}: ${reason} (${seconds(this.elapsedMs)} of ${seconds(this.budgetMs)}; next attempt in ${(delay / 1000).toFixed(1)} s)`);
    return delay;
  }

  /** For the error once the budget is spent: `connection refused for 181 s (19 attempts; --unavailable-timeout 180)`. */
  gaveUpMessage(): string {
    return `${this.lastReason} for ${seconds(this.elapsedMs)} (${this.attempts} attempt${this.attempts === 1 ? '' : 's'}; --unavailable-timeout ${Math.round(this.budgetMs / 1000)})`;
  }

  /** The "answers again" line, when there was a wait worth reporting. */
  recoveredMessage(): string | undefined {
    return this.attempts ? `${this.peer} answers again after ${seconds(this.elapsedMs)} of unavailability` : undefined;
  }
}

/** The hint every "gave up waiting" error carries. */
export const UNAVAILABLE_HINT = `The peer did not come back in time. Rerun once it is up (reruns resume), or wait longer with --unavailable-timeout <seconds> / ${UNAVAILABLE_TIMEOUT_ENV}.`;

/** A peer stayed unavailable longer than the budget: exit 5, never retried by an outer loop (it already waited). */
export class PeerUnavailableError extends UserError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.Unavailable, hint: opts.hint ?? UNAVAILABLE_HINT, cause: opts.cause });
    this.name = 'PeerUnavailableError';
  }
}

/**
 * Waits until `probe` resolves true (the peer answers), for callers that share one outage: every
 * concurrent waiter joins the same probing loop, so a restart logs one line per attempt, not one
 * per in-flight request. Resolves false once the budget is spent.
 */
export class AvailabilityGate {
  private current?: { outage: Outage; done: Promise<boolean> };
  /** Once a wait ran out of budget the step is failing: later requests do not start another wait. */
  private gaveUp?: Outage;

  constructor(
    private readonly peer: string,
    private readonly probe: () => Promise<string | undefined>,
    private readonly opts: Omit<OutageOptions, 'budgetMs'> & { budgetMs?: () => number; sleep?: (ms: number) => Promise<void>; onRecovered?: (line: string) => void } = {},
  ) {}

  /** The outage in progress, or the one that ran out of budget. */
  get outage(): Outage | undefined {
    return this.current?.outage ?? this.gaveUp;
  }

  /** `reason`: why the caller's request failed. Resolves true once the peer answers again, false when the budget is spent. */
  waitUntilUp(reason: string, serverDelayMs?: number): Promise<boolean> {
    if (this.current) return this.current.done;
    if (this.gaveUp) return Promise.resolve(false);
    const outage = new Outage(this.peer, { ...this.opts, budgetMs: (this.opts.budgetMs ?? unavailableTimeoutMs)() });
    const doSleep = this.opts.sleep ?? ((ms: number) => sleep(ms));
    const done = (async () => {
      let why: string | undefined = reason;
      let server = serverDelayMs;
      for (;;) {
        const delay = outage.nextDelay(why, server);
        if (delay === undefined) {
          this.gaveUp = outage;
          return false;
        }
        await doSleep(delay);
        server = undefined;
        why = await this.probe().catch((e) => unavailableReason(e) ?? describeRetryError(e));
        if (why === undefined) {
          const line = outage.recoveredMessage();
          if (line) this.opts.onRecovered?.(line);
          return true;
        }
      }
    })();
    const entry = { outage, done };
    this.current = entry;
    // The next failure after this outage ends starts a new one (with a fresh budget).
    void done.finally(() => { if (this.current === entry) this.current = undefined; });
    return done;
  }
}
