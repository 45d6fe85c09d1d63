// download against the in-process Hub fixture: real HTTP, real files, faults injected by the fixture;
// and downloadModel/downloadFile as the producer of GrowingFiles (mirror's overlapped upload reads them).
import { statSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { GrowingFile } from '../../steps/common/growing-file';
import { gitBlobSha1, sha256Hex } from '../../steps/common/hash';
import { readManifest } from '../../steps/common/manifest';
import { downloadFile } from '../../steps/hub/download-file';
import { downloadModel } from '../../steps/hub/download-model';
import type { DownloadPlan } from '../../steps/hub/download-plan';
import type { RepoFile } from '../../steps/hub/list-files';
import { startHubFixture, type HubFixture } from '../hub-fixture';
import { runCli as cli } from '../support/run-cli';

const REPO = 'test/tiny-model';
const WEIGHTS = 'model.safetensors';
const fastRetry = { baseDelayMs: 20, maxDelayMs: 200 };

let hub: HubFixture;
let tmp: string;

beforeAll(async () => {
  hub = await startHubFixture();
});
afterAll(async () => {
  await hub.close();
});
beforeEach(async () => {
  hub.faults.reset();
  hub.requests.length = 0;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-dl-it-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});


function repoFiles(repo = REPO) {
  return hub.repos.get(repo)!.files;
}

test('downloads test/tiny-model: every file byte-identical, every hash verified, manifest correct', async () => {
  const dest = path.join(tmp, 'm');
  const out = path.join(tmp, 'out');
  const r = await cli(['download', '--model-id', REPO, '--dest', dest, '--hub-url', hub.url, '--output-dir', out], { HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
  expect(r.stderr).not.toMatch(/ERROR|internal error/);
  expect(r.code).toBe(0);
  const fixture = hub.repos.get(REPO)!;
  const manifest = await readManifest(dest);
  expect(manifest.repo).toBe(REPO);
  expect(manifest.commitSha).toBe(fixture.branches.main);
  expect(manifest.requestedRevision).toBe('main');
  expect(manifest.pipelineTag).toBe(fixture.pipelineTag);
  expect(manifest.libraryName).toBe(fixture.libraryName);
  expect(manifest.fileCount).toBe(fixture.files.length);
  expect(manifest.totalBytes).toBe(fixture.files.reduce((n, f) => n + f.size, 0));
  for (const f of fixture.files) {
    const local = await fs.readFile(path.join(dest, f.path));
    expect(local.equals(hub.content(REPO, f.path))).toBe(true);
    const m = [...manifest.files].find((x) => x.path === f.path)!;
    expect(m).toMatchObject({ size: f.size, sha256: f.sha256, lfs: f.lfs });
    expect(sha256Hex(local)).toBe(f.sha256);
    if (!f.lfs) expect(m.gitBlobSha1).toBe(gitBlobSha1(local));
  }
  expect(fixture.files.some((f) => f.lfs)).toBe(true);
  // No leftovers; output parameters for Argo.
  const all = await fs.readdir(dest, { recursive: true });
  expect(all.filter((p) => String(p).endsWith('.part'))).toEqual([]);
  expect(await fs.readFile(path.join(out, 'commit_sha'), 'utf8')).toBe(fixture.branches.main);
  expect(Number(await fs.readFile(path.join(out, 'file_count'), 'utf8'))).toBe(fixture.files.length);
  expect(Number(await fs.readFile(path.join(out, 'total_bytes'), 'utf8'))).toBe(manifest.totalBytes);
  // The token never goes to the CDN host; every file request used the pinned sha.
  for (const req of hub.requests) {
    if (req.url.includes('/resolve/')) expect(req.url).toContain(`/resolve/${fixture.branches.main}/`);
  }

  // Rerun: everything verified locally, no file bytes fetched again.
  const before = hub.bytesServed(REPO);
  const again = await cli(['download', '--model-id', REPO, '--dest', dest, '--hub-url', hub.url]);
  expect(again.code).toBe(0);
  expect(hub.bytesServed(REPO)).toBe(before);
});

test('a revision is pinned to its sha; patterns filter the tree', async () => {
  const fixture = hub.repos.get(REPO)!;
  const [tag, sha] = Object.entries(fixture.tags)[0] ?? ['main', fixture.branches.main];
  const m = await downloadModel({ modelId: REPO, revision: tag, dest: tmp, hubUrl: hub.url, allowPatterns: ['*.json'], ignorePatterns: ['tokenizer*'], progress: 'none' });
  expect(m.commitSha).toBe(sha);
  expect(m.files.length).toBeGreaterThan(0);
  for (const f of m.files) {
    expect(f.path.endsWith('.json')).toBe(true);
    expect(f.path.startsWith('tokenizer')).toBe(false);
  }
});

test('--commit: the files of exactly that commit, though --revision (main) is elsewhere; main is recorded as requested', async () => {
  const fixture = hub.repos.get(REPO)!;
  const older = fixture.tags['v1.0'];
  expect(older).not.toBe(fixture.branches.main); // main "moved on" after prepare checked v1.0's commit
  const out = path.join(tmp, 'out');
  const r = await cli(['download', '--model-id', REPO, '--revision', 'main', '--commit', older, '--dest', path.join(tmp, 'm'), '--hub-url', hub.url, '--output-dir', out], { HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
  expect(r.code).toBe(0);
  const m = await readManifest(path.join(tmp, 'm'));
  expect(m.commitSha).toBe(older);
  expect(m.requestedRevision).toBe('main');
  // v1.0 has no original/ folder; main's commit has.
  expect([...m.files].some((f) => f.path.startsWith('original/'))).toBe(false);
  expect(await fs.readFile(path.join(out, 'commit_sha'), 'utf8')).toBe(older);
  // The revision endpoint was asked for the commit, never for main.
  expect(hub.requests.filter((q) => q.url.includes('/revision/')).map((q) => decodeURIComponent(q.url))).toEqual([expect.stringContaining(`/revision/${older}`)]);
  const bad = await cli(['download', '--model-id', REPO, '--commit', 'abc123', '--dest', path.join(tmp, 'x'), '--hub-url', hub.url], { HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
  expect(bad.code).toBe(ExitCode.Usage);
  expect(bad.stderr).toMatch(/--commit must be a full 40-hex commit sha/);
  expect(bad.stderr).not.toMatch(/\n\s+at /);
});

test('a dropped connection resumes with Range: about one file worth of bytes served, not two', async () => {
  const size = repoFiles().find((f) => f.path === WEIGHTS)!.size;
  const dropAt = Math.floor(size / 2);
  const servedBefore = hub.bytesServed(REPO, WEIGHTS);
  hub.faults.dropAfterBytes(REPO, WEIGHTS, dropAt);
  const m = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS], retry: fastRetry, progress: 'none' });
  expect([...m.files][0].sha256).toBe(sha256Hex(hub.content(REPO, WEIGHTS)));
  const served = hub.bytesServed(REPO, WEIGHTS) - servedBefore;
  expect(served).toBeGreaterThanOrEqual(size);
  expect(served).toBeLessThan(size * 1.2);
  const ranged = hub.requests.filter((r) => r.range && r.range !== 'bytes=0-');
  expect(ranged.length).toBeGreaterThanOrEqual(1);
  expect(Number(/bytes=(\d+)-/.exec(ranged[0].range!)![1])).toBeGreaterThan(0);
});

test('a leftover .part from an earlier run is hashed and resumed', async () => {
  const content = hub.content(REPO, WEIGHTS);
  await fs.writeFile(path.join(tmp, `${WEIGHTS}.part`), content.subarray(0, 1000));
  const servedBefore = hub.bytesServed(REPO, WEIGHTS);
  const m = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS], progress: 'none' });
  expect([...m.files][0].sha256).toBe(sha256Hex(content));
  expect(hub.bytesServed(REPO, WEIGHTS) - servedBefore).toBe(content.length - 1000);
  expect(hub.requests.some((r) => r.range === 'bytes=1000-')).toBe(true);
});

test('corrupt bytes are detected, discarded and downloaded again', async () => {
  hub.faults.corrupt(REPO, WEIGHTS, 1);
  hub.faults.corrupt(REPO, 'config.json', 1);
  const m = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS, 'config.json'], retry: fastRetry, progress: 'none' });
  for (const p of [WEIGHTS, 'config.json']) {
    expect((await fs.readFile(path.join(tmp, p))).equals(hub.content(REPO, p))).toBe(true);
    expect([...m.files].find((f) => f.path === p)!.sha256).toBe(sha256Hex(hub.content(REPO, p)));
  }
});

