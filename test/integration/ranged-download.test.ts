// Big files as several Range requests at once, against the real Hub fixture over HTTP: the
// request log shows the overlap, the stream caps and the Range headers; a SIGKILLed CLI resumes
// per chunk; a CDN that answers Range with 200, corrupt and dropped chunks; the >50 GB rule; and
// an overlapped mirror of a multi-chunk file to the real SeaweedFS + MLflow.
import { promises as fs, openSync, readSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode, UserError } from '../../steps/common/errors';
import { hashFile } from '../../steps/common/hash';
import { readManifest } from '../../steps/common/manifest';
import { planChunks } from '../../steps/hub/chunk-plan';
import { filledFromRanges, readChunkRecord } from '../../steps/hub/chunk-state';
import { downloadModel } from '../../steps/hub/download-model';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion } from '../../steps/mlflow/registry';
import { startHubFixture, type RequestRecord, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { buildBundle, startCli } from '../support/cli-child';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

const MiB = 1024 * 1024;
const REPO = 'bench/large';
const BIG = 'model-00001-of-00002.safetensors';
const BIG2 = 'model-00002-of-00002.safetensors';
const LARGE = { [BIG]: 48 * MiB + 12_345, [BIG2]: 24 * MiB + 7 };
const KILL_FILE = 'kill.safetensors';
const KILL_SIZE = 320 * MiB + 99;
const fastRetry = { baseDelayMs: 20, maxDelayMs: 200 };

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
const savedEnv = { ...process.env };
const suffix = Date.now().toString(36);

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-ranged-'));
  hub = await startHubFixture({ largeFiles: { ...LARGE, [KILL_FILE]: KILL_SIZE } });
}, 180_000);

afterAll(async () => {
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  hub.faults.reset();
  hub.requests.length = 0;
});

function fixtureFile(name: string, fx: StartedHubFixture = hub) {
  return fx.repos.get(REPO)!.files.find((f) => f.path === name)!;
}

/** The fixture's answers carrying bytes of `name` (its LFS "CDN" URLs name the sha256). */
function bodyRequests(name: string, fx: StartedHubFixture = hub): RequestRecord[] {
  const sha = fixtureFile(name, fx).sha256;
  return fx.requests.filter((r) => r.url.startsWith('/repos/') && r.url.includes(sha));
}

