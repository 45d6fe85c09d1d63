// GETs of file bodies over node:http/https with one keep-alive agent per protocol, shared by
// every file of the process. Cheaper per byte than WHATWG fetch (no web-stream layer between
// the socket and the disk), and a readable we can pause when the disk falls behind.
// Redirects are followed by hand so the token only ever goes to the Hub's origin.
import * as http from 'node:http';
import * as https from 'node:https';
import { RetryableError } from '../common/retry';
import { hubHeaders, readHubError, retryableFromResponse, type HubHttpError } from './hub-fetch';

const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** A socket silent this long is treated as dropped (retryable, resumes with Range). */
const IDLE_TIMEOUT_MS = 120_000;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Error bodies are read up to this size (they are short JSON or text). */
const MAX_ERROR_BODY = 64 * 1024;

export interface HttpGetOptions {
  readonly hubUrl: string;
  readonly accessToken?: string;
  readonly signal?: AbortSignal;
  /** Extra request headers (e.g. `range`). */
  readonly headers?: Record<string, string>;
}

class SocketIdleTimeout extends Error {
  readonly code = 'ETIMEDOUT';
}

/** One GET, no redirect handling. Resolves with the response head; the body is left unread. */
export function httpGet(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<http.IncomingMessage> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new Error(`unsupported protocol in ${u.origin}`));
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: 'GET', headers, agent: agents[u.protocol as 'http:' | 'https:'], signal }, resolve);
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new SocketIdleTimeout(`no data from ${u.host} for ${IDLE_TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET following redirects; Authorization only goes to the Hub's origin (not the CDN it redirects to). */
export async function getFollowingRedirects(url: string, opts: HttpGetOptions): Promise<http.IncomingMessage> {
  let current = url;
  for (let hop = 0; hop <= 10; hop++) {
    const headers = Object.fromEntries(hubHeaders(current, opts, { 'accept-encoding': 'identity', ...opts.headers }));
    const res = await httpGet(current, headers, opts.signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return res;
    res.resume(); // a redirect's body is a few bytes: drain it so the socket goes back to the pool
    current = new URL(location, current).toString();
  }
  throw new RetryableError(`too many redirects for ${url}`);
}

/** A WHATWG Response holding an error response's status, headers and (bounded) body. */
async function asResponse(res: http.IncomingMessage): Promise<Response> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of res) {
      if (size < MAX_ERROR_BODY) chunks.push(c as Buffer);
      size += (c as Buffer).length;
    }
  } catch {
    // body unreadable: the status says enough
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  return new Response(Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY), { status: res.statusCode, headers });
}

/** The HubHttpError for a non-2xx response (consumes its body). */
export async function hubErrorFromMessage(res: http.IncomingMessage, url: string): Promise<HubHttpError> {
  return readHubError(await asResponse(res), url);
}

/** A RetryableError for a 429/5xx response, carrying Retry-After / RateLimit (consumes its body). */
export async function retryableFromMessage(res: http.IncomingMessage, url: string): Promise<RetryableError> {
  return retryableFromResponse(await asResponse(res), url);
}