test('bytes corrupt every time: Integrity exit code, nothing unverified kept', async () => {
  hub.faults.corrupt(REPO, WEIGHTS, 100);
  const r = await cli(['download', '--model-id', REPO, '--dest', tmp, '--hub-url', hub.url, '--allow-patterns', WEIGHTS]);
  expect(r.code).toBe(ExitCode.Integrity);
  expect(r.stderr).toMatch(/model\.safetensors .*failed verification 3 times/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(await fs.readdir(tmp)).toEqual([]);
});

test('429 with Retry-After is honoured', async () => {
  hub.faults.rateLimit(2, 1);
  const t0 = Date.now();
  const m = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: ['config.json'], progress: 'none' });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
  expect(m.files).toHaveLength(1);
  expect(hub.requests.filter((r) => r.status === 429)).toHaveLength(2);
});

test('5xx on a file is retried', async () => {
  hub.faults.serverError(REPO, 'config.json', 503, 2);
  const m = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: ['config.json'], retry: fastRetry, progress: 'none' });
  expect(m.files).toHaveLength(1);
});

test('hostile repo is refused before anything is written', async () => {
  const dest = path.join(tmp, 'inner', 'dest');
  const r = await cli(['download', '--model-id', 'test/hostile-model', '--dest', dest, '--hub-url', hub.url]);
  expect(r.code).toBe(ExitCode.LocalStorage);
  expect(r.stderr).toMatch(/Refusing repo file/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  // Nothing under tmp at all: not the destination, not ../evil.txt next to it.
  expect(await fs.readdir(tmp)).toEqual([]);
  expect(hub.requests.filter((q) => q.url.includes('/resolve/'))).toEqual([]);
});

test('a symlink inside the destination is refused', async () => {
  const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-outside-'));
  try {
    await fs.symlink(outside, path.join(tmp, 'original'));
    const r = await cli(['download', '--model-id', REPO, '--dest', tmp, '--hub-url', hub.url]);
    expect(r.code).toBe(ExitCode.LocalStorage);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(await fs.readdir(outside)).toEqual([]);
  } finally {
    await fs.rm(outside, { recursive: true, force: true });
  }
});

test('not enough disk: refused before any file byte is fetched, with a LocalStorage error', async () => {
  // The real statfs of the real destination; the margin is set beyond any disk here so the check
  // must trip (a portable stand-in for a full volume: no tmpfs mount needed).
  const before = hub.bytesServed(REPO);
  const err = await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, diskMarginBytes: 2 ** 53, progress: 'none' }).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.LocalStorage });
  expect(err.message).toMatch(/Not enough disk space in .*GiB still to download.*GiB free/);
  expect(err.hint).toMatch(/volume/);
  expect(hub.bytesServed(REPO)).toBe(before);
  expect((await fs.readdir(tmp)).filter((f) => !f.startsWith('.'))).toEqual([]);
});

