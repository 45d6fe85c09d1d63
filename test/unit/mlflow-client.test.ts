import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExitCode } from '../../steps/common/errors';
import { redact } from '../../steps/common/log';
import {
  MlflowApiError, MlflowClient, authorizationHeader, credentialsFromEnv, resolveTrackingUri,
} from '../../steps/mlflow/client';

type Handler = (req: http.IncomingMessage, body: string) => { status: number; body: string; type?: string; headers?: Record<string, string> };

interface Seen { method: string; url: string; authorization?: string; host?: string; body: string }

async function startServer(handler: Handler): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, host: req.headers.host, body });
      const r = handler(req, body);
      res.writeHead(r.status, { 'content-type': r.type ?? 'application/json', ...(r.headers ?? {}) });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const mlflowError = (status: number, code: string, message: string) => () => ({ status, body: JSON.stringify({ error_code: code, message }) });

async function caught(p: Promise<unknown>): Promise<MlflowApiError> {
  try {
    await p;
  } catch (e) {
    return e as MlflowApiError;
  }
  throw new Error('expected a rejection');
}

describe('auth precedence (as mlflow.utils.rest_utils)', () => {
  it('uses Basic when username and password are set, even with a token', () => {
    const h = authorizationHeader({ username: 'alice', password: 'pw-secret', token: 'tok-secret' });
    expect(h).toBe(`Basic ${Buffer.from('alice:pw-secret').toString('base64')}`);
  });
  it('uses Bearer when only a token is set, or username without password', () => {
    expect(authorizationHeader({ token: 'tok-123456' })).toBe('Bearer tok-123456');
    expect(authorizationHeader({ username: 'alice', token: 'tok-123456' })).toBe('Bearer tok-123456');
  });
  it('sends nothing without credentials', () => {
    expect(authorizationHeader({})).toBeUndefined();
  });
  it('reads MLFLOW_TRACKING_* and registers the secrets for redaction', () => {
    const creds = credentialsFromEnv({ MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'hunter2-pass', MLFLOW_TRACKING_TOKEN: 'tok-abcdef' });
    const header = authorizationHeader(creds)!;
    expect(header.startsWith('Basic ')).toBe(true);
    expect(redact(`pw hunter2-pass header ${header}`)).not.toMatch(/hunter2-pass|Ym9i/);
    authorizationHeader({ token: 'tok-abcdef' });
    expect(redact('token tok-abcdef')).toBe('token ***');
  });
  it('sends the header on the wire (Basic wins over Bearer)', async () => {
    const srv = await startServer(() => ({ status: 200, body: '{}' }));
    try {
      await new MlflowClient({ url: srv.url, credentials: { username: 'u', password: 'p4ss', token: 't0ken' } }).get('/api/2.0/mlflow/experiments/get', { experiment_id: '0' });
      await new MlflowClient({ url: srv.url, credentials: { token: 't0ken' } }).get('/x');
      expect(srv.seen[0].authorization).toBe(`Basic ${Buffer.from('u:p4ss').toString('base64')}`);
      expect(srv.seen[1].authorization).toBe('Bearer t0ken');
      expect(srv.seen[0].url).toBe('/api/2.0/mlflow/experiments/get?experiment_id=0');
    } finally {
      await srv.close();
    }
  });
});

describe('tracking URI', () => {
  it('prefers --tracking-uri over MLFLOW_TRACKING_URI and trims trailing slashes', () => {
    expect(resolveTrackingUri('http://a:5000/', { MLFLOW_TRACKING_URI: 'http://b:5000' }).url).toBe('http://a:5000');
    expect(resolveTrackingUri(undefined, { MLFLOW_TRACKING_URI: 'https://b/mlflow/' }).url).toBe('https://b/mlflow');
  });
  it('rejects missing, malformed and non-http URIs as usage errors', () => {
    expect(() => resolveTrackingUri(undefined, {})).toThrow(/No MLflow tracking server/);
    expect(() => resolveTrackingUri('not a url', {})).toThrow(/Invalid MLflow tracking URI/);
    expect(() => resolveTrackingUri('file:///tmp/mlruns', {})).toThrow(/Unsupported/);
    expect(() => resolveTrackingUri('databricks', {})).toThrow();
  });
  it('moves userinfo out of the URL (fetch refuses it) into Basic credentials', async () => {
    const srv = await startServer(() => ({ status: 200, body: '{}' }));
    try {
      const withCreds = srv.url.replace('http://', 'http://carol:s3cr3t-pw@');
      const client = MlflowClient.fromEnv(withCreds, {});
      expect(client.url).toBe(srv.url);
      await client.get('/x');
      expect(srv.seen[0].authorization).toBe(`Basic ${Buffer.from('carol:s3cr3t-pw').toString('base64')}`);
    } finally {
      await srv.close();
    }
  });
});