/** Most requests open at the same time (from arrival and close times). */
function maxOverlap(reqs: readonly RequestRecord[]): number {
  const events = reqs.flatMap((r) => [[r.startedAt, 1], [r.endedAt ?? Infinity, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (open += d));
  return max;
}

function only(names: string[]) {
  return { allowPatterns: names };
}

test('a multi-chunk file comes as concurrent Range requests, verified; the GrowingFile hears of a contiguous, correct prefix and of correct ranges ahead of it', async () => {
  const dest = path.join(work, 'multi');
  const announced: string[] = [];
  // Ranges ahead of the prefix: the bytes each report adds, as they were on disk then.
  const ahead: Array<{ at: number; bytes: Buffer }> = [];
  const reachedIn = new Map<number, number>();
  let hashedAnnounced = createHash('sha256');
  let prefix = 0;
  let fd = -1;
  const manifest = await downloadModel({
    modelId: REPO, dest, hubUrl: hub.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', retry: fastRetry,
    onPlan: (plan) => {
      const g = plan.growing(Array.from({ length: plan.length }, (_v, i) => plan.path(i)).indexOf(BIG));
      const advanced = g.advanced.bind(g);
      // Whatever the GrowingFile is told is on disk must be there, in order, with the right bytes.
      g.advanced = (n: number) => {
        if (n > prefix && !g.isComplete) {
          if (fd < 0) fd = openSync(g.partPath, 'r');
          const buf = Buffer.alloc(n - prefix);
          expect(readSync(fd, buf, 0, buf.length, prefix)).toBe(buf.length);
          hashedAnnounced.update(buf);
          announced.push(`${prefix}-${n}`);
          prefix = n;
        }
        advanced(n);
      };
      const filledRange = g.filledRange.bind(g);
      g.filledRange = (start: number, end: number) => {
        const from = Math.max(reachedIn.get(start) ?? start, prefix);
        if (end > from && !g.isComplete) {
          if (fd < 0) fd = openSync(g.partPath, 'r');
          const buf = Buffer.alloc(end - from);
          expect(readSync(fd, buf, 0, buf.length, from)).toBe(buf.length);
          ahead.push({ at: from, bytes: buf });
        }
        reachedIn.set(start, Math.max(reachedIn.get(start) ?? start, end));
        filledRange(start, end);
      };
      g.reset = () => {
        throw new Error('no reset expected');
      };
    },
  });
  if (fd >= 0) closeSync(fd);
  // Reported bytes never changed afterwards, and some were reported ahead of the prefix.
  const final = await fs.readFile(path.join(dest, BIG));
  expect(ahead.filter((r) => r.at > 0).length).toBeGreaterThan(0);
  for (const r of ahead) expect(final.subarray(r.at, r.at + r.bytes.length).equals(r.bytes)).toBe(true);
  const f = fixtureFile(BIG);
  expect([...manifest.files].find((x) => x.path === BIG)!.sha256).toBe(f.sha256);
  expect((await hashFile(path.join(dest, BIG))).sha256).toBe(f.sha256);
  expect(prefix).toBe(f.size);
  expect(hashedAnnounced.digest('hex')).toBe(f.sha256);
  hashedAnnounced = createHash('sha256');
  const reqs = bodyRequests(BIG);
  expect(reqs.every((r) => r.range !== undefined && r.status === 206)).toBe(true);
  expect(reqs).toHaveLength(planChunks(f.size, 4 * MiB).length);
  expect(maxOverlap(reqs)).toBeGreaterThan(1);
  expect(maxOverlap(reqs)).toBeLessThanOrEqual(4);
  expect(hub.bytesServed(REPO, BIG)).toBe(f.size); // the first test to fetch it
  expect(await fs.readdir(dest)).not.toContain(`${BIG}.part.chunks`);
});

test('the cap on Hub streams is shared by the files in flight', async () => {
  const dest = path.join(work, 'cap');
  await downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([BIG, BIG2]), chunkSize: 4 * MiB, streamsPerFile: 8, concurrency: 2, maxHubStreams: 3, progress: 'log' });
  const both = [...bodyRequests(BIG), ...bodyRequests(BIG2)];
  // (That streams overlap at all is the first test's; the in-process fixture can finish a small
  // body within one tick on a loaded box, so here only the upper bound is asserted.)
  expect(both.length).toBeGreaterThan(2);
  expect(maxOverlap(both)).toBeLessThanOrEqual(3);
  for (const name of [BIG, BIG2]) expect((await hashFile(path.join(dest, name))).sha256).toBe(fixtureFile(name).sha256);
});

test('SIGKILL of the CLI mid-download, then a rerun: only the chunks not on disk are fetched, the file verifies', async () => {
  const bundle = buildBundle(work);
  const dest = path.join(work, 'killed');
  const args = ['download', '--model-id', REPO, '--dest', dest, '--hub-url', hub.url, '--allow-patterns', KILL_FILE, '--chunk-size', '8MiB', '--streams-per-file', '4'];
  const run = startCli(bundle, args, {});
  // Kill it once about a third of the file has been served.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (hub.bytesServed(REPO, KILL_FILE) > KILL_SIZE / 3) {
        clearInterval(t);
        run.child.kill('SIGKILL');
        resolve();
      }
    }, 1);
    void run.done.then((r) => {
      clearInterval(t);
      if (r.signal !== 'SIGKILL') reject(new Error(`the CLI ended before the kill: ${r.code} ${r.stderr}`));
    });
  });
  const killed = await run.done;
  expect(killed.signal).toBe('SIGKILL');
  const part = path.join(dest, `${KILL_FILE}.part`);
  const partSize = (await fs.stat(part)).size;
  const record = await readChunkRecord(part, KILL_SIZE, partSize);
  expect(record.kind).toBe('ranges');
  const kept = filledFromRanges(planChunks(KILL_SIZE, 8 * MiB), record.kind === 'ranges' ? record.ranges : []).reduce((n, x) => n + x, 0);
  expect(kept).toBeGreaterThan(0);
  expect(kept).toBeLessThan(KILL_SIZE);

  const servedBefore = hub.bytesServed(REPO, KILL_FILE);
  const again = await startCli(bundle, args, {}).done;
  expect(again.stderr).not.toMatch(/ERROR/);
  expect(again.code).toBe(0);
  expect(hub.bytesServed(REPO, KILL_FILE) - servedBefore).toBe(KILL_SIZE - kept);
  const manifest = await readManifest(dest);
  expect([...manifest.files].find((f) => f.path === KILL_FILE)!.sha256).toBe(fixtureFile(KILL_FILE).sha256);
  expect((await hashFile(path.join(dest, KILL_FILE))).sha256).toBe(fixtureFile(KILL_FILE).sha256);
  const left = await fs.readdir(dest);
  expect(left.filter((n) => n.endsWith('.part') || n.endsWith('.chunks') || n.endsWith('.tmp'))).toEqual([]);
}, 240_000);

