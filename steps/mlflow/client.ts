// A small typed client for the MLflow tracking server's REST API (`/api/2.0/mlflow/...`).
// One place for: the tracking URI, auth (Basic beats Bearer, as MLflow's Python client does),
// waiting out MLflow restarts (see Outage), retries of idempotent calls on 5xx, creates that are
// safe to repeat (create()), and turning every failure into a
// UserError with an exit code and a message that names what went wrong.
import { ExitCode, type ExitCodeValue, UserError } from '../common/errors';
import { log, registerSecret } from '../common/log';
import {
  describeRetryError, isTransientNetworkError, Outage, serverRequestedDelay, UNAVAILABLE_HINT, unavailableReason, unavailableTimeoutMs,
} from '../common/retry';
import { TOOL_NAME, TOOL_VERSION } from '../common/version';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined | readonly string[]>;

/** MLflow's error payload: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "..."}`. */
export interface MlflowErrorBody {
  readonly error_code?: string;
  readonly message?: string;
}

/** A failed MLflow call. `errorCode` is MLflow's (e.g. RESOURCE_ALREADY_EXISTS) when it sent one. */
export class MlflowApiError extends UserError {
  readonly status: number;
  readonly errorCode?: string;
  readonly endpoint: string;
  /** The request was sent and may have been carried out (connection lost after sending, or 5xx). */
  readonly ambiguous: boolean;
  constructor(message: string, opts: {
    status: number; errorCode?: string; endpoint: string; exitCode: ExitCodeValue; hint?: string; cause?: unknown; ambiguous?: boolean;
  }) {
    super(message, { exitCode: opts.exitCode, hint: opts.hint, cause: opts.cause });
    this.name = 'MlflowApiError';
    this.status = opts.status;
    this.errorCode = opts.errorCode;
    this.endpoint = opts.endpoint;
    this.ambiguous = opts.ambiguous ?? false;
  }
}

export function isMlflowError(e: unknown, errorCode?: string): e is MlflowApiError {
  return e instanceof MlflowApiError && (errorCode === undefined || e.errorCode === errorCode);
}

/** The resource is missing (MLflow's RESOURCE_DOES_NOT_EXIST), as opposed to a missing endpoint. */
export function isNotFound(e: unknown): e is MlflowApiError {
  return isMlflowError(e, 'RESOURCE_DOES_NOT_EXIST');
}

export interface MlflowCredentials {
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
}

/**
 * The Authorization header for these credentials: Basic when both username and password are set
 * (even if a token is set too), else Bearer with the token, else none. Same precedence as
 * mlflow.utils.rest_utils.http_request.
 */