describe('clear errors through the CLI', () => {
  const noToken = { HF_TOKEN: undefined, HF_TOKEN_PATH: undefined };
  const cases: Array<[string, string[], Record<string, string | undefined>, number, RegExp]> = [
    ['bad model id', ['--model-id', 'not a/valid/id'], noToken, ExitCode.Usage, /Invalid model id/],
    ['unknown repo', ['--model-id', 'test/no-such-model'], noToken, ExitCode.NotFound, /test\/no-such-model not found.*Private repos need a token/s],
    ['unknown revision', ['--model-id', REPO, '--revision', 'no-such-branch'], noToken, ExitCode.NotFound, /Revision "no-such-branch" not found/],
    ['gated without token', ['--model-id', 'test/gated-model'], noToken, ExitCode.Auth, /gated.*accept the terms.*HF_TOKEN/s],
    ['gated with a token lacking access', ['--model-id', 'test/gated-model'], { HF_TOKEN: 'hf_notgrantedtoken000' }, ExitCode.Auth, /gated.*not been granted access/s],
    ['invalid token', ['--model-id', REPO], { HF_TOKEN: 'garbage-token' }, ExitCode.Auth, /rejected the token/],
  ];
  test.each(cases)('%s', async (_name, args, env, code, re) => {
    const r = await cli(['download', '--dest', tmp, '--hub-url', hub.url, ...args], env);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('hf_notgrantedtoken000');
  });

  test('gated with an accepted token works', async () => {
    const r = await cli(['download', '--model-id', 'test/gated-model', '--dest', tmp, '--hub-url', hub.url, '--allow-patterns', 'config.json'], { HF_TOKEN: hub.token });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain(hub.token);
    // The token went to the Hub, never to the CDN host.
    expect(hub.requests.some((q) => q.authorization)).toBe(true);
  });

  test('file missing on the server though listed: EntryNotFound -> NotFound', async () => {
    hub.faults.missing(REPO, 'config.json', 1);
    const r = await cli(['download', '--model-id', REPO, '--dest', tmp, '--hub-url', hub.url, '--allow-patterns', 'config.json']);
    expect(r.code).toBe(ExitCode.NotFound);
    expect(r.stderr).toMatch(/File "config\.json" not found in test\/tiny-model/);
  });
});

