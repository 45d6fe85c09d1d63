// A Hub (or whatever --hub-url points at) that answers badly: pagination that loops, leaves the
// Hub's origin or never ends; JSON that is not a tree or a model's info; `.git/` paths. Each must
// end in a clear UserError, never a loop, a TypeError or a write into the work dir.
import { getEventListeners } from 'node:events';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode, UserError } from '../../steps/common/errors';
import { downloadModel } from '../../steps/hub/download-model';
import { listRepoFiles, nextPageUrl } from '../../steps/hub/list-files';
import { resolveRevision } from '../../steps/hub/resolve-revision';

const SHA = 'a'.repeat(40);
const REPO = 'test/hostile';
const file = (p: string) => ({ type: 'file', path: p, size: 3, oid: 'b'.repeat(40) });

type Answer = { status?: number; headers?: Record<string, string | undefined>; body: unknown };
let answer: (u: URL, base: string) => Answer;
let requests: string[];
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url!, base);
    requests.push(u.pathname + u.search);
    const a = answer(u, base);
    const headers = Object.entries({ 'content-type': 'application/json', ...a.headers }).filter((h): h is [string, string] => h[1] !== undefined);
    res.writeHead(a.status ?? 200, Object.fromEntries(headers));
    res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  requests = [];
});

const list = (extra: Record<string, unknown> = {}) => listRepoFiles({ hubUrl: base, repo: REPO, commitSha: SHA, retry: { retries: 0 }, ...extra });

async function userError(p: Promise<unknown>): Promise<UserError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UserError);
  return e as UserError;
}

