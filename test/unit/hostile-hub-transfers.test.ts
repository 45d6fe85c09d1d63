// A Hub (or a host it redirects to) that misbehaves while serving file bytes: a body that stalls,
// a host that sends a short 200 then refuses to resume (416), a redirect to an API or web page, a
// wrong length, a run that outlives its --deadline, paths MLflow cannot list. Each must end in
// bounded time with a clear UserError (message and exit code), never a hang, a retry loop or
// foreign bytes in the work dir.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeadlineError, DeadlinePassed, parseDuration } from '../../steps/common/abort';
import { ExitCode, UserError } from '../../steps/common/errors';
import { checkSource } from '../../steps/hub/check-source';
import { fileAttemptBudget } from '../../steps/hub/download-file';
import { downloadModel } from '../../steps/hub/download-model';
import { refuseFileAnswer } from '../../steps/hub/file-answer';
import { mlflowPathProblem } from '../../steps/hub/mlflow-paths';
import { runCli } from '../support/run-cli';

const SHA = 'c'.repeat(40);
const REPO = 'test/hostile';
const WEIGHTS = 'model.safetensors';
const DATA = Buffer.alloc(200_000, 7);
const SHA256 = createHash('sha256').update(DATA).digest('hex');
const fast = { baseDelayMs: 5, maxDelayMs: 20 };

