// The Hub fixture speaks the huggingface.co protocol: checked with plain fetch and with the official JS client.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { downloadFile, fileDownloadInfo, listFiles, modelInfo, pathsInfo } from '@huggingface/hub';
import { hashCacheDir, startHubFixture, type StartedHubFixture } from '../hub-fixture';

type Fx = StartedHubFixture;
const TINY = 'test/tiny-model';
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer) => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

let fx: Fx;
beforeAll(async () => {
  fx = await startHubFixture({ treePageSize: 4 });
});
afterAll(async () => {
  await fx?.close();
});
afterEach(() => fx.faults.reset());

const repo = (id = TINY) => fx.repos.get(id)!;
const main = () => repo().branches.main;
const auth = () => ({ Authorization: `Bearer ${fx.token}` });

/** Raw GET without URL normalisation (fetch would collapse `..`). */
function rawGet(url: string, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: pathname, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('model info', () => {
  it('serves the model info with sha, siblings, gated, pipeline_tag, library_name', async () => {
    const res = await fetch(`${fx.url}/api/models/${TINY}`);
    expect(res.status).toBe(200);
    const j = (await res.json()) as Record<string, any>;
    expect(j).toMatchObject({ id: TINY, sha: main(), private: false, gated: false, pipeline_tag: 'text-generation', library_name: 'transformers' });
    expect(typeof j._id).toBe('string');
    expect(new Date(j.lastModified).getTime()).toBeGreaterThan(0);
    expect(j.siblings.map((s: { rfilename: string }) => s.rfilename).sort()).toEqual(repo().files.map((f) => f.path).sort());
    expect(j.safetensors.total).toBeGreaterThan(300_000);
    const head = await fetch(`${fx.url}/api/models/${TINY}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
  });

  it('resolves branches, tags, shas, HEAD and encoded refs/pr/N; blobs=true adds sizes and lfs', async () => {
    const r = repo();
    const rev = async (x: string) => {
      const res = await fetch(`${fx.url}/api/models/${TINY}/revision/${x}`);
      expect(res.status).toBe(200);
      return (await res.json()) as { sha: string; siblings: Array<{ rfilename: string }> };
    };
    expect((await rev('main')).sha).toBe(r.branches.main);
    expect((await rev('HEAD')).sha).toBe(r.branches.main);
    const v1 = await rev('v1.0');
    expect(v1.sha).toBe(r.tags['v1.0']);
    expect(v1.sha).not.toBe(r.branches.main);
    expect(v1.siblings.some((s) => s.rfilename.startsWith('original/'))).toBe(false);
    expect((await rev(v1.sha)).sha).toBe(v1.sha);
    const pr = await rev(encodeURIComponent('refs/pr/1'));
    expect(pr.siblings.map((s) => s.rfilename)).toContain('extra/notes.md');

    const blobs = (await (await fetch(`${fx.url}/api/models/${TINY}/revision/main?blobs=true`)).json()) as any;
    const st = blobs.siblings.find((s: any) => s.rfilename === 'model.safetensors');
    const f = r.files.find((x) => x.path === 'model.safetensors')!;
    expect(st).toMatchObject({ size: f.size, lfs: { sha256: f.sha256, size: f.size } });
  });

  it('answers RevisionNotFound / RepoNotFound like the Hub', async () => {
    const bad = await fetch(`${fx.url}/api/models/${TINY}/revision/nope`);
    expect(bad.status).toBe(404);
    expect(bad.headers.get('x-error-code')).toBe('RevisionNotFound');
    expect(((await bad.json()) as { error: string }).error).toMatch(/Invalid rev id/);

    const anon = await fetch(`${fx.url}/api/models/test/does-not-exist`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('x-error-code')).toBe('RepoNotFound');
    const authed = await fetch(`${fx.url}/api/models/test/does-not-exist`, { headers: auth() });
    expect(authed.status).toBe(404);
    expect(authed.headers.get('x-error-code')).toBe('RepoNotFound');
    const res = await fetch(`${fx.url}/test/does-not-exist/resolve/main/config.json`);
    expect(res.headers.get('x-error-code')).toBe('RepoNotFound');

    const invalid = await fetch(`${fx.url}/api/models/${TINY}`, { headers: { Authorization: 'Bearer not-a-token' } });
    expect(invalid.status).toBe(401);
    expect(invalid.headers.get('x-error-message')).toBe('Invalid credentials in Authorization header');
  });
});

describe('tree', () => {
  it('paginates with an absolute Link header and lists files with oid/size/lfs', async () => {
    let url: string | undefined = `${fx.url}/api/models/${TINY}/tree/main?recursive=true&expand=false`;
    const entries: any[] = [];
    let pages = 0;
    while (url) {
      const res: Response = await fetch(url);
      expect(res.status).toBe(200);
      entries.push(...((await res.json()) as any[]));
      pages++;
      const link = res.headers.get('link');
      const m = link ? /^<([^>]+)>; rel="next"$/.exec(link) : null;
      if (link) {
        expect(m).not.toBeNull();
        expect(m![1].startsWith(`${fx.url}/api/models/${TINY}/tree/main?`)).toBe(true);
        expect(m![1]).toContain('cursor=');
      }
      url = m?.[1];
    }
    expect(pages).toBeGreaterThan(2);
    const files = entries.filter((e) => e.type === 'file');
    const dirs = entries.filter((e) => e.type === 'directory').map((e) => e.path);
    expect(dirs.sort()).toEqual(['original', 'original/notes']);
    expect(files.length).toBe(repo().files.length);
    for (const f of repo().files) {
      const e = files.find((x) => x.path === f.path);
      expect(e).toBeDefined();
      expect(e.size).toBe(f.size);
      if (f.lfs) {
        expect(e.lfs).toEqual({ oid: f.sha256, size: f.size, pointerSize: expect.any(Number) });
        expect(e.oid).not.toBe(f.gitBlobSha1); // oid of the pointer, like git
      } else {
        expect(e.oid).toBe(gitSha1(fx.content(TINY, f.path)));
        expect(e.lfs).toBeUndefined();
      }
    }
    expect(sha256(fx.content(TINY, 'model.safetensors'))).toBe(repo().files.find((f) => f.path === 'model.safetensors')!.sha256);
  });

  it('lists a subfolder non-recursively, with expand, and paths-info', async () => {
    const res = await fetch(`${fx.url}/api/models/${TINY}/tree/main/original?expand=true`);
    const list = (await res.json()) as any[];
    expect(list.map((e) => [e.type, e.path])).toEqual([['directory', 'original/notes'], ['file', 'original/params.json']]);
    expect(list[1].lastCommit.id).toBe(main());
    const missing = await fetch(`${fx.url}/api/models/${TINY}/tree/main/nope`);
    expect(missing.status).toBe(404);

    const pi = await fetch(`${fx.url}/api/models/${TINY}/paths-info/main`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'paths=config.json&paths=original&paths=missing.txt',
    });
    expect(((await pi.json()) as any[]).map((e) => e.path)).toEqual(['config.json', 'original']);
  });
});

describe('resolve', () => {
  it('serves non-LFS files via the same-host resolve-cache redirect with ETag = git blob sha1 and X-Repo-Commit', async () => {
    const f = repo().files.find((x) => x.path === 'config.json')!;
    const manual = await fetch(`${fx.url}/${TINY}/resolve/main/config.json`, { redirect: 'manual' });
    expect(manual.status).toBe(307);
    expect(manual.headers.get('location')).toMatch(new RegExp(`^/api/resolve-cache/models/${TINY}/${main()}/config.json`));
    const res = await fetch(`${fx.url}/${TINY}/resolve/main/config.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${f.gitBlobSha1}"`);
    expect(res.headers.get('x-repo-commit')).toBe(main());
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(res.headers.get('content-length'))).toBe(f.size);
    const body = Buffer.from(await res.arrayBuffer());
    expect(gitSha1(body)).toBe(f.gitBlobSha1);
    const config = JSON.parse(body.toString());
    expect(config).toMatchObject({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });

    const head = await fetch(`${fx.url}/${TINY}/resolve/main/config.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(f.size));
  });

  it('serves directly without the redirect when resolveCacheRedirect=false, and at older revisions', async () => {
    const fx2 = await startHubFixture({ resolveCacheRedirect: false });
    try {
      const res = await fetch(`${fx2.url}/${TINY}/resolve/v1.0/README.md`, { redirect: 'manual' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-repo-commit')).toBe(fx2.repos.get(TINY)!.tags['v1.0']);
      expect(await res.text()).not.toContain('Changelog');
      expect(await (await fetch(`${fx2.url}/${TINY}/resolve/main/README.md`)).text()).toContain('Changelog');
    } finally {
      await fx2.close();
    }
  });

  it('supports Range (206 + Content-Range) and 416', async () => {
    const data = fx.content(TINY, 'tokenizer.json');
    const r = await fetch(`${fx.url}/${TINY}/resolve/main/tokenizer.json`, { headers: { Range: 'bytes=10-19' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 10-19/${data.length}`);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(data.subarray(10, 20));
    const tail = await fetch(`${fx.url}/${TINY}/resolve/main/tokenizer.json`, { headers: { Range: 'bytes=-5' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(data.subarray(data.length - 5));
    const bad = await fetch(`${fx.url}/${TINY}/resolve/main/tokenizer.json`, { headers: { Range: `bytes=${data.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${data.length}`);
  });

  it('redirects LFS files to the other host with X-Linked-Etag/X-Linked-Size; the CDN needs no auth', async () => {
    const f = repo().files.find((x) => x.path === 'model.safetensors')!;
    expect(f.lfs).toBe(true);
    expect(f.size).toBeGreaterThan(1024 * 1024);
    const res = await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`, { redirect: 'manual', headers: auth() });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-linked-etag')).toBe(`"${f.sha256}"`);
    expect(res.headers.get('x-linked-size')).toBe(String(f.size));
    expect(res.headers.get('x-repo-commit')).toBe(main());
    expect(res.headers.get('etag')).toBeTruthy();
    const loc = new URL(res.headers.get('location')!);
    expect(loc.origin).toBe(fx.lfsUrl);
    expect(loc.origin).not.toBe(fx.url);
    expect(loc.searchParams.get('Signature')).toBeTruthy();

    const before = fx.requests.length;
    const full = await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`, { headers: auth() });
    expect(full.status).toBe(200);
    const body = Buffer.from(await full.arrayBuffer());
    expect(sha256(body)).toBe(f.sha256);
    const recs = fx.requests.slice(before);
    const cdn = recs.find((r) => r.host.startsWith('localhost'))!;
    expect(cdn).toMatchObject({ status: 200, bytesSent: f.size, authorization: false }); // fetch drops auth cross-origin
    expect(recs.find((r) => r.host.startsWith('127.0.0.1'))!.authorization).toBe(true);

    const ranged = await fetch(loc, { headers: { Range: 'bytes=8-15' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(body.subarray(8, 16));
    const unsigned = await fetch(`${loc.origin}${loc.pathname}`);
    expect(unsigned.status).toBe(403);
  });

  it('serves a valid safetensors file consistent with config.json', () => {
    const buf = fx.content(TINY, 'model.safetensors');
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, any>;
    const config = JSON.parse(fx.content(TINY, 'config.json').toString());
    expect(header['wte.weight']).toEqual({ dtype: 'F32', shape: [config.vocab_size, config.n_embd], data_offsets: [0, config.vocab_size * config.n_embd * 4] });
    expect(header['wpe.weight'].shape).toEqual([config.n_positions, config.n_embd]);
    const tensors = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => v);
    expect(tensors.filter((t) => t.shape.length === 2).length).toBeGreaterThan(4);
    let end = 0;
    for (const t of tensors) {
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(4 * t.shape.reduce((a: number, b: number) => a * b, 1));
      end = Math.max(end, t.data_offsets[1]);
    }
    expect(8 + n + end).toBe(buf.length);
    for (let l = 0; l < config.n_layer; l++) expect(header[`h.${l}.attn.c_attn.weight`].shape).toEqual([config.n_embd, 3 * config.n_embd]);
    // tokenizer.json is consistent with vocab.json/merges.txt and vocab_size.
    const tok = JSON.parse(fx.content(TINY, 'tokenizer.json').toString());
    expect(Object.keys(tok.model.vocab).length).toBe(config.vocab_size);
    for (const m of tok.model.merges as string[]) {
      const [a, b] = m.split(' ');
      expect(tok.model.vocab[a] !== undefined && tok.model.vocab[b] !== undefined && tok.model.vocab[a + b] !== undefined).toBe(true);
    }
    expect(JSON.parse(fx.content(TINY, 'vocab.json').toString())).toEqual(tok.model.vocab);
    expect(fx.content(TINY, 'README.md').toString()).toMatch(/^---\n[\s\S]*pipeline_tag: text-generation[\s\S]*library_name: transformers[\s\S]*\n---\n/);
  });

  it('answers EntryNotFound with X-Repo-Commit and RevisionNotFound', async () => {
    const res = await fetch(`${fx.url}/${TINY}/resolve/main/nope.bin`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-error-code')).toBe('EntryNotFound');
    expect(res.headers.get('x-repo-commit')).toBe(main());
    expect(((await res.json()) as { error: string }).error).toBe('Entry not found');
    const rev = await fetch(`${fx.url}/${TINY}/resolve/nobranch/config.json`);
    expect(rev.status).toBe(404);
    expect(rev.headers.get('x-error-code')).toBe('RevisionNotFound');
  });
});

describe('gated repo', () => {
  const G = 'test/gated-model';
  it('401 without token, 403 with a non-accepted token, 200 with the accepted one', async () => {
    const info = (await (await fetch(`${fx.url}/api/models/${G}`)).json()) as { gated: unknown };
    expect(info.gated).toBe('manual');
    const anon = await fetch(`${fx.url}/${G}/resolve/main/config.json`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('x-error-code')).toBe('GatedRepo');
    expect(anon.headers.get('x-error-message')).toMatch(/restricted/);
    const other = await fetch(`${fx.url}/${G}/resolve/main/config.json`, { headers: { Authorization: 'Bearer hf_someoneelse000000000000' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('x-error-code')).toBe('GatedRepo');
    const ok = await fetch(`${fx.url}/${G}/resolve/main/config.json`, { headers: auth() });
    expect(ok.status).toBe(200);
  });
});

describe('hostile repo', () => {
  const H = 'test/hostile-model';
  it('lists path-traversal names as files and serves them', async () => {
    const list: Array<{ type: string; path: string }> = [];
    for (let url: string | undefined = `${fx.url}/api/models/${H}/tree/main?recursive=1`; url; ) {
      const res: Response = await fetch(url);
      list.push(...((await res.json()) as Array<{ type: string; path: string }>));
      url = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    const files = list.filter((e) => e.type === 'file').map((e) => e.path);
    expect(files).toEqual(expect.arrayContaining(['../evil.txt', '/abs.txt', 'sub/../../x']));
    const raw = await rawGet(fx.url, `/${H}/resolve/main/../evil.txt`);
    expect(raw.status).toBe(307);
    const loc = raw.headers.location!;
    const body = await rawGet(fx.url, loc);
    expect(body.body.toString()).toContain('escaped');
    const enc = await fetch(`${fx.url}/${H}/resolve/main/${encodeURIComponent('sub/../../x')}`);
    expect(enc.status).toBe(200);
    expect(await enc.text()).toContain('escaped');
    const abs = await fetch(`${fx.url}/${H}/resolve/main//abs.txt`);
    expect(await abs.text()).toBe('absolute path\n');
  });
});

describe('faults', () => {
  it('rate limits with Retry-After and RateLimit headers, counted down', async () => {
    fx.faults.rateLimit(2, 7);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${fx.url}/api/models/${TINY}`);
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('7');
      expect(r.headers.get('ratelimit')).toBe('"api";r=0;t=7');
      expect(r.headers.get('ratelimit-policy')).toMatch(/q=\d+;w=\d+/);
    }
    expect((await fetch(`${fx.url}/api/models/${TINY}`)).status).toBe(200);
  });

  it('serverError and missing apply to resolve of one path, then disarm', async () => {
    fx.faults.serverError(TINY, 'config.json', 503, 2);
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/config.json`)).status).toBe(503);
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/vocab.json`)).status).toBe(200);
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/config.json`)).status).toBe(503);
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/config.json`)).status).toBe(200);
    fx.faults.missing(TINY, 'model.safetensors');
    const m = await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`);
    expect(m.status).toBe(404);
    expect(m.headers.get('x-error-code')).toBe('EntryNotFound');
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`, { redirect: 'manual' })).status).toBe(302);
  });

  it('corrupts bytes (same length) once', async () => {
    const good = fx.content(TINY, 'model.safetensors');
    fx.faults.corrupt(TINY, 'model.safetensors');
    const bad = Buffer.from(await (await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`)).arrayBuffer());
    expect(bad.length).toBe(good.length);
    expect(sha256(bad)).not.toBe(sha256(good));
    const again = Buffer.from(await (await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`)).arrayBuffer());
    expect(again.equals(good)).toBe(true);
  });

  it('holds answers with one file\'s bytes until released (other files pass)', async () => {
    const release = fx.faults.hold(TINY, 'model.safetensors');
    let answered = false;
    const held = fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`).then(async (r) => {
      answered = true;
      return Buffer.from(await r.arrayBuffer());
    });
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/config.json`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(answered).toBe(false);
    release();
    expect((await held).equals(fx.content(TINY, 'model.safetensors'))).toBe(true);
    // Released for good: the next request is not held.
    expect((await fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`)).status).toBe(200);
  });

  it('reset releases every hold', async () => {
    fx.faults.hold(TINY, 'model.safetensors');
    const held = fetch(`${fx.url}/${TINY}/resolve/main/model.safetensors`);
    await new Promise((r) => setTimeout(r, 100));
    fx.faults.reset();
    expect((await held).status).toBe(200);
  });

  it('drops the connection after N body bytes and counts bytes served', async () => {
    const P = 'model.safetensors';
    const before = fx.bytesServed(TINY, P);
    fx.faults.dropAfterBytes(TINY, P, 100_000);
    await expect(fetch(`${fx.url}/${TINY}/resolve/main/${P}`).then((r) => r.arrayBuffer())).rejects.toThrow();
    expect(fx.bytesServed(TINY, P) - before).toBe(100_000);
    const last = [...fx.requests].reverse().find((r) => r.host.startsWith('localhost'))!;
    expect(last.bytesSent).toBe(100_000);
    // Resume with Range, as clients do.
    const rest = await fetch(`${fx.url}/${TINY}/resolve/main/${P}`, { headers: { Range: 'bytes=100000-' } });
    expect(rest.status).toBe(206);
    const tail = Buffer.from(await rest.arrayBuffer());
    expect(tail.equals(fx.content(TINY, P).subarray(100_000))).toBe(true);
    expect(fx.bytesServed(TINY, P) - before).toBe(fx.content(TINY, P).length);
    expect(fx.bytesServed(TINY)).toBeGreaterThanOrEqual(fx.bytesServed(TINY, P));
  });
});

