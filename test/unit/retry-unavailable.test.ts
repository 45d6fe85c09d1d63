// Waiting out a restart of MLflow or S3: the budget (--unavailable-timeout), the capped backoff,
// the "waiting for ..." lines, and the clients that use them (against small local HTTP servers).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ExitCode } from '../../steps/common/errors';
import {
  AvailabilityGate, DEFAULT_UNAVAILABLE_TIMEOUT_S, Outage, PeerUnavailableError, parseUnavailableTimeout, setUnavailableTimeout,
  unavailableReason, unavailableTimeoutMs,
} from '../../steps/common/retry';
import { MlflowApiError, MlflowClient } from '../../steps/mlflow/client';
import { createRun } from '../../steps/mlflow/runs';
import { createS3Client } from '../../steps/s3/client';
import { toS3UserError } from '../../steps/s3/errors';
import { main } from '../../steps/cli';

afterEach(() => setUnavailableTimeout(undefined));

describe('the budget', () => {
  it('defaults to 3 minutes, env MODEL_MIRROR_UNAVAILABLE_TIMEOUT overrides it, the CLI option overrides both', () => {
    expect(DEFAULT_UNAVAILABLE_TIMEOUT_S).toBeGreaterThanOrEqual(180);
    expect(unavailableTimeoutMs({})).toBe(180_000);
    expect(unavailableTimeoutMs({ MODEL_MIRROR_UNAVAILABLE_TIMEOUT: '30' })).toBe(30_000);
    expect(unavailableTimeoutMs({ MODEL_MIRROR_UNAVAILABLE_TIMEOUT: 'soon' })).toBe(180_000);
    setUnavailableTimeout(2.5);
    expect(unavailableTimeoutMs({ MODEL_MIRROR_UNAVAILABLE_TIMEOUT: '30' })).toBe(2500);
  });
  it('rejects what is not a number of seconds', () => {
    expect(parseUnavailableTimeout(undefined, 'x')).toBeUndefined();
    expect(parseUnavailableTimeout('', 'x')).toBeUndefined();
    expect(parseUnavailableTimeout(' 45 ', 'x')).toBe(45);
    expect(parseUnavailableTimeout(0, 'x')).toBe(0);
    expect(() => parseUnavailableTimeout('-1', '--unavailable-timeout')).toThrow(/--unavailable-timeout must be a number of seconds/);
    expect(() => parseUnavailableTimeout(Number.NaN, '--unavailable-timeout')).toThrow(/got NaN/);
  });
  it('is a global CLI option, documented in --help, and a bad value is a usage error (exit 2)', async () => {
    const out: string[] = [];
    const so = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(a.join(' ')); });
    const se = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { out.push(String(c)); return true; });
    try {
      expect(await main(['finalize', '--help'])).toBe(0);
      expect(out.join('')).toMatch(/--unavailable-timeout\s+Seconds to keep waiting while MLflow or S3 does not answer/);
      expect(out.join('')).toMatch(/MODEL_MIRROR_UNAVAILABLE_TIMEOUT/);
      out.length = 0;
      expect(await main(['finalize', '--workflow-status', 'Succeeded', '--unavailable-timeout', '-3'])).toBe(2);
      expect(out.join('')).toMatch(/--unavailable-timeout must be a number of seconds/);
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
  });
});