test('an abort (deadline) stops every stream of the file; the chunks on disk are kept for the rerun', async () => {
  const dest = path.join(work, 'abort');
  const f = fixtureFile(KILL_FILE);
  const before = hub.bytesServed(REPO, KILL_FILE);
  const stop = new AbortController();
  const t = setInterval(() => {
    if (hub.bytesServed(REPO, KILL_FILE) - before > f.size / 4) stop.abort(new Error('deadline'));
  }, 1);
  await expect(downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([KILL_FILE]), chunkSize: 8 * MiB, streamsPerFile: 4, progress: 'log', signal: stop.signal })).rejects.toBeDefined();
  clearInterval(t);
  expect(stop.signal.aborted).toBe(true);
  const requestsAtStop = hub.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  expect(hub.requests.length).toBe(requestsAtStop);
  expect(hub.requests.filter((r) => r.endedAt === undefined)).toEqual([]);
  const part = path.join(dest, `${KILL_FILE}.part`);
  const record = await readChunkRecord(part, f.size, (await fs.stat(part)).size);
  const kept = filledFromRanges(planChunks(f.size, 8 * MiB), record.kind === 'ranges' ? record.ranges : []).reduce((n, x) => n + x, 0);
  expect(kept).toBeGreaterThan(0);
  const servedAtStop = hub.bytesServed(REPO, KILL_FILE);
  const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([KILL_FILE]), chunkSize: 8 * MiB, streamsPerFile: 4, progress: 'log' });
  expect([...manifest.files][0].sha256).toBe(f.sha256);
  expect(hub.bytesServed(REPO, KILL_FILE) - servedAtStop).toBe(f.size - kept);
}, 120_000);

test('a chunk dropped mid-body resumes inside itself: no byte is fetched twice', async () => {
  const dest = path.join(work, 'drop');
  const before = hub.bytesServed(REPO, BIG);
  hub.faults.dropAfterBytes(REPO, BIG, 1 * MiB + 17, 3);
  const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', retry: fastRetry });
  expect([...manifest.files][0].sha256).toBe(fixtureFile(BIG).sha256);
  expect(hub.bytesServed(REPO, BIG) - before).toBe(fixtureFile(BIG).size);
  // The resumed chunks asked for the rest of the chunk only.
  expect(bodyRequests(BIG).some((r) => /^bytes=\d+-\d+$/.test(r.range ?? '') && Number(/=(\d+)/.exec(r.range!)![1]) % (4 * MiB) !== 0)).toBe(true);
});