describe('tree pagination', () => {
  it('follows relative and absolute next links on the Hub', async () => {
    answer = (u) => {
      const page = Number(u.searchParams.get('cursor') ?? 0);
      const next = page === 0 ? `<${base}${u.pathname}?recursive=true&cursor=1>; rel="next"` : page === 1 ? `<${u.pathname}?recursive=true&cursor=2>; rel="next"` : undefined;
      return { headers: next ? { link: next } : {}, body: [file(`f${page}.txt`), { type: 'directory', path: 'd' }] };
    };
    expect((await list()).map((f) => f.path)).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
  });

  it('stops when a next link points back at an earlier page', async () => {
    answer = (u) => {
      const page = Number(u.searchParams.get('cursor') ?? 0);
      return { headers: { link: `<${base}${u.pathname}?recursive=true&expand=false&cursor=${(page + 1) % 3}>; rel="next"` }, body: [file(`f${page}.txt`)] };
    };
    const e = await userError(list());
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(/loops: its next page .*cursor=1 was already listed/);
    expect(requests.length).toBeLessThanOrEqual(4);
  });

  it('stops when the first page links to itself', async () => {
    answer = (u) => ({ headers: { link: `<${base}${u.pathname}${u.search}>; rel="next"` }, body: [file('x.txt')] });
    expect((await userError(list())).message).toMatch(/loops/);
    expect(requests).toHaveLength(1);
  });

  it('refuses a next page on another origin, without requesting it', async () => {
    answer = () => ({ headers: { link: '<http://localhost:1/api/models/test/hostile/tree/x?cursor=1>; rel="next"' }, body: [file('x.txt')] });
    const e = await userError(list({ accessToken: 'hf_secret_token_value' }));
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toMatch(/another origin \(http:\/\/localhost:1/);
    expect(requests).toHaveLength(1);
  });

  it('caps the number of pages and of entries', async () => {
    answer = (u) => ({ headers: { link: `<${base}${u.pathname}?cursor=${Number(u.searchParams.get('cursor') ?? 0) + 1}>; rel="next"` }, body: [file('x.txt'), file('y.txt')] });
    expect((await userError(list({ maxPages: 5 }))).message).toMatch(/more than 5 pages/);
    expect(requests).toHaveLength(5);
    requests = [];
    expect((await userError(list({ maxEntries: 5 }))).message).toMatch(/more than 5 entries/);
    expect(requests).toHaveLength(3);
  });

  it('adds no abort listener per request to the long-lived signal', async () => {
    answer = (u) => {
      const page = Number(u.searchParams.get('cursor') ?? 0);
      return { headers: page < 59 ? { link: `<${base}${u.pathname}?cursor=${page + 1}>; rel="next"` } : {}, body: [file(`f${page}`)] };
    };
    const run = new AbortController();
    expect(await list({ signal: run.signal })).toHaveLength(60);
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
  });

  it('reads only rel="next" from a Link header', () => {
    expect(nextPageUrl('<https://h/a?c=1>; rel="prev", <https://h/a?c=3>; rel="next"', 'https://h/a')).toBe('https://h/a?c=3');
    expect(nextPageUrl('<https://h/a?c=1>; rel="last"', 'https://h/a')).toBeUndefined();
    expect(nextPageUrl(null, 'https://h/a')).toBeUndefined();
  });
});

describe('answers that are not what the Hub sends', () => {
  it.each([
    ['an object instead of a tree', { items: [] }],
    ['null', null],
    ['an entry that is not an object', [42]],
    ['entries without type/path', [{ name: 'x' }]],
    ['HTML', '<html>not json</html>'],
  ])('a tree listing that is %s is an Unavailable error naming the URL', async (_label, body) => {
    answer = () => ({ body });
    const e = await userError(list());
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toContain(`${base}/api/models/${REPO}/tree/${SHA}`);
  });

  it.each([
    ['an array', [{ sha: SHA }]],
    ['null', null],
    ['a number', 5],
    ['HTML', '<html>not json</html>'],
    ['an object without a sha', { ok: true }],
  ])('model info that is %s is an Unavailable error naming the URL', async (_label, body) => {
    answer = () => ({ body });
    const e = await userError(resolveRevision({ hubUrl: base, repo: REPO, retry: { retries: 0 } }));
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toContain(`${base}/api/models/${REPO}/revision/main`);
  });

  it('reads the model info the Hub sends', async () => {
    answer = () => ({ body: { sha: SHA, gated: 'auto', private: false, pipeline_tag: 'text-generation', library_name: 'transformers' } });
    await expect(resolveRevision({ hubUrl: base, repo: REPO, revision: 'v1.0' })).resolves.toEqual({
      repo: REPO, requestedRevision: 'v1.0', commitSha: SHA, gated: 'auto', private: false, pipelineTag: 'text-generation', libraryName: 'transformers',
    });
  });
});

describe('.git paths in a listing', () => {
  it('refuses them before writing anything into a git checkout used as --dest', async () => {
    answer = (u) => ({ body: u.pathname.includes('/tree/') ? [file('config.json'), file('.git/config')] : { sha: SHA } });
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hostile-'));
    try {
      await fs.mkdir(path.join(dest, '.git'));
      await fs.writeFile(path.join(dest, '.git', 'config'), '[core]\n');
      const e = await userError(downloadModel({ modelId: REPO, hubUrl: base, dest, retry: { retries: 0 } }));
      expect(e.exitCode).toBe(ExitCode.LocalStorage);
      expect(e.message).toContain('.git/config');
      expect(await fs.readFile(path.join(dest, '.git', 'config'), 'utf8')).toBe('[core]\n');
      expect(requests.some((r) => r.includes('/resolve/'))).toBe(false);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });
});

describe('paths that are one file on disk', () => {
  it.each([
    ['differ only in case', ['config.json', 'Weights/model.bin', 'README.md', 'weights/MODEL.bin'], 'weights/MODEL.bin'],
    ['are listed twice', ['a.txt', 'b/c.txt', 'b/c.txt'], 'b/c.txt'],
    ['differ only in the case of non-ASCII letters', ['Ä/x.txt', 'ä/x.txt'], 'ä/x.txt'],
  ])('refuses a listing whose paths %s, naming the second one, before any file is fetched', async (_what, paths, named) => {
    answer = (u) => ({ body: u.pathname.includes('/tree/') ? paths.map(file) : { sha: SHA } });
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hostile-'));
    try {
      const e = await userError(downloadModel({ modelId: REPO, hubUrl: base, dest, retry: { retries: 0 } }));
      expect(e.exitCode).toBe(ExitCode.LocalStorage);
      expect(e.message).toBe(`${REPO} lists two files that collide on disk: ${named}`);
      expect(requests.some((r) => r.includes('/resolve/'))).toBe(false);
      expect(await fs.readdir(dest)).toEqual([]);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });

  it('accepts many paths that only share prefixes and lengths', async () => {
    const paths = Array.from({ length: 3000 }, (_v, i) => `d${i % 7}/f${i}.txt`);
    answer = (u) => ({ status: u.pathname.includes('/resolve/') ? 404 : 200, body: u.pathname.includes('/tree/') ? paths.map(file) : u.pathname.includes('/resolve/') ? { error: 'Entry not found' } : { sha: SHA } });
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hostile-'));
    try {
      // Past the path checks: the first download is what fails (the stub has no files to serve).
      const e = await userError(downloadModel({ modelId: REPO, hubUrl: base, dest, retry: { retries: 0 } }));
      expect(e.message).not.toMatch(/collide/);
      expect(requests.some((r) => r.includes('/resolve/'))).toBe(true);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });
});