test('the token is never sent to the LFS CDN host', async () => {
  await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, accessToken: hub.token, allowPatterns: [WEIGHTS], progress: 'none' });
  const lfsHost = new URL(hub.lfsUrl).host;
  const cdn = hub.requests.filter((r) => r.host === lfsHost);
  expect(cdn.length).toBeGreaterThan(0);
  expect(cdn.every((r) => !r.authorization)).toBe(true);
  expect(hub.requests.filter((r) => r.host !== lfsHost).every((r) => r.authorization)).toBe(true);
});

// --- GrowingFile producer events and the node:http transport ---

type Event = ['advanced', number] | ['reset'] | ['completed', string] | ['failed', unknown];

/** Records a GrowingFile's producer events; on every `advanced(n)` checks n bytes are really on disk. */
function record(g: GrowingFile): Event[] {
  const events: Event[] = [];
  const advanced = g.advanced.bind(g);
  const reset = g.reset.bind(g);
  const completed = g.completed.bind(g);
  const failed = g.failed.bind(g);
  g.advanced = (n) => {
    let onDisk = 0;
    for (const p of [g.partPath, g.path]) {
      try {
        onDisk = Math.max(onDisk, statSync(p).size);
      } catch {
        // not there
      }
    }
    if (onDisk < n) throw new Error(`advanced(${n}) but only ${onDisk} bytes of ${g.path} are on disk`);
    events.push(['advanced', n]);
    advanced(n);
  };
  g.reset = () => {
    events.push(['reset']);
    reset();
  };
  g.completed = (d) => {
    events.push(['completed', d.sha256]);
    completed(d);
  };
  g.failed = (e) => {
    events.push(['failed', e]);
    failed(e);
  };
  return events;
}

function fileOf(p: string): RepoFile {
  const f = hub.repos.get(REPO)!.files.find((x) => x.path === p)!;
  return { path: f.path, size: f.size, lfs: f.lfs, ...(f.lfs ? { sha256: f.sha256 } : { gitBlobSha1: f.gitBlobSha1 }) };
}