test('corrupt bytes in one chunk: the hash catches it, the file is fetched again; corrupt every time: exit 6, nothing kept', async () => {
  const dest = path.join(work, 'corrupt');
  const f = fixtureFile(BIG);
  const before = hub.bytesServed(REPO, BIG);
  hub.faults.corrupt(REPO, BIG, 1);
  const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', retry: fastRetry });
  expect([...manifest.files][0].sha256).toBe(f.sha256);
  expect(hub.bytesServed(REPO, BIG) - before).toBe(2 * f.size);

  const dest2 = path.join(work, 'corrupt2');
  hub.faults.corrupt(REPO, BIG, 1000);
  let err: unknown;
  try {
    await downloadModel({ modelId: REPO, dest: dest2, hubUrl: hub.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', retry: fastRetry, integrityAttempts: 2 });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).exitCode).toBe(ExitCode.Integrity);
  expect((await fs.readdir(dest2)).filter((n) => n.startsWith(BIG))).toEqual([]);
});

describe('a CDN that answers Range with 200 and the whole body', () => {
  let whole: StartedHubFixture;
  beforeAll(async () => {
    whole = await startHubFixture({ largeFiles: LARGE, rangeAnswersWhole: true });
  }, 120_000);
  afterAll(async () => {
    await whole?.close();
  });

  test('the file still verifies, over one stream', async () => {
    const dest = path.join(work, 'whole');
    const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: whole.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', retry: fastRetry });
    const f = fixtureFile(BIG, whole);
    expect([...manifest.files][0].sha256).toBe(f.sha256);
    const reqs = bodyRequests(BIG, whole);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]).toMatchObject({ status: 200, bytesSent: f.size });
    expect(await fs.readdir(dest)).not.toContain(`${BIG}.part.chunks`);
  });

  test('above the whole-GET limit every request still carries Range', async () => {
    const dest = path.join(work, 'whole-limit');
    const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: whole.url, ...only([BIG]), chunkSize: 4 * MiB, streamsPerFile: 4, progress: 'log', wholeGetLimit: MiB });
    expect([...manifest.files][0].sha256).toBe(fixtureFile(BIG, whole).sha256);
    expect(whole.requests.filter((r) => r.url.includes('/resolve/') || r.url.startsWith('/repos/')).every((r) => r.range !== undefined)).toBe(true);
  });
});

test('files above the whole-GET limit never go out without Range, on the one-stream path too', async () => {
  const dest = path.join(work, 'limit');
  const manifest = await downloadModel({ modelId: REPO, dest, hubUrl: hub.url, ...only([BIG, BIG2, 'config.json']), streamsPerFile: 1, progress: 'log', wholeGetLimit: MiB });
  for (const name of [BIG, BIG2]) expect([...manifest.files].find((f) => f.path === name)!.sha256).toBe(fixtureFile(name).sha256);
  const fileReqs = hub.requests.filter((r) => r.url.includes('/resolve/') || r.url.startsWith('/repos/'));
  const big = fileReqs.filter((r) => !r.url.includes('config.json') && !r.url.includes(fixtureFile('config.json').sha256));
  expect(big.length).toBeGreaterThan(0);
  expect(big.every((r) => r.range !== undefined)).toBe(true);
  // A small file below the limit keeps its plain GET.
  expect(fileReqs.some((r) => r.url.includes('config.json') && r.range === undefined)).toBe(true);
});

test('--chunk-size / --streams-per-file are checked at the edge (exit 2)', async () => {
  const bad = await cli(['download', '--model-id', REPO, '--dest', path.join(work, 'bad'), '--hub-url', hub.url, '--chunk-size', '12 parsecs']);
  expect(bad.code).toBe(ExitCode.Usage);
  expect(bad.stderr).toMatch(/--chunk-size must be a size between 1MiB and 1GiB/);
  expect(bad.stderr).not.toMatch(/\n\s+at /);
  const bad2 = await cli(['download', '--model-id', REPO, '--dest', path.join(work, 'bad'), '--hub-url', hub.url, '--streams-per-file', '0']);
  expect(bad2.code).toBe(ExitCode.Usage);
  expect(bad2.stderr).toMatch(/--streams-per-file must be an integer between 1 and 64/);
  expect(hub.requests).toHaveLength(0);
});

test('mirror (overlapped upload) of a multi-chunk file to the real SeaweedFS + MLflow', async () => {
  peers = getPeers();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  const name = `ranged-mirror-${suffix}`;
  const workDir = path.join(work, 'mirror');
  const res = await cli(['mirror', REPO, '--task', 'text-generation', '--experiment', `ranged-exp-${suffix}`, '--model-name', name, '--work-dir', workDir, '--keep-work-dir',
    '--allow-patterns', `${BIG},config.json,*.json`, '--chunk-size', '2MiB', '--streams-per-file', '6']);
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  // The multi-chunk path: every body request of BIG asked for one 2 MiB chunk, none twice.
  const reqs = bodyRequests(BIG);
  expect(reqs).toHaveLength(planChunks(fixtureFile(BIG).size, 2 * MiB).length);
  expect(reqs.every((r) => r.status === 206 && /^bytes=\d+-\d+$/.test(r.range ?? ''))).toBe(true);
  expect(new Set(reqs.map((r) => r.range)).size).toBe(reqs.length);
  const mv = await getModelVersion(new MlflowClient({ url: peers.mlflow.url }), name, '1');
  expect(mv.status).toBe('READY');
}, 180_000);