/** How the "CDN" answers a GET of the file: `range` is the Range header, `n` counts its requests. */
type Cdn = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;
let cdn: Cdn;
let cdnRequests: Array<{ url: string; range?: string }>;
let treeFiles: Array<Record<string, unknown>>;
let server: http.Server;
let base: string;
/** Another host name for the same server, like the Hub's CDN. */
let other: string;
let dest: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url!, base);
    if (u.pathname.startsWith(`/api/models/${REPO}/revision/`)) return json(res, { sha: SHA, id: REPO });
    if (u.pathname.startsWith(`/api/models/${REPO}/tree/`)) return json(res, treeFiles);
    if (u.pathname.startsWith(`/${REPO}/resolve/${SHA}/`)) {
      // Like the Hub: a 302 to another host, with a signed query.
      res.writeHead(302, { location: `${other}/cdn${u.pathname.slice(`/${REPO}/resolve/${SHA}`.length)}?Signature=s3cr3t-sig&Expires=1`, 'content-length': '0' });
      res.end();
      return;
    }
    if (u.pathname.startsWith('/cdn/') || u.pathname.startsWith('/api/2.0/')) {
      cdnRequests.push({ url: u.pathname, range: req.headers.range });
      return cdn(req, res, cdnRequests.length);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  other = `http://localhost:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(async () => {
  cdnRequests = [];
  treeFiles = [{ type: 'file', path: WEIGHTS, size: DATA.length, oid: 'd'.repeat(40), lfs: { oid: SHA256, size: DATA.length, pointerSize: 130 } }];
  dest = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hostile-tx-'));
});
afterEach(async () => {
  server.closeAllConnections();
  await fs.rm(dest, { recursive: true, force: true });
});

function json(res: http.ServerResponse, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(buf.length) });
  res.end(buf);
}

/** Serves DATA honouring Range, like a healthy CDN. */
const healthy: Cdn = (req, res) => {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': String(DATA.length - start),
    ...(m ? { 'content-range': `bytes ${start}-${DATA.length - 1}/${DATA.length}` } : {}),
  });
  res.end(DATA.subarray(start));
};

async function failure(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

const download = (extra: Partial<Parameters<typeof downloadModel>[0]> = {}) =>
  downloadModel({ modelId: REPO, hubUrl: base, dest, progress: 'none', retry: { retries: 2, ...fast }, ...extra });

async function leftovers(): Promise<string[]> {
  return (await fs.readdir(dest, { recursive: true })).map(String).filter((f) => f !== 'mirror-manifest.json');
}

describe('idle timeout', () => {
  it('a body that stops mid-way fails the attempt after the idle timeout, is retried with Range, and ends bounded', async () => {
    cdn = (req, res) => {
      // Sends some bytes after wherever it was asked to start, then nothing, forever.
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(start ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(DATA.length - start),
        ...(start ? { 'content-range': `bytes ${start}-${DATA.length - 1}/${DATA.length}` } : {}),
      });
      res.write(DATA.subarray(start, start + 1000));
    };
    const t0 = Date.now();
    const e = await failure(download({ idleTimeoutMs: 200 }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(/no data from http:\/\/localhost:\d+\/cdn\/model\.safetensors \(model\.safetensors stalled at byte \d+ of 200000\) for 200ms/);
    // Each attempt got further, so it kept going with Range until the request budget ran out.
    expect(e.message).toMatch(/Gave up downloading model\.safetensors after 12 requests/);
    expect(cdnRequests.slice(1).every((r) => /^bytes=\d+-$/.test(r.range ?? ''))).toBe(true);
    // What arrived is kept for a rerun.
    expect((await fs.stat(path.join(dest, `${WEIGHTS}.part`))).size).toBe(12_000);
  });

  it('a server that never answers the request fails after the idle timeout', async () => {
    cdn = () => undefined; // accepts, reads the request, says nothing
    const t0 = Date.now();
    const e = await failure(download({ idleTimeoutMs: 150, retry: { retries: 1, ...fast } }));
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(e.message).toMatch(/Gave up downloading model\.safetensors after 2 requests \(2 in a row without new bytes.*no data from localhost:\d+ for 150ms/);
    expect(cdnRequests).toHaveLength(2);
  });

  it('--idle-timeout and --deadline take durations; anything else is a usage error', () => {
    expect(parseDuration('90', '--deadline')).toBe(90_000);
    expect(parseDuration('90s', '--deadline')).toBe(90_000);
    expect(parseDuration('15m', '--deadline')).toBe(900_000);
    expect(parseDuration('1h30m', '--deadline')).toBe(5_400_000);
    expect(parseDuration('1.5h', '--deadline')).toBe(5_400_000);
    for (const bad of ['', '0', '-5', '2 hours', 'h', '1x', '40d']) {
      expect(() => parseDuration(bad, '--deadline')).toThrow(/--deadline must be a duration/);
    }
  });
});

describe('attempt budget per file', () => {
  it('a host that sends a short 200 and then 416 on resume fails after a bounded number of requests', async () => {
    cdn = (req, res) => {
      if (req.headers.range) {
        res.writeHead(416, { 'content-range': `bytes */${DATA.length}`, 'content-length': '0' });
        res.end();
        return;
      }
      // No Content-Length: a chunked body that just ends early.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(DATA.subarray(0, 5000));
    };
    const t0 = Date.now();
    const e = await failure(download({ retry: { retries: 3, ...fast } }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    // The first short body is progress; every later one only gets back to where it was.
    expect(e.message).toMatch(/Gave up downloading model\.safetensors after 5 requests \(4 in a row without new bytes/);
    expect(e.message).toMatch(/localhost:\d+\/cdn\/model\.safetensors/);
    expect(e.message).not.toContain('s3cr3t');
    expect(cdnRequests).toHaveLength(5);
  });
});

describe('request budget size', () => {
  it('grows by one request per GiB so a huge file on a flaky link is not cut short; --retries sets the rest', () => {
    const file = (size: number) => ({ path: 'x', size, lfs: true });
    expect(fileAttemptBudget({ file: file(1000) })).toEqual({ retries: 5, requests: 24 });
    expect(fileAttemptBudget({ file: file(50 * 1024 ** 3), retry: { retries: 2 } })).toEqual({ retries: 2, requests: 62 });
    expect(fileAttemptBudget({ file: file(1000), maxRequests: 3 })).toEqual({ retries: 5, requests: 3 });
  });
});

describe('redirect answers that are not the file', () => {
  it.each([
    ['an MLflow API (JSON)', 'application/json', '{"runs": [], "next_page_token": null}'],
    ['a web page (HTML)', 'text/html; charset=utf-8', '<html><body>Sign in</body></html>'],
  ])('a redirect to %s: refused at once, naming the target without its query, no .part left', async (_label, type, body) => {
    // The .part of an earlier run that fetched from there too.
    await fs.writeFile(path.join(dest, `${WEIGHTS}.part`), '{"runs": [');
    cdn = (_req, res) => {
      res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    };
    const e = await failure(download());
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(new RegExp(`Refusing the answer for model\\.safetensors: the redirect target http://localhost:\\d+/cdn/model\\.safetensors answered model\\.safetensors with Content-Type ${type.split(';')[0].replace('/', '\\/')}`));
    expect(e.message).not.toContain('s3cr3t');
    expect(cdnRequests).toHaveLength(1);
    expect(await leftovers()).toEqual([]);
  });

  it('a redirect target whose Content-Length is not the listed size: no bytes kept, bounded, target named', async () => {
    cdn = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '512' });
      res.end(Buffer.alloc(512));
    };
    const e = await failure(download());
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(/after 3 requests.*the redirect target http:\/\/localhost:\d+\/cdn\/model\.safetensors answered model\.safetensors with Content-Length 512 where 200000 bytes of the 200000-byte file were expected/);
    expect(cdnRequests).toHaveLength(3);
    expect(await leftovers()).toEqual([]);
  });

  it('legitimate answers still work: a .json file as application/json, a Range answered 200 with the whole body', async () => {
    const config = Buffer.from('{"model_type": "gpt2"}\n');
    const blob = createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex');
    treeFiles.push({ type: 'file', path: 'config.json', size: config.length, oid: blob });
    await fs.writeFile(path.join(dest, `${WEIGHTS}.part`), DATA.subarray(0, 1000));
    cdn = (req, res) => {
      if (req.url!.includes('config.json')) {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(config.length) });
        res.end(config);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(DATA.length) }); // Range ignored
      res.end(DATA);
    };
    const m = await download();
    expect([...m.files].map((f) => f.path).sort()).toEqual(['config.json', WEIGHTS]);
    expect(await fs.readFile(path.join(dest, WEIGHTS))).toEqual(DATA);
  });

  it('refuseFileAnswer: what the real Hub/CDN sends passes, the rest is refused', () => {
    const a = (status: number, headers: Record<string, string>, offset = 0, p = WEIGHTS) => refuseFileAnswer({ status, headers, offset, path: p, size: 1000 });
    expect(a(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' })).toBeUndefined();
    expect(a(206, { 'content-type': 'binary/octet-stream', 'content-length': '600', 'content-range': 'bytes 400-999/1000' }, 400)).toBeUndefined();
    expect(a(200, { 'content-type': 'text/plain; charset=utf-8' }, 0, 'README.md')).toBeUndefined(); // chunked, no length
    expect(a(200, { 'content-type': 'application/json', 'content-length': '1000' }, 0, 'tokenizer.json')).toBeUndefined();
    expect(a(200, { 'content-type': 'text/html', 'content-length': '1000' }, 0, 'docs/index.html')).toBeUndefined();
    expect(a(200, { 'content-encoding': 'gzip', 'content-length': '300' })).toBeUndefined();
    expect(a(200, { 'content-type': 'application/problem+json', 'content-length': '1000' })?.kind).toBe('type');
    expect(a(200, { 'content-type': 'application/xml', 'content-length': '1000' })?.kind).toBe('type');
    expect(a(200, { 'content-length': '999' })?.kind).toBe('length');
    expect(a(206, { 'content-length': '600', 'content-range': 'bytes 400-999/5000' }, 400)?.kind).toBe('length');
    expect(a(206, { 'content-length': '100', 'content-range': 'bytes 400-499/1000' }, 400)?.kind).toBe('length');
  });
});

