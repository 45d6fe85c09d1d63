// GETs of file bodies over node:http/https with one keep-alive agent per protocol, shared by
// every file of the process. Cheaper per byte than WHATWG fetch (no web-stream layer between
// the socket and the disk), and a readable we can pause when the disk falls behind.
// Redirects are followed by hand so the token only ever goes to the Hub's origin.
import * as http from 'node:http';
import * as https from 'node:https';
import { ExitCode, UserError } from '../common/errors';
import { RetryableError } from '../common/retry';
import { hubHeaders, readHubError, retryableFromResponse, type HubHttpError } from './hub-fetch';
import { DEFAULT_IDLE_TIMEOUT_MS, describeTarget, IdleTimeoutError, IdleTimer } from './idle-timeout';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Error bodies are read up to this size (they are short JSON or text). */
const MAX_ERROR_BODY = 64 * 1024;

export interface HttpGetOptions {
  readonly hubUrl: string;
  readonly accessToken?: string;
  readonly signal?: AbortSignal;
  /** Extra request headers (e.g. `range`). */
  readonly headers?: Record<string, string>;
  /** Longest wait for the connection and the response head. @default DEFAULT_IDLE_TIMEOUT_MS */
  readonly idleTimeoutMs?: number;
}

/** A response head and the URL that answered it (after redirects). */
export interface HubResponse {
  readonly res: http.IncomingMessage;
  /** The URL that gave this answer. */
  readonly url: string;
  /** True when a redirect led here (the answer comes from where the Hub pointed, not the Hub itself). */
  readonly redirected: boolean;
}

/**
 * One GET, no redirect handling. Resolves with the response head; the body is left unread. No
 * byte for `idleTimeoutMs` while connecting or waiting for the head fails it (ETIMEDOUT); the
 * body's reader keeps its own idle timer (see download-file.ts), so this one stops at the head.
 */
export function httpGet(url: string, headers: Record<string, string>, signal?: AbortSignal, idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS): Promise<http.IncomingMessage> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!mod) {
    return Promise.reject(new UserError(`The Hub redirected to ${describeTarget(url)}, which is not an http(s) URL`, { exitCode: ExitCode.Unavailable }));
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: 'GET', headers, agent: agents[u.protocol as 'http:' | 'https:'], signal }, (res) => {
      req.setTimeout(0);
      resolve(res);
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new IdleTimeoutError(u.host, idleTimeoutMs)));
    req.on('error', reject);
    req.end();
  });
}

/** GET following redirects; Authorization only goes to the Hub's origin (not the CDN it redirects to). */
export async function getFollowingRedirects(url: string, opts: HttpGetOptions): Promise<HubResponse> {
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const headers = Object.fromEntries(hubHeaders(current, opts, { 'accept-encoding': 'identity', ...opts.headers }));
    const res = await httpGet(current, headers, opts.signal, opts.idleTimeoutMs);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { res, url: current, redirected: hop > 0 };
    res.resume(); // a redirect's body is a few bytes: drain it so the socket goes back to the pool
    try {
      current = new URL(location, current).toString();
    } catch {
      throw new UserError(`${describeTarget(current)} answered ${res.statusCode} with an invalid Location ${JSON.stringify(location.slice(0, 200))}`, { exitCode: ExitCode.Unavailable });
    }
  }
  throw new RetryableError(`too many redirects for ${describeTarget(url)}`);
}
/** A WHATWG Response holding an error response's status, headers and (bounded) body; a stalled body ends the read. */
async function asResponse(res: http.IncomingMessage, idleTimeoutMs: number): Promise<Response> {
  const chunks: Buffer[] = [];
  let size = 0;
  const idle = new IdleTimer(idleTimeoutMs, () => res.destroy(new IdleTimeoutError(res.socket?.remoteAddress ?? 'the server', idleTimeoutMs)));
  try {
    for await (const c of res) {
      idle.touch();
      if (size < MAX_ERROR_BODY) chunks.push(c as Buffer);
      size += (c as Buffer).length;
      if (size >= 16 * MAX_ERROR_BODY) break; // an endless "error" body: the status says enough
    }
  } catch {
    // body unreadable: the status says enough
  } finally {
    idle.stop();
    if (!res.complete) res.destroy();
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  return new Response(Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY), { status: res.statusCode, headers });
}

/** The HubHttpError for a non-2xx response (consumes its body). */
export async function hubErrorFromMessage(res: http.IncomingMessage, url: string, idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS): Promise<HubHttpError> {
  return readHubError(await asResponse(res, idleTimeoutMs), url);
}

/** A RetryableError for a 429/5xx response, carrying Retry-After / RateLimit (consumes its body). */
export async function retryableFromMessage(res: http.IncomingMessage, url: string, idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS): Promise<RetryableError> {
  return retryableFromResponse(await asResponse(res, idleTimeoutMs), url);
}