test('onPlan comes once, before any file byte; each file advances monotonically to its size, then completes', async () => {
  const plans: Array<Array<{ file: { path: string; size: number }; destPath: string; growing: GrowingFile }>> = [];
  const events = new Map<string, Event[]>();
  let resolvesAtPlan = -1;
  let planned: DownloadPlan | undefined;
  const m = await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, progress: 'none',
    onPlan: (plan) => {
      planned = plan;
      plans.push(Array.from({ length: plan.length }, (_v, i) => ({ file: { path: plan.path(i), size: plan.size(i) }, destPath: plan.destPath(i), growing: plan.growing(i) })));
      resolvesAtPlan = hub.requests.filter((r) => r.url.includes('/resolve/')).length;
      for (const p of plans[0]) events.set(p.file.path, record(p.growing));
    },
  });
  expect(plans).toHaveLength(1);
  expect(resolvesAtPlan).toBe(0);
  // The plan forgets each GrowingFile once its file is complete (the table keeps the digests).
  expect(planned!.growingHeld).toBe(0);
  expect(planned!.growing(0).isComplete).toBe(true);
  expect(plans[0].map((p) => p.file.path).sort()).toEqual([...m.files].map((f) => f.path).sort());
  for (const p of plans[0]) {
    expect(p.destPath).toBe(path.join(tmp, p.file.path));
    expect(p.growing.size).toBe(p.file.size);
    const ev = events.get(p.file.path)!;
    const offsets = ev.filter((e) => e[0] === 'advanced').map((e) => e[1] as number);
    expect(offsets.length).toBeGreaterThan(0);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(offsets[offsets.length - 1]).toBe(p.file.size);
    const sha256 = sha256Hex(hub.content(REPO, p.file.path));
    expect(ev[ev.length - 1]).toEqual(['completed', sha256]);
    expect(ev.filter((e) => e[0] !== 'advanced')).toHaveLength(1);
    await expect(p.growing.digest).resolves.toMatchObject({ size: p.file.size, sha256 });
  }

  // Rerun: files already present are verified and reported complete straight away.
  let again: GrowingFile[] = [];
  await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, progress: 'none', onPlan: (plan) => { again = Array.from({ length: plan.length }, (_v, i) => plan.growing(i)); } });
  expect(again.length).toBe(plans[0].length);
  expect(again.every((g) => g.isComplete)).toBe(true);
});

test('a leftover part reports its bytes before anything is fetched', async () => {
  const content = hub.content(REPO, WEIGHTS);
  await fs.writeFile(path.join(tmp, `${WEIGHTS}.part`), content.subarray(0, 1000));
  let events: Event[] = [];
  await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS], progress: 'none',
    onPlan: (plan) => { events = record(plan.growing(0)); },
  });
  expect(events[0]).toEqual(['advanced', 1000]);
  expect(events[events.length - 1]).toEqual(['completed', sha256Hex(content)]);
  expect(hub.requests.some((r) => r.range === 'bytes=1000-')).toBe(true);
});

test('corrupt bytes: reset() after the bytes were reported, then the good bytes, then completed()', async () => {
  hub.faults.corrupt(REPO, WEIGHTS, 1);
  let events: Event[] = [];
  await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS], retry: fastRetry, progress: 'none',
    onPlan: (plan) => { events = record(plan.growing(0)); },
  });
  const size = fileOf(WEIGHTS).size;
  const kinds = events.map((e) => e[0]);
  const resetAt = kinds.indexOf('reset');
  expect(resetAt).toBeGreaterThan(0);
  expect(events[resetAt - 1]).toEqual(['advanced', size]);
  expect(kinds.filter((k) => k === 'reset')).toHaveLength(1);
  expect(events.slice(resetAt + 1).some((e) => e[0] === 'advanced')).toBe(true);
  expect(events[events.length - 1]).toEqual(['completed', sha256Hex(hub.content(REPO, WEIGHTS))]);
});