describe('error mapping', () => {
  const cases: [string, Handler, number, RegExp][] = [
    ['RESOURCE_DOES_NOT_EXIST', mlflowError(404, 'RESOURCE_DOES_NOT_EXIST', "Could not find experiment with name 'x'"), ExitCode.NotFound, /Could not find experiment/],
    ['RESOURCE_ALREADY_EXISTS', mlflowError(400, 'RESOURCE_ALREADY_EXISTS', 'Experiment already exists'), ExitCode.Conflict, /already exists/],
    ['INVALID_PARAMETER_VALUE', mlflowError(400, 'INVALID_PARAMETER_VALUE', "Invalid model name 'a/b'"), ExitCode.Usage, /rejected .*Invalid model name/],
    ['401', () => ({ status: 401, body: 'You are not authenticated', type: 'text/plain' }), ExitCode.Auth, /requires authentication/],
    ['403 PERMISSION_DENIED', mlflowError(403, 'PERMISSION_DENIED', 'Permission denied'), ExitCode.Auth, /denied/],
    ['404 HTML (no such endpoint)', () => ({ status: 404, body: '<!doctype html><title>404 Not Found</title>', type: 'text/html' }), ExitCode.NotFound, /has no endpoint/],
    ['400 other', mlflowError(400, 'SOMETHING_ELSE', 'bad'), ExitCode.Usage, /HTTP 400/],
  ];
  it.each(cases)('%s', async (_name, handler, exitCode, message) => {
    const srv = await startServer(handler);
    try {
      const e = await caught(new MlflowClient({ url: srv.url, maxAttempts: 1 }).get('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: 'x' }));
      expect(e).toBeInstanceOf(MlflowApiError);
      expect(e.exitCode).toBe(exitCode);
      expect(e.message).toMatch(message);
    } finally {
      await srv.close();
    }
  });

  it("explains MLflow's plain-text 'Invalid Host header' 403 with the host:port to allow", async () => {
    const srv = await startServer(() => ({ status: 403, body: 'Invalid Host header - possible DNS rebinding attack detected', type: 'text/plain' }));
    try {
      const client = new MlflowClient({ url: srv.url });
      const e = await caught(client.post('/api/2.0/mlflow/runs/create', { experiment_id: '1' }));
      const hostPort = new URL(srv.url).host;
      expect(e.exitCode).toBe(ExitCode.Auth);
      expect(e.message).toContain(`Host header '${hostPort}'`);
      expect(e.hint).toContain('--allowed-hosts');
      expect(e.hint).toContain(hostPort);
      expect(srv.seen).toHaveLength(1); // not retried
    } finally {
      await srv.close();
    }
  });

  it('retries idempotent calls on 5xx and then succeeds', async () => {
    let n = 0;
    const srv = await startServer(() => (++n <= 2 ? { status: 503, body: 'busy', type: 'text/plain' } : { status: 200, body: '{"ok":true}' }));
    try {
      const res = await new MlflowClient({ url: srv.url, retryBaseMs: 5 }).get<{ ok: boolean }>('/x');
      expect(res.ok).toBe(true);
      expect(srv.seen).toHaveLength(3);
    } finally {
      await srv.close();
    }
  });

  it('gives up after maxAttempts with Unavailable', async () => {
    const srv = await startServer(mlflowError(500, 'INTERNAL_ERROR', 'db down'));
    try {
      const e = await caught(new MlflowClient({ url: srv.url, retryBaseMs: 1, maxAttempts: 3 }).get('/x'));
      expect(e.exitCode).toBe(ExitCode.Unavailable);
      expect(e.message).toMatch(/HTTP 500 after 3 attempts: db down/);
      expect(srv.seen).toHaveLength(3);
    } finally {
      await srv.close();
    }
  });

  it('does not retry a non-idempotent create on 5xx (it may have happened)', async () => {
    const srv = await startServer(mlflowError(503, 'TEMPORARILY_UNAVAILABLE', 'try later'));
    try {
      const e = await caught(new MlflowClient({ url: srv.url, retryBaseMs: 1 }).post('/api/2.0/mlflow/runs/create', {}));
      expect(e.exitCode).toBe(ExitCode.Unavailable);
      expect(srv.seen).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });

  it('names the URL when the server is unreachable', async () => {
    const srv = await startServer(() => ({ status: 200, body: '{}' }));
    const url = srv.url;
    await srv.close(); // nothing listens there now
    // A short budget: by default a refused connection is waited out for 3 minutes (a restart).
    const e = await caught(new MlflowClient({ url, retryBaseMs: 1, unavailableTimeoutMs: 300 }).post('/api/2.0/mlflow/runs/create', {}));
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toContain(`Cannot reach the MLflow tracking server at ${url}: connection refused on POST /api/2.0/mlflow/runs/create`);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.message).toMatch(/--unavailable-timeout 0\b/);
  });

  it('reports a non-JSON 200 (e.g. a login page) clearly', async () => {
    const srv = await startServer(() => ({ status: 200, body: '<html>login</html>', type: 'text/html' }));
    try {
      const e = await caught(new MlflowClient({ url: srv.url }).get('/x'));
      expect(e.message).toMatch(/not JSON/);
    } finally {
      await srv.close();
    }
  });
});