describe('--deadline', () => {
  it('stops a slow download cleanly: exit 5 saying how far it got, the .part kept, and a rerun resumes it', async () => {
    cdn = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(DATA.length) });
      res.write(DATA.subarray(0, 50_000)); // then stalls (the idle timeout is longer than the deadline)
    };
    const t0 = Date.now();
    const r = await runCli(['download', '--model-id', REPO, '--dest', dest, '--hub-url', base, '--deadline', '1', '--idle-timeout', '60s'], { HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stderr).toMatch(/The deadline \(--deadline 1\) passed while downloading: 0 of 1 files complete, 50\.0 kB of 200 kB on disk/);
    expect(r.stderr).toMatch(/rerun the same command/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await fs.stat(path.join(dest, `${WEIGHTS}.part`))).size).toBe(50_000);

    cdnRequests = [];
    cdn = healthy;
    const again = await runCli(['download', '--model-id', REPO, '--dest', dest, '--hub-url', base, '--deadline', '1m']);
    expect(again.code).toBe(0);
    expect(cdnRequests).toEqual([{ url: `/cdn/${WEIGHTS}`, range: 'bytes=50000-' }]);
    expect(await fs.readFile(path.join(dest, WEIGHTS))).toEqual(DATA);
  });

  it('a deadline that passed before the Hub answered says so', async () => {
    const e = await failure(downloadModel({ modelId: REPO, hubUrl: base, dest, progress: 'none', signal: AbortSignal.abort(new DeadlinePassed('1s')) }));
    expect(e).toBeInstanceOf(DeadlineError);
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(/The deadline \(--deadline 1s\) passed while resolving test\/hostile@main on the Hub/);
  });
});

describe('paths MLflow cannot address', () => {
  it.each([
    ['a#b/config.json', /contains '#'/],
    ['weights%23.bin', /%xx escape/],
    ['dir%2Fx/file', /%xx escape/],
    ['new\nline.txt', /control character/],
  ])('%j is refused by the Hub check before any byte moves, naming the path and the rule', async (p, rule) => {
    treeFiles.push({ type: 'file', path: p, size: 3, oid: 'e'.repeat(40) });
    cdn = healthy;
    const e = await failure(checkSource({ modelId: REPO, hubUrl: base, retry: { retries: 0 } }));
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.message).toContain(JSON.stringify(p));
    expect(e.message).toMatch(rule);
    expect(e.hint).toMatch(/--ignore-patterns/);
    expect(cdnRequests).toHaveLength(0);
  });

  it('what MLflow accepts as it is passes', () => {
    for (const p of ['model.safetensors', 'a b/c;d.txt', '100%/x', 'ünï/cödé.json', 'x?y', '[z]:w']) expect(mlflowPathProblem(p)).toBeUndefined();
  });
});