describe('official JS client (@huggingface/hub)', () => {
  it('listFiles follows pagination and returns the right hashes', async () => {
    const got = [];
    for await (const e of listFiles({ repo: TINY, revision: 'main', recursive: true, hubUrl: fx.url })) got.push(e);
    const files = got.filter((e) => e.type === 'file');
    expect(files.map((e) => e.path).sort()).toEqual(repo().files.map((f) => f.path).sort());
    for (const f of repo().files) {
      const e = files.find((x) => x.path === f.path)!;
      if (f.lfs) expect(e.lfs?.oid).toBe(f.sha256);
      else expect(e.oid).toBe(f.gitBlobSha1);
    }
    const sub = [];
    for await (const e of listFiles({ repo: TINY, revision: 'main', path: 'original', hubUrl: fx.url })) sub.push(e.path);
    expect(sub).toEqual(['original/notes', 'original/params.json']);
  });

  it('fileDownloadInfo and downloadFile return the right etag/size/bytes (LFS and not)', async () => {
    const st = repo().files.find((x) => x.path === 'model.safetensors')!;
    const info = await fileDownloadInfo({ repo: TINY, path: 'model.safetensors', hubUrl: fx.url });
    expect(info).toMatchObject({ size: st.size, etag: `"${st.sha256}"` });
    const cfg = repo().files.find((x) => x.path === 'config.json')!;
    const info2 = await fileDownloadInfo({ repo: TINY, path: 'config.json', hubUrl: fx.url });
    expect(info2).toMatchObject({ size: cfg.size, etag: `"${cfg.gitBlobSha1}"` });
    expect(await fileDownloadInfo({ repo: TINY, path: 'absent.txt', hubUrl: fx.url })).toBeNull();

    const blob = await downloadFile({ repo: TINY, path: 'model.safetensors', hubUrl: fx.url, xet: false });
    expect(sha256(Buffer.from(await blob!.arrayBuffer()))).toBe(st.sha256);
    const part = await blob!.slice(8, 24).arrayBuffer();
    expect(Buffer.from(part)).toEqual(fx.content(TINY, 'model.safetensors').subarray(8, 24));
    const small = await downloadFile({ repo: TINY, path: 'original/params.json', revision: 'main', hubUrl: fx.url });
    expect(JSON.parse(await small!.text())).toMatchObject({ n_layers: 2 });

    await expect(downloadFile({ repo: 'test/gated-model', path: 'config.json', hubUrl: fx.url })).rejects.toMatchObject({ statusCode: 401 });
    const gated = await downloadFile({ repo: 'test/gated-model', path: 'config.json', hubUrl: fx.url, accessToken: fx.token });
    expect(JSON.parse(await gated!.text()).model_type).toBe('gpt2');
  });

  it('modelInfo and pathsInfo', async () => {
    const mi = await modelInfo({ name: TINY, hubUrl: fx.url, additionalFields: ['sha', 'library_name'] });
    expect(mi).toMatchObject({ name: TINY, private: false, gated: false, task: 'text-generation', sha: main(), library_name: 'transformers' });
    expect(mi.updatedAt.getTime()).toBeGreaterThan(0);
    const g = await modelInfo({ name: 'test/gated-model', hubUrl: fx.url });
    expect(g.gated).toBe('manual');
    const v1 = await modelInfo({ name: TINY, hubUrl: fx.url, revision: 'v1.0', additionalFields: ['sha'] });
    expect(v1.sha).toBe(repo().tags['v1.0']);
    const pi = await pathsInfo({ repo: TINY, paths: ['model.safetensors', 'config.json'], hubUrl: fx.url });
    expect(pi.find((p) => p.path === 'model.safetensors')!.lfs!.oid).toBe(repo().files.find((f) => f.path === 'model.safetensors')!.sha256);
  });
});

