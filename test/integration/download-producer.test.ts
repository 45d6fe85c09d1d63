// downloadModel/downloadFile as the producer of GrowingFiles (mirror's overlapped upload reads
// them), and the node:http transport, against the in-process Hub fixture.
import { statSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { GrowingFile } from '../../steps/common/growing-file';
import { sha256Hex } from '../../steps/common/hash';
import { downloadFile } from '../../steps/hub/download-file';
import { downloadModel } from '../../steps/hub/download-model';
import type { RepoFile } from '../../steps/hub/list-files';
import { startHubFixture, type HubFixture } from '../hub-fixture';

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
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-dl-producer-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

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
  const plans: Array<ReadonlyArray<{ file: RepoFile; destPath: string; growing: GrowingFile }>> = [];
  const events = new Map<string, Event[]>();
  let resolvesAtPlan = -1;
  const m = await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, progress: 'none',
    onPlan: (plan) => {
      plans.push(plan);
      resolvesAtPlan = hub.requests.filter((r) => r.url.includes('/resolve/')).length;
      for (const p of plan) events.set(p.file.path, record(p.growing));
    },
  });
  expect(plans).toHaveLength(1);
  expect(resolvesAtPlan).toBe(0);
  expect(plans[0].map((p) => p.file.path).sort()).toEqual(m.files.map((f) => f.path).sort());
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
  let again: Array<{ growing: GrowingFile }> = [];
  await downloadModel({ modelId: REPO, dest: tmp, hubUrl: hub.url, progress: 'none', onPlan: (plan) => { again = [...plan]; } });
  expect(again.length).toBe(plans[0].length);
  expect(again.every((p) => p.growing.isComplete)).toBe(true);
});

test('a leftover part reports its bytes before anything is fetched', async () => {
  const content = hub.content(REPO, WEIGHTS);
  await fs.writeFile(path.join(tmp, `${WEIGHTS}.part`), content.subarray(0, 1000));
  let events: Event[] = [];
  await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, allowPatterns: [WEIGHTS], progress: 'none',
    onPlan: (plan) => { events = record(plan[0].growing); },
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
    onPlan: (plan) => { events = record(plan[0].growing); },
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
  let plan: ReadonlyArray<{ file: RepoFile; growing: GrowingFile }> = [];
  const err = await downloadModel({
    modelId: REPO, dest: tmp, hubUrl: hub.url, concurrency: 1, progress: 'none',
    onPlan: (p) => { plan = p; },
  }).catch((e) => e);
  expect(err).toMatchObject({ exitCode: ExitCode.NotFound });
  expect(plan.length).toBeGreaterThan(1);
  // The weights are the biggest file, so the first (and with concurrency 1 the only) one started.
  for (const p of plan) {
    expect(p.growing.isComplete).toBe(false);
    await expect(p.growing.digest).rejects.toBe(err);
    await expect(p.growing.waitFor(1)).rejects.toBe(err);
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