describe('unavailableReason: what counts as "unavailable"', () => {
  const coded = (code: string) => Object.assign(new Error(`x ${code}`), { code });
  it.each([
    ['ECONNREFUSED', 'connection refused'], ['ECONNRESET', 'connection reset'], ['EPIPE', 'connection reset'],
    ['ENOTFOUND', 'DNS lookup failed'], ['EAI_AGAIN', 'DNS lookup failed'], ['ETIMEDOUT', 'timed out'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timed out'], ['EHOSTUNREACH', 'host unreachable'],
  ])('%s -> %s, also when wrapped (fetch failed)', (code, reason) => {
    expect(unavailableReason(coded(code))).toBe(reason);
    expect(unavailableReason(new TypeError('fetch failed', { cause: coded(code) }))).toBe(reason);
  });
  it('502, 503, 504 and 429 are; 500, 501, 400, 403, 404 are not', () => {
    for (const s of [502, 503, 504, 429]) expect(unavailableReason(undefined, s)).toBe(`HTTP ${s}`);
    for (const s of [500, 501, 400, 403, 404]) expect(unavailableReason(undefined, s)).toBeUndefined();
  });
  it('a socket timeout (AbortSignal.timeout) is; an error without a network cause is not', () => {
    expect(unavailableReason(new DOMException('The operation timed out', 'TimeoutError'))).toBe('timed out');
    expect(unavailableReason(new Error('Unexpected token < in JSON'))).toBeUndefined();
  });
});

describe('Outage: capped exponential backoff within the budget', () => {
  function clock(start = 1_000_000) {
    let t = start;
    return { now: () => t, advance: (ms: number) => { t += ms; } };
  }

  it('waits longer each time up to the cap, logs one informative line per attempt, and stops at the budget', () => {
    const c = clock();
    const lines: string[] = [];
    const o = new Outage('MLflow at http://mlflow:5000', { budgetMs: 180_000, baseDelayMs: 1_000, maxDelayMs: 10_000, now: c.now, random: () => 1, report: (l) => lines.push(l) });
    const delays: number[] = [];
    for (;;) {
      const d = o.nextDelay('connection refused');
      if (d === undefined) break;
      delays.push(d);
      c.advance(d);
    }
    expect(delays.slice(0, 5)).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
    expect(Math.max(...delays)).toBe(10_000);
    // The whole budget is used, never more: the last wait ends exactly at 180 s.
    expect(delays.reduce((a, b) => a + b, 0)).toBe(180_000);
    expect(o.elapsedMs).toBe(180_000);
    expect(lines).toHaveLength(delays.length);
    expect(lines.length).toBeLessThan(25);
    expect(lines[0]).toBe('waiting for MLflow at http://mlflow:5000: connection refused (0 s of 180 s; next attempt in 1.0 s)');
    expect(lines[5]).toMatch(/^waiting for MLflow at http:\/\/mlflow:5000: connection refused \(25 s of 180 s; next attempt in 10\.0 s\)$/);
    expect(o.gaveUpMessage()).toBe(`connection refused for 180 s (${delays.length + 1} attempts; --unavailable-timeout 180)`);
  });

  it("honours a server's Retry-After, but not past the budget", () => {
    const c = clock();
    const o = new Outage('S3 at x', { budgetMs: 60_000, now: c.now, random: () => 0 });
    expect(o.nextDelay('HTTP 429', 20_000)).toBe(20_000);
    c.advance(50_000);
    expect(o.nextDelay('HTTP 429', 20_000)).toBe(10_000);
    c.advance(10_000);
    expect(o.nextDelay('HTTP 429', 20_000)).toBeUndefined();
  });

  it('a zero budget gives up at the first failure', () => {
    expect(new Outage('x', { budgetMs: 0 }).nextDelay('connection refused')).toBeUndefined();
  });

  it('says when the peer is back, only if it waited', () => {
    const c = clock();
    const o = new Outage('S3 at x', { budgetMs: 60_000, now: c.now });
    expect(o.recoveredMessage()).toBeUndefined();
    o.nextDelay('connection reset');
    c.advance(12_000);
    expect(o.recoveredMessage()).toBe('S3 at x answers again after 12 s of unavailability');
  });
});

describe('AvailabilityGate: one probing loop for all waiting requests', () => {
  it('concurrent waiters share the probes and the log lines; true once the probe answers', async () => {
    let probes = 0;
    const lines: string[] = [];
    const gate = new AvailabilityGate('S3 at x', async () => (++probes < 3 ? 'connection refused' : undefined), {
      budgetMs: () => 60_000, sleep: async () => undefined, report: (l) => lines.push(l),
    });
    const results = await Promise.all([gate.waitUntilUp('connection reset'), gate.waitUntilUp('connection reset'), gate.waitUntilUp('connection reset')]);
    expect(results).toEqual([true, true, true]);
    expect(probes).toBe(3);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^waiting for S3 at x: connection reset/);
    expect(lines[1]).toMatch(/^waiting for S3 at x: connection refused/);
  });

  it('false once the budget is spent, and at once for later requests (no second wait)', async () => {
    let probes = 0;
    const gate = new AvailabilityGate('S3 at x', async () => { probes++; return 'connection refused'; }, { budgetMs: () => 30, baseDelayMs: 5, maxDelayMs: 5 });
    expect(await gate.waitUntilUp('connection refused')).toBe(false);
    const n = probes;
    expect(n).toBeGreaterThan(0);
    expect(await gate.waitUntilUp('connection refused')).toBe(false);
    expect(probes).toBe(n);
    expect(gate.outage?.gaveUpMessage()).toMatch(/^connection refused for \d+ s \(\d+ attempts; --unavailable-timeout 0\)$/);
  });
});

// --- the clients ---

type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'drop';