describe('large generated files', () => {
  it('streams deterministic bytes matching the advertised sha256, with Range, and caches the hash on disk', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const lx = await startHubFixture({ largeFiles: { 'model-00001-of-00001.safetensors': size, 'blob.bin': 100_003 } });
    try {
      const f = lx.repos.get('bench/large')!.files.find((x) => x.path === 'model-00001-of-00001.safetensors')!;
      expect(f).toMatchObject({ size, lfs: true });
      const res = await fetch(`${lx.url}/bench/large/resolve/main/${f.path}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(size);
      expect(sha256(body)).toBe(f.sha256);
      expect(gitSha1(body)).toBe(f.gitBlobSha1);
      const n = Number(body.readBigUInt64LE(0));
      const header = JSON.parse(body.subarray(8, 8 + n).toString());
      expect(header.data.data_offsets[1] + 8 + n).toBe(size);
      for (const [a, b] of [[0, 7], [1_000_001, 1_000_100], [size - 33, size - 1], [150, 2_200_000]]) {
        const r = await fetch(`${lx.url}/bench/large/resolve/main/${f.path}`, { headers: { Range: `bytes=${a}-${b}` } });
        expect(r.status).toBe(206);
        expect(Buffer.from(await r.arrayBuffer()).equals(body.subarray(a, b + 1))).toBe(true);
      }
      expect(() => lx.content('bench/large', f.path)).toThrow(/generated/);
      expect(fs.readdirSync(hashCacheDir()).some((x) => x.includes(`${size}`))).toBe(true);
      expect(fs.existsSync(path.join(hashCacheDir()))).toBe(true);
    } finally {
      await lx.close();
    }
    const again = await startHubFixture({ largeFiles: { 'model-00001-of-00001.safetensors': size } });
    try {
      expect(again.largeStats[0]).toMatchObject({ cached: true });
    } finally {
      await again.close();
    }
  });
});
