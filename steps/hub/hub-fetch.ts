// The one place Hub HTTP requests go through: adds the token (only for the Hub's own origin,
// never for the CDN a resolve redirects to), retries 429/5xx/dropped connections with backoff
// (honouring Retry-After and RateLimit), and turns error responses into HubHttpError carrying
// the Hub's X-Error-Code so callers can say "repo not found" vs "gated" vs "revision not found".
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { TOOL_NAME, TOOL_VERSION } from '../common/version';
import { describeRetryError, isRetryableStatus, RetryableError, serverRequestedDelay, withRetry, type RetryOptions } from '../common/retry';
import { DEFAULT_IDLE_TIMEOUT_MS, describeTarget, IdleTimeoutError, IdleTimer } from './idle-timeout';

export class HubHttpError extends Error {
  readonly status: number;
  /** `X-Error-Code`: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ... */
  readonly errorCode?: string;
  /** `X-Error-Message` or the JSON `error` of the body. */
  readonly serverMessage?: string;
  readonly url: string;
  constructor(url: string, status: number, errorCode?: string, serverMessage?: string) {
    super(`Hub answered ${status}${errorCode ? ` ${errorCode}` : ''}${serverMessage ? `: ${serverMessage}` : ''} (${stripQuery(url)})`);
    this.name = 'HubHttpError';
    this.url = url;
    this.status = status;
    this.errorCode = errorCode;
    this.serverMessage = serverMessage;
  }
}

function stripQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

export const USER_AGENT = `${TOOL_NAME}/${TOOL_VERSION}; node/${process.versions.node}`;

/** Reads an error response (consuming its body) into a HubHttpError. */
export async function readHubError(res: Response, url = res.url): Promise<HubHttpError> {
  let message = res.headers.get('x-error-message') ?? undefined;
  try {
    const text = await res.text();
    if (!message && text) {
      try {
        const json = JSON.parse(text) as { error?: unknown; message?: unknown };
        const m = json.error ?? json.message;
        if (typeof m === 'string') message = m;
      } catch {
        message = text.length <= 300 ? text.trim() : undefined;
      }
    }
  } catch {
    // body unreadable: the status says enough
  }
  return new HubHttpError(url, res.status, res.headers.get('x-error-code') ?? undefined, message);
}

/** A retryable error for a 429/5xx response, carrying the wait the server asked for. */
export async function retryableFromResponse(res: Response, url: string): Promise<RetryableError> {
  const err = await readHubError(res, url);
  return new RetryableError(err.message, { status: res.status, retryAfterMs: serverRequestedDelay(res.headers), cause: err });
}

export function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export interface HubFetchOptions {
  readonly hubUrl: string;
  readonly accessToken?: string;
  readonly retry?: RetryOptions;
  readonly signal?: AbortSignal;
  /** @default globalThis.fetch */
  readonly fetchImpl?: typeof fetch;
  /** A request that sends no byte (head or body) for this long fails as transient. @default DEFAULT_IDLE_TIMEOUT_MS */
  readonly idleTimeoutMs?: number;
}

/** Headers for a request to `url`: the token only when `url` is on the Hub's origin. */
export function hubHeaders(url: string, opts: Pick<HubFetchOptions, 'hubUrl' | 'accessToken'>, extra?: ConstructorParameters<typeof Headers>[0]): Headers {
  const h = new Headers(extra);
  if (!h.has('user-agent')) h.set('user-agent', USER_AGENT);
  if (opts.accessToken && sameOrigin(url, opts.hubUrl)) {
    if (!h.has('authorization')) h.set('authorization', `Bearer ${opts.accessToken}`);
  } else {
    h.delete('authorization');
  }
  return h;
}

export function logRetry(what: string) {
  return (info: { attempt: number; retries: number; delayMs: number; error: unknown }): void => {
    log.warn(`${what}: ${describeRetryError(info.error)}; retrying in ${(info.delayMs / 1000).toFixed(1)}s (retry ${info.attempt}/${info.retries})`);
  };
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** A Hub answer we cannot use (not JSON, not the shape we expect): the endpoint is not a Hub, or a broken one. */
export function badHubAnswer(url: string, what: string): UserError {
  return new UserError(`The Hub's answer from ${stripQuery(url)} is ${what}`, {
    exitCode: ExitCode.Unavailable,
    hint: 'Check that --hub-url / HF_ENDPOINT points at a HuggingFace Hub (or a compatible mirror); rerun later if the Hub is having trouble.',
  });
}

/** The JSON body of a Hub API answer; a body that is not JSON is a bad answer, not a SyntaxError. */
export async function readHubJson(res: Response, url: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw badHubAnswer(url, 'not JSON');
  }
}

/** A response body, read whole; every chunk restarts the idle timer. */
async function readBody(res: Response, idle: IdleTimer): Promise<Uint8Array | null> {
  if (!res.body) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    idle.touch();
    chunks.push(value);
    size += value.length;
  }
  return Buffer.concat(chunks, size);
}

/**
 * A `fetch` for Hub API calls (revision info, tree listing): token + user agent, retries on
 * transient failures, HubHttpError on any other non-2xx (callers only ever see a 2xx).
 */
export function createHubFetch(opts: HubFetchOptions): typeof fetch {
  const doFetch = opts.fetchImpl ?? fetch;
  const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    const method = (init?.method ?? 'GET').toUpperCase();
    const once = async (): Promise<Response> => {
      // fetch adds an abort listener to the signal it is given and drops it only when the request
      // is garbage-collected; given the run's long-lived signal that leaked one listener per
      // request (thousands while paging). So each request gets its own controller, linked to the
      // long-lived signal only until its body is read.
      const parent = init?.signal ?? opts.signal;
      const request = new AbortController();
      const onAbort = () => request.abort(parent?.reason);
      if (parent?.aborted) onAbort();
      else parent?.addEventListener('abort', onAbort, { once: true });
      // No byte for idleTimeoutMs, head or body: abort this request (retried as transient).
      const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
      let stalled: IdleTimeoutError | undefined;
      const idle = new IdleTimer(idleMs, () => {
        stalled = new IdleTimeoutError(describeTarget(url), idleMs);
        request.abort(stalled);
      });
      try {
        const res = await doFetch(url, { ...init, headers: hubHeaders(url, opts, init?.headers), signal: request.signal });
        idle.touch();
        if (res.ok) {
          // API answers are small JSON: buffer them so reading the body is still abortable (and retried).
          const body = NULL_BODY_STATUSES.has(res.status) ? null : await readBody(res, idle);
          return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
        }
        if (isRetryableStatus(res.status)) throw await retryableFromResponse(res, url);
        throw await readHubError(res, url);
      } catch (e) {
        throw stalled ?? e;
      } finally {
        idle.stop();
        parent?.removeEventListener('abort', onAbort);
      }
    };
    if (method !== 'GET' && method !== 'HEAD') return once();
    return withRetry(once, { onRetry: logRetry(`GET ${stripQuery(url)}`), signal: opts.signal, ...opts.retry });
  };
  return hubFetch as typeof fetch;
}