async function server(handler: (req: http.IncomingMessage, body: string) => Reply, port = 0) {
  const seen: { method: string; url: string; body: string }[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      const r = handler(req, body);
      if (r === 'drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers ?? {}) });
      res.end(r.body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  const p = (srv.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${p}`, port: p, seen, close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

async function freePort(): Promise<number> {
  const s = await server(() => ({ status: 200 }));
  await s.close();
  return s.port;
}

describe('MlflowClient waits out a restart', () => {
  it('a GET to a server that is down, then starts on the same port, succeeds (with waiting lines)', async () => {
    const port = await freePort();
    const warn = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let srv: Awaited<ReturnType<typeof server>> | undefined;
    try {
      const later = new Promise<void>((resolve) => setTimeout(() => {
        void server(() => ({ status: 200, body: '{"ok":true}' }), port).then((s) => { srv = s; resolve(); });
      }, 700));
      const client = new MlflowClient({ url: `http://127.0.0.1:${port}`, retryBaseMs: 100, unavailableTimeoutMs: 10_000 });
      const res = await client.get<{ ok: boolean }>('/api/2.0/mlflow/runs/get');
      await later;
      expect(res.ok).toBe(true);
      const printed = warn.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toMatch(new RegExp(`WARN: waiting for MLflow at http://127\\.0\\.0\\.1:${port}: connection refused on GET /api/2\\.0/mlflow/runs/get \\(0 s of 10 s; next attempt in`));
      expect(printed).toMatch(/MLflow at .* answers again after \d+ s of unavailability/);
    } finally {
      warn.mockRestore();
      await srv?.close();
    }
  });

  it('503/502/504 on an idempotent call are waited out beyond maxAttempts; a 404 fails at once', async () => {
    let n = 0;
    const srv = await server(() => (++n <= 6 ? { status: [502, 503, 504][n % 3] } : { status: 200, body: '{"ok":1}' }));
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const client = new MlflowClient({ url: srv.url, retryBaseMs: 1, maxRetryDelayMs: 5, maxAttempts: 2, unavailableTimeoutMs: 10_000 });
      expect(await client.get('/x')).toEqual({ ok: 1 });
      expect(srv.seen).toHaveLength(7);
    } finally {
      quiet.mockRestore();
      await srv.close();
    }
    const gone = await server(() => ({ status: 404, body: '{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no run"}' }));
    try {
      const e = await new MlflowClient({ url: gone.url, unavailableTimeoutMs: 10_000 }).get('/x').catch((x: unknown) => x as MlflowApiError);
      expect((e as MlflowApiError).exitCode).toBe(ExitCode.NotFound);
      expect(gone.seen).toHaveLength(1);
    } finally {
      await gone.close();
    }
  });

  it('a 429 on a create is repeated after Retry-After (MLflow did not carry it out)', async () => {
    let n = 0;
    const srv = await server(() => (++n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200, body: '{"id":"1"}' }));
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await new MlflowClient({ url: srv.url, retryBaseMs: 1, unavailableTimeoutMs: 5_000 }).post('/api/2.0/mlflow/runs/create', {})).toEqual({ id: '1' });
      expect(srv.seen).toHaveLength(2);
    } finally {
      quiet.mockRestore();
      await srv.close();
    }
  });

  it('past the budget: Unavailable (exit 5) naming the server, the reason and the budget', async () => {
    const port = await freePort();
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const e = (await new MlflowClient({ url: `http://127.0.0.1:${port}`, retryBaseMs: 50, unavailableTimeoutMs: 1_200 }).get('/x').then(() => undefined, (x: unknown) => x)) as MlflowApiError;
      expect(e).toBeInstanceOf(MlflowApiError);
      expect(e.exitCode).toBe(ExitCode.Unavailable);
      expect(e.message).toMatch(new RegExp(`^Cannot reach the MLflow tracking server at http://127\\.0\\.0\\.1:${port}: connection refused on GET /x for 1 s \\(\\d+ attempts; --unavailable-timeout 1\\)`));
      expect(e.hint).toMatch(/--unavailable-timeout/);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe('creates are looked up before they are repeated', () => {
  const runJson = (id: string) => JSON.stringify({ run: { info: { run_id: id, experiment_id: '1', status: 'RUNNING', artifact_uri: 's3://b/a' }, data: {} } });

  it('run create answered 503 (it happened): the search by create token finds the run, no second create', async () => {
    let token = '';
    const srv = await server((req, body) => {
      if (req.url === '/api/2.0/mlflow/runs/create') {
        token = (JSON.parse(body) as { tags: { key: string; value: string }[] }).tags.find((t) => t.key === 'model_mirror.create_token')!.value;
        return { status: 503 };
      }
      if (req.url === '/api/2.0/mlflow/runs/search') {
        expect((JSON.parse(body) as { filter: string }).filter).toBe(`tags.\`model_mirror.create_token\` = '${token}'`);
        return { status: 200, body: JSON.stringify({ runs: [JSON.parse(runJson('r1')).run] }) };
      }
      return { status: 404 };
    });
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const run = await createRun(new MlflowClient({ url: srv.url, retryBaseMs: 1 }), { experimentId: '1', runName: 'r' });
      expect(run.info.run_id).toBe('r1');
      expect(srv.seen.map((s) => s.url)).toEqual(['/api/2.0/mlflow/runs/create', '/api/2.0/mlflow/runs/search']);
    } finally {
      quiet.mockRestore();
      await srv.close();
    }
  });

  it('connection dropped after sending and nothing created: sent again once, with the same token', async () => {
    let creates = 0;
    const srv = await server((req) => {
      if (req.url === '/api/2.0/mlflow/runs/create') return ++creates === 1 ? 'drop' : { status: 200, body: runJson('r2') };
      if (req.url === '/api/2.0/mlflow/runs/search') return { status: 200, body: '{}' };
      return { status: 404 };
    });
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const run = await createRun(new MlflowClient({ url: srv.url, retryBaseMs: 1 }), { experimentId: '1', runName: 'r' });
      expect(run.info.run_id).toBe('r2');
      expect(srv.seen.map((s) => s.url)).toEqual(['/api/2.0/mlflow/runs/create', '/api/2.0/mlflow/runs/search', '/api/2.0/mlflow/runs/create']);
      const tokens = srv.seen.filter((s) => s.url.endsWith('/create')).map((s) => (JSON.parse(s.body) as { tags: { key: string; value: string }[] }).tags.find((t) => t.key === 'model_mirror.create_token')?.value);
      expect(tokens[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(tokens[1]).toBe(tokens[0]);
    } finally {
      quiet.mockRestore();
      await srv.close();
    }
  });

  it('a plain POST (no lookup) that fails ambiguously is not repeated and says so', async () => {
    const srv = await server(() => ({ status: 503 }));
    try {
      const e = (await new MlflowClient({ url: srv.url }).post('/api/2.0/mlflow/model-versions/create', {}).then(() => undefined, (x: unknown) => x)) as MlflowApiError;
      expect(e.ambiguous).toBe(true);
      expect(srv.seen).toHaveLength(1);
    } finally {
      await srv.close();
    }
  });
});

describe('S3 client waits out a restart', () => {
  const creds = { accessKeyId: 'AKIATEST', secretAccessKey: 'secret-test-key' };

  it('a PutObject (buffer body) meeting 503s is sent again once a probe answers; one waiting line per attempt', async () => {
    let puts = 0;
    const srv = await server((req) => {
      if (req.method === 'PUT') return ++puts <= 1 ? { status: 503, body: '<Error><Code>ServiceUnavailable</Code></Error>' } : { status: 200, headers: { etag: '"abc"' } };
      return { status: 200 }; // HeadBucket probe
    });
    const lines: string[] = [];
    const w = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { lines.push(String(c)); return true; });
    const s3 = createS3Client({ endpoint: srv.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1, unavailableTimeoutMs: 10_000 });
    try {
      const out = await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Buffer.from('hello') }));
      expect(out.ETag).toBe('"abc"');
      expect(srv.seen.map((s) => s.method)).toEqual(['PUT', 'HEAD', 'PUT']);
      expect(lines.join('')).toMatch(new RegExp(`WARN: waiting for S3 at ${srv.url.replace(/\./g, '\\.')}: HTTP 503 \\(PutObjectCommand\\) \\(0 s of 10 s; next attempt in`));
    } finally {
      w.mockRestore();
      s3.destroy();
      await srv.close();
    }
  });

  it('past the budget: PeerUnavailableError, exit 5, "Cannot reach S3 at …", kept as is by toS3UserError', async () => {
    const port = await freePort();
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const s3 = createS3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1, unavailableTimeoutMs: 1_000 });
    try {
      const e = await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: Buffer.from('x') })).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PeerUnavailableError);
      const u = toS3UserError(e, { endpoint: `http://127.0.0.1:${port}`, bucket: 'b', key: 'k' }) as PeerUnavailableError;
      expect(u).toBe(e);
      expect(u.exitCode).toBe(ExitCode.Unavailable);
      expect(u.message).toMatch(new RegExp(`^Cannot reach S3 at http://127\\.0\\.0\\.1:${port}: connection refused for 1 s \\(\\d+ attempts; --unavailable-timeout 1\\)$`));
    } finally {
      quiet.mockRestore();
      s3.destroy();
    }
  });
});