export function authorizationHeader(creds: MlflowCredentials): string | undefined {
  if (creds.username && creds.password) {
    const basic = Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64');
    registerSecret(basic);
    registerSecret(creds.password);
    return `Basic ${basic}`;
  }
  if (creds.token) {
    registerSecret(creds.token);
    return `Bearer ${creds.token}`;
  }
  return undefined;
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowCredentials {
  return {
    username: env.MLFLOW_TRACKING_USERNAME || undefined,
    password: env.MLFLOW_TRACKING_PASSWORD || undefined,
    token: env.MLFLOW_TRACKING_TOKEN || undefined,
  };
}

export interface ResolvedTrackingUri {
  /** Base URL without credentials and without a trailing slash, e.g. `http://mlflow:5000`. */
  readonly url: string;
  /** Credentials found in the URI's userinfo (`http://user:pass@host`), if any. */
  readonly userinfo?: { readonly username: string; readonly password: string };
}

/** `--tracking-uri` else MLFLOW_TRACKING_URI; must be an http(s) MLflow tracking server. */
export function resolveTrackingUri(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedTrackingUri {
  const raw = (flag ?? '').trim() || (env.MLFLOW_TRACKING_URI ?? '').trim();
  if (!raw) {
    throw new UserError('No MLflow tracking server given', {
      exitCode: ExitCode.Usage,
      hint: 'Pass --tracking-uri http://mlflow:5000 or set MLFLOW_TRACKING_URI.',
    });
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UserError(`Invalid MLflow tracking URI '${raw}'`, {
      exitCode: ExitCode.Usage,
      hint: 'Expected an http(s) URL such as http://mlflow.mlflow.svc:5000',
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UserError(`Unsupported MLflow tracking URI scheme '${u.protocol}' in ${raw.replace(/\/\/[^@/]*@/, '//***@')}`, {
      exitCode: ExitCode.Usage,
      hint: 'model-mirror talks to an MLflow tracking server over http(s); file:, sqlite: and databricks URIs are not supported.',
    });
  }
  let userinfo: ResolvedTrackingUri['userinfo'];
  if (u.username || u.password) {
    userinfo = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
    registerSecret(userinfo.password);
    u.username = '';
    u.password = '';
  }
  const url = u.toString().replace(/\/+$/, '');
  return { url, userinfo };
}

export interface MlflowClientOptions {
  /** Base URL of the tracking server (what resolveTrackingUri returns). */
  readonly url: string;
  readonly credentials?: MlflowCredentials;
  /** Attempts for idempotent calls (1 = no retry). @default 5 */
  readonly maxAttempts?: number;
  /** First backoff delay; doubles each retry, capped at 10 s. @default 500 */
  readonly retryBaseMs?: number;
  /** Per-request timeout. @default 60000 */
  readonly timeoutMs?: number;
  /** How long MLflow may stay unavailable (refused, reset, timeouts, 502/503/504/429) before a call fails. @default unavailableTimeoutMs() */
  readonly unavailableTimeoutMs?: number;
  /** Longest wait between two attempts while MLflow is unavailable. @default 10 s */
  readonly maxRetryDelayMs?: number;
}

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /**
   * Whether repeating the call is harmless. Idempotent calls are retried on 5xx, 429 and
   * connection errors; others only when the connection was refused (nothing reached the server).
   * @default true for GET, false otherwise
   */
  readonly idempotent?: boolean;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errnoOf(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    const c = cur as { code?: unknown; cause?: unknown; name?: string };
    if (typeof c.code === 'string') return c.code;
    if (c.name === 'TimeoutError' || c.name === 'AbortError') return 'ETIMEDOUT';
    cur = c.cause;
  }
  return undefined;
}

export class MlflowClient {
  readonly url: string;
  private readonly authHeader?: string;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly timeoutMs: number;
  private readonly unavailableTimeoutMs?: number;
  private readonly maxRetryDelayMs: number;

  constructor(opts: MlflowClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.authHeader = authorizationHeader(opts.credentials ?? {});
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.unavailableTimeoutMs = opts.unavailableTimeoutMs;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 10_000;
  }

  /** From `--tracking-uri`/MLFLOW_TRACKING_URI and the MLFLOW_TRACKING_* credentials. */
  static fromEnv(trackingUri?: string, env: NodeJS.ProcessEnv = process.env, extra: Partial<MlflowClientOptions> = {}): MlflowClient {
    const resolved = resolveTrackingUri(trackingUri, env);
    let creds = credentialsFromEnv(env);
    if (resolved.userinfo && !(creds.username && creds.password)) {
      creds = { ...creds, username: resolved.userinfo.username, password: resolved.userinfo.password };
    }
    return new MlflowClient({ ...extra, url: resolved.url, credentials: creds });
  }

  /** `host[:port]` as sent in the Host header. */
  get hostHeader(): string {
    return new URL(this.url).host;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }
  post<T>(path: string, body: unknown, opts: { idempotent?: boolean } = {}): Promise<T> {
    return this.request<T>('POST', path, { body, idempotent: opts.idempotent ?? false });
  }
  patch<T>(path: string, body: unknown, opts: { idempotent?: boolean } = {}): Promise<T> {
    return this.request<T>('PATCH', path, { body, idempotent: opts.idempotent ?? true });
  }
  delete<T>(path: string, body: unknown, opts: { idempotent?: boolean } = {}): Promise<T> {
    return this.request<T>('DELETE', path, { body, idempotent: opts.idempotent ?? false });
  }

  /** `GET /version` (exempt from MLflow's Host check): the server's MLflow version, if it says. */
  async serverVersion(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.url}/version`, {
        headers: this.headers(false),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) return undefined;
      const text = (await res.text()).trim();
      return /^\d+\.\d+[\w.+-]*$/.test(text) ? text : undefined;
    } catch {
      return undefined;
    }
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = { 'User-Agent': `${TOOL_NAME}/${TOOL_VERSION}`, Accept: 'application/json' };
    if (json) h['Content-Type'] = 'application/json';
    if (this.authHeader) h.Authorization = this.authHeader;
    return h;
  }

  /** `path` is relative to the server root, e.g. `/api/2.0/mlflow/runs/get`. */
  async request<T>(method: HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    // A POST .../search only reads: as safe to repeat as a GET.
    const idempotent = opts.idempotent ?? (method === 'GET' || (method === 'POST' && /\/search$/.test(path)));
    let url = `${this.url}${path.startsWith('/') ? path : `/${path}`}`;
    if (opts.query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) {
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const item of v) qs.append(k, String(item));
        else qs.append(k, String(v));
      }
      const s = qs.toString();
      if (s) url += `?${s}`;
    }
    const endpoint = `${method} ${path}`;
    const hasBody = opts.body !== undefined;
    // While MLflow does not answer (a restart): keep trying, with capped backoff, for the budget.
    let outage: Outage | undefined;
    // Other transient failures (HTTP 500 ...): a few quick retries of idempotent calls.
    let otherFailures = 0;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      const sentAt = Date.now();
      try {
        res = await fetch(url, {
          method,
          headers: this.headers(hasBody),
          body: hasBody ? JSON.stringify(opts.body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        const code = errnoOf(e);
        const reason = unavailableReason(e) ?? (isTransientNetworkError(e) ? `connection failed (${describeRetryError(e)})` : undefined);
        // Nothing reached the server: repeating even a create is harmless.
        const neverSent = code !== undefined && NEVER_SENT_CODES.has(code);
        if (reason && (idempotent || neverSent)) {
          outage ??= this.startOutage();
          const delay = outage.nextDelay(`${reason} on ${endpoint}`);
          if (delay !== undefined) {
            await sleep(delay);
            continue;
          }
          throw this.gaveUp(outage, e, endpoint, code ?? reason);
        }
        throw this.unreachable(e, endpoint, code, attempt, { ambiguous: !idempotent && !neverSent });
      }
      const text = await res.text().catch(() => '');
      log.debug('MLflow answered', { endpoint, status: res.status, ms: Date.now() - sentAt });
      if (res.ok) {
        const back = outage?.recoveredMessage();
        if (back) log.info(back);
        if (!text.trim()) return {} as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new MlflowApiError(
            `MLflow at ${this.url} answered ${endpoint} with something that is not JSON (HTTP ${res.status}): ${snippet(text)}`,
            { status: res.status, endpoint, exitCode: ExitCode.Unavailable, hint: 'Is the tracking URI pointing at the MLflow server itself (not a login page or another service)?' },
          );
        }
      }
      const reason = unavailableReason(undefined, res.status);
      // 429 means "not now": the request was not carried out, so even a create may be repeated.
      if (reason && (idempotent || res.status === 429)) {
        outage ??= this.startOutage();
        const delay = outage.nextDelay(`${reason} on ${endpoint}`, serverRequestedDelay(res.headers));
        if (delay !== undefined) {
          await sleep(delay);
          continue;
        }
        const err = this.httpError(res.status, text, endpoint, attempt);
        throw new MlflowApiError(`MLflow at ${this.url} kept answering ${outage.gaveUpMessage()}: ${err.message}`, {
          status: res.status, errorCode: err.errorCode, endpoint, exitCode: ExitCode.Unavailable, hint: UNAVAILABLE_HINT,
        });
      }
      if (RETRY_STATUS.has(res.status) && idempotent && ++otherFailures < this.maxAttempts) {
        const delay = this.backoff(otherFailures);
        log.debug('MLflow answered a transient error, retrying', { endpoint, status: res.status, attempt, delayMs: delay });
        await sleep(delay);
        continue;
      }
      const err = this.httpError(res.status, text, endpoint, attempt);
      // A create answered 5xx may still have happened (see create()).
      if (!idempotent && res.status >= 500) (err as { ambiguous: boolean }).ambiguous = true;
      throw err;
    }
  }

  /**
   * A POST that creates state (a run, a logged model) and so must not simply be repeated. When it
   * fails ambiguously (sent, then the connection dropped or MLflow answered 5xx) `lookup` checks
   * whether it was created anyway, e.g. by a client-made tag; only if not is it sent again.
   * A POST that never reached MLflow (connection refused) is repeated by request() itself.
   */
  async create<T>(path: string, body: unknown, what: string, lookup: () => Promise<T | undefined>): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await this.post<T>(path, body);
      } catch (e) {
        if (!(e instanceof MlflowApiError && e.ambiguous) || round >= this.maxAttempts) throw e;
        log.warn(`MLflow at ${this.url} may have created ${what} before the failure (${e.message}); looking for it before creating again`);
        const found = await lookup();
        if (found !== undefined) {
          log.info(`MLflow had created ${what} before the failure: using it`);
          return found;
        }
        await sleep(this.backoff(round));
      }
    }
  }

  private startOutage(): Outage {
    return new Outage(`MLflow at ${this.url}`, {
      budgetMs: this.unavailableTimeoutMs ?? unavailableTimeoutMs(),
      baseDelayMs: this.retryBaseMs,
      maxDelayMs: this.maxRetryDelayMs,
      report: (line) => log.warn(line),
    });
  }

  private gaveUp(outage: Outage, e: unknown, endpoint: string, what: string): MlflowApiError {
    return new MlflowApiError(
      `Cannot reach the MLflow tracking server at ${this.url}: ${outage.gaveUpMessage()}${what !== outage.reason ? ` [${what}]` : ''}`,
      { status: 0, endpoint, exitCode: ExitCode.Unavailable, hint: `Check --tracking-uri / MLFLOW_TRACKING_URI and that the MLflow server is running and reachable from here. ${UNAVAILABLE_HINT}`, cause: e },
    );
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retryBaseMs * 2 ** (attempt - 1), 10_000);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private unreachable(e: unknown, endpoint: string, code: string | undefined, attempts: number, opts: { ambiguous?: boolean } = {}): MlflowApiError {
    const what = code === 'ETIMEDOUT' ? `timed out after ${this.timeoutMs} ms` : (code ?? (e as Error)?.message ?? String(e));
    return new MlflowApiError(
      `Cannot reach the MLflow tracking server at ${this.url} (${what}; ${endpoint}, ${attempts} attempt${attempts === 1 ? '' : 's'})`,
      {
        status: 0,
        endpoint,
        exitCode: ExitCode.Unavailable,
        hint: 'Check --tracking-uri / MLFLOW_TRACKING_URI and that the MLflow server is running and reachable from here.',
        cause: e,
        ambiguous: opts.ambiguous,
      },
    );
  }

  /** Maps an MLflow error response to a UserError with the right exit code. */
  httpError(status: number, text: string, endpoint: string, attempts = 1): MlflowApiError {
    let body: MlflowErrorBody | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') body = parsed as MlflowErrorBody;
    } catch {
      body = undefined;
    }
    const errorCode = body?.error_code;
    const serverMsg = body?.message ?? snippet(text);
    const base = { status, errorCode, endpoint };
    if (status === 403 && /Invalid Host header/i.test(text)) {
      const host = this.hostHeader;
      return new MlflowApiError(
        `MLflow at ${this.url} rejected the Host header '${host}' (HTTP 403: Invalid Host header)`,
        {
          ...base,
          exitCode: ExitCode.Auth,
          hint: `Add '${host}' (a pattern such as '${host.replace(/:\d+$/, '')}:*' also works) to the MLflow server's --allowed-hosts (MLFLOW_SERVER_ALLOWED_HOSTS); patterns must include the port.`,
        },
      );
    }
    if (status === 401 || errorCode === 'UNAUTHENTICATED') {
      return new MlflowApiError(`MLflow at ${this.url} requires authentication (HTTP ${status} on ${endpoint}): ${serverMsg}`, {
        ...base,
        exitCode: ExitCode.Auth,
        hint: this.authHeader
          ? 'The credentials were refused: check MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN.'
          : 'Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (Basic) or MLFLOW_TRACKING_TOKEN (Bearer).',
      });
    }
    if (status === 403 || errorCode === 'PERMISSION_DENIED') {
      return new MlflowApiError(`MLflow at ${this.url} denied ${endpoint} (HTTP ${status}): ${serverMsg}`, {
        ...base,
        exitCode: ExitCode.Auth,
        hint: 'The MLflow user needs permission on this experiment / registered model.',
      });
    }
    if (errorCode === 'RESOURCE_DOES_NOT_EXIST') {
      return new MlflowApiError(serverMsg, { ...base, exitCode: ExitCode.NotFound });
    }
    if (errorCode === 'RESOURCE_ALREADY_EXISTS') {
      return new MlflowApiError(serverMsg, { ...base, exitCode: ExitCode.Conflict });
    }
    if (errorCode === 'INVALID_PARAMETER_VALUE' || errorCode === 'BAD_REQUEST' || errorCode === 'INVALID_STATE') {
      return new MlflowApiError(`MLflow rejected ${endpoint}: ${serverMsg}`, { ...base, exitCode: ExitCode.Usage });
    }
    if (status === 404 || status === 405) {
      return new MlflowApiError(
        `MLflow at ${this.url} has no endpoint ${endpoint} (HTTP ${status})`,
        { ...base, exitCode: ExitCode.NotFound, hint: 'Is the tracking URI the MLflow server root, and is the server MLflow 3 or newer?' },
      );
    }
    if (status >= 500 || status === 429) {
      return new MlflowApiError(
        `MLflow at ${this.url} failed ${endpoint} with HTTP ${status}${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${serverMsg}`,
        { ...base, exitCode: ExitCode.Unavailable },
      );
    }
    return new MlflowApiError(`MLflow at ${this.url} answered ${endpoint} with HTTP ${status}: ${serverMsg}`, {
      ...base,
      exitCode: status >= 400 && status < 500 ? ExitCode.Usage : ExitCode.Internal,
    });
  }
}

function snippet(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t || '(empty body)';
}

/** A tag/param key-value as MLflow's REST API expects it. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export function toKeyValues(obj: Record<string, string | undefined>): KeyValue[] {
  return Object.entries(obj)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([key, value]) => ({ key, value }));
}

export function fromKeyValues(list: readonly KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) out[kv.key] = kv.value;
  return out;
}
