// A small typed client for the MLflow tracking server's REST API (`/api/2.0/mlflow/...`).
// One place for: the tracking URI, auth (Basic beats Bearer, as MLflow's Python client does),
// retries of idempotent calls on 5xx/429/connection errors, and turning every failure into a
// UserError with an exit code and a message that names what went wrong.
import { ExitCode, type ExitCodeValue, UserError } from '../common/errors';
import { log, registerSecret } from '../common/log';
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
  constructor(message: string, opts: {
    status: number; errorCode?: string; endpoint: string; exitCode: ExitCodeValue; hint?: string; cause?: unknown;
  }) {
    super(message, { exitCode: opts.exitCode, hint: opts.hint, cause: opts.cause });
    this.name = 'MlflowApiError';
    this.status = opts.status;
    this.errorCode = opts.errorCode;
    this.endpoint = opts.endpoint;
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

  constructor(opts: MlflowClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.authHeader = authorizationHeader(opts.credentials ?? {});
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
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
    const idempotent = opts.idempotent ?? method === 'GET';
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
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: this.headers(hasBody),
          body: hasBody ? JSON.stringify(opts.body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (e) {
        lastError = e;
        const code = errnoOf(e);
        const retryable = idempotent || (code !== undefined && NEVER_SENT_CODES.has(code));
        if (retryable && attempt < this.maxAttempts) {
          const delay = this.backoff(attempt);
          log.debug('MLflow request failed, retrying', { endpoint, error: code ?? String(e), attempt, delayMs: delay });
          await sleep(delay);
          continue;
        }
        throw this.unreachable(e, endpoint, code, attempt);
      }
      const text = await res.text().catch(() => '');
      if (res.ok) {
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
      if (RETRY_STATUS.has(res.status) && idempotent && attempt < this.maxAttempts) {
        const retryAfter = Number(res.headers.get('retry-after'));
        const delay = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 30_000) : this.backoff(attempt);
        log.debug('MLflow answered a transient error, retrying', { endpoint, status: res.status, attempt, delayMs: delay });
        lastError = undefined;
        await sleep(delay);
        continue;
      }
      throw this.httpError(res.status, text, endpoint, attempt);
    }
    /* istanbul ignore next: the loop always returns or throws */
    throw this.unreachable(lastError, endpoint, errnoOf(lastError), this.maxAttempts);
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retryBaseMs * 2 ** (attempt - 1), 10_000);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private unreachable(e: unknown, endpoint: string, code: string | undefined, attempts: number): MlflowApiError {
    const what = code === 'ETIMEDOUT' ? `timed out after ${this.timeoutMs} ms` : (code ?? (e as Error)?.message ?? String(e));
    return new MlflowApiError(
      `Cannot reach the MLflow tracking server at ${this.url} (${what}; ${endpoint}, ${attempts} attempt${attempts === 1 ? '' : 's'})`,
      {
        status: 0,
        endpoint,
        exitCode: ExitCode.Unavailable,
        hint: 'Check --tracking-uri / MLFLOW_TRACKING_URI and that the MLflow server is running and reachable from here.',
        cause: e,
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