test('a 404 on one file fails every GrowingFile not yet complete, including those never started', async () => {
  hub.faults.missing(REPO, WEIGHTS, 1);
  let plan: DownloadPlan | undefined;
  let taken: GrowingFile[] = [];
  const err = await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, concurrency: 1, smallFileWorkers: 0, progress: 'none',
    onPlan: (p) => {
      plan = p;
      taken = Array.from({ length: p.length }, (_v, i) => p.growing(i));
    },
  }).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.NotFound });
  expect(plan!.length).toBeGreaterThan(1);
  expect(plan!.hasFailed).toBe(true);
  // The weights are the biggest file, so the first (and with one worker in all the only) one
  // started. Taken before the failure or asked for after it, every GrowingFile has failed.
  const later = Array.from({ length: plan!.length }, (_v, i) => plan!.growing(i));
  for (const g of [...taken, ...later]) {
    expect(g.isComplete).toBe(false);
    await expect(g.digest).rejects.toBe(err);
    await expect(g.waitFor(1)).rejects.toBe(err);
  }
});

test('downloadFile: a dropped connection resumes; the reader is told only about bytes on disk', async () => {
  const file = fileOf(WEIGHTS);
  const dest = path.join(tmp, WEIGHTS);
  const growing = new GrowingFile(dest, file.size);
  const events = record(growing);
  hub.faults.dropAfterBytes(REPO, WEIGHTS, Math.floor(file.size / 3));
  const r = await downloadFile({ hubUrl: hub.url, repo: REPO, commitSha: hub.repos.get(REPO)!.branches.main, file, destPath: dest, retry: fastRetry, growing });
  expect(r.status).toBe('downloaded');
  expect(r.sha256).toBe(file.sha256);
  expect(events.some((e) => e[0] === 'reset')).toBe(false);
  expect(events[events.length - 1]).toEqual(['completed', file.sha256]);
  const ranged = hub.requests.filter((q) => q.range && q.status === 206);
  expect(ranged).toHaveLength(1);
  expect(Number(/bytes=(\d+)-/.exec(ranged[0].range!)![1])).toBeGreaterThan(0);
});

test('downloadFile: 429 on the file GET waits for Retry-After, then succeeds', async () => {
  const file = fileOf('config.json');
  hub.faults.rateLimit(1, 1);
  const t0 = Date.now();
  const r = await downloadFile({ hubUrl: hub.url, repo: REPO, commitSha: hub.repos.get(REPO)!.branches.main, file, destPath: path.join(tmp, 'config.json'), retry: fastRetry });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  expect(r.gitBlobSha1).toBe(file.gitBlobSha1);
  expect(hub.requests.filter((q) => q.status === 429)).toHaveLength(1);
});

test('downloadFile: the token goes to the Hub, never to the host the LFS resolve redirects to', async () => {
  const file = fileOf(WEIGHTS);
  await downloadFile({ hubUrl: hub.url, accessToken: hub.token, repo: REPO, commitSha: hub.repos.get(REPO)!.branches.main, file, destPath: path.join(tmp, WEIGHTS) });
  const lfsHost = new URL(hub.lfsUrl).host;
  expect(hub.requests.map((q) => [q.host === lfsHost, q.authorization])).toEqual([[false, true], [true, false]]);
});

test('downloadFile: an abort fails the GrowingFile with the abort reason', async () => {
  const file = fileOf(WEIGHTS);
  const growing = new GrowingFile(path.join(tmp, WEIGHTS), file.size);
  const ac = new AbortController();
  const reason = new Error('sibling failed');
  ac.abort(reason);
  await expect(downloadFile({ hubUrl: hub.url, repo: REPO, commitSha: hub.repos.get(REPO)!.branches.main, file, destPath: growing.path, signal: ac.signal, growing })).rejects.toBeDefined();
  await expect(growing.digest).rejects.toBe(reason);
});
