// `model-mirror transfer` (the WorkflowTemplate's transfer step) between the other steps, as the
// template runs them: prepare -> transfer -> register -> verify -> finalize, against the real
// peers (Hub fixture, MLflow, SeaweedFS). Also --bounded-scratch: the work dir never holds more
// than the files in flight, and a SIGKILL mid-transfer is resumed without downloading again what
// is already complete in S3 (counted on the Hub fixture's side).
import { ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion } from '../../steps/mlflow/registry';
import { getRun, type Run } from '../../steps/mlflow/runs';
import { createS3Client } from '../../steps/s3/client';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers, readTools } from '../peers/peers';
import { buildBundle, startCli } from '../support/cli-child';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const MiB = 1024 * 1024;
const TINY = 'test/tiny-model';
const LARGE_REPO = 'bench/large';
// Two files big enough to go multipart part by part while downloading, four that go whole.
const LARGE = {
  'model-a.safetensors': 20 * MiB, 'model-b.safetensors': 20 * MiB,
  'model-c.safetensors': 6 * MiB, 'model-d.safetensors': 6 * MiB, 'model-e.safetensors': 6 * MiB, 'model-f.safetensors': 6 * MiB,
};
const LARGE_TOTAL = Object.values(LARGE).reduce((a, b) => a + b, 0);
const suffix = Date.now().toString(36);

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let bundle: string;
let client: MlflowClient;
let s3: S3Client;
const savedEnv = { ...process.env };

beforeAll(async () => {
  peers = getPeers();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-transfer-'));
  hub = await startHubFixture({ largeFiles: LARGE });
  bundle = buildBundle(work);
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  client = new MlflowClient({ url: peers.mlflow.url });
  s3 = createS3Client({ endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
}, 180_000);

afterAll(async () => {
  s3?.destroy();
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

afterEach(() => hub.faults.reset());

// --- helpers ----------------------------------------------------------------------------------

interface Prepared { run_id: string; s3_destination: string; artifact_uri: string; experiment_id: string }

async function prepare(repo: string, name: string, experiment: string): Promise<Prepared> {
  const res = await cli(['prepare', '--model-id', repo, '--experiment', experiment, '--model-name', name]);
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  return res.json[0] as unknown as Prepared;
}

/** register -> verify -> finalize, as the template's steps after transfer; returns the version. */
async function registerVerifyFinalize(dir: string, prep: Prepared, name: string, task?: string): Promise<string> {
  const reg = await cli(['register', '--source', dir, '--run-id', prep.run_id, '--model-name', name, ...(task ? ['--task', task] : [])]);
  expect(reg.stderr).not.toMatch(/^ERROR/m);
  expect(reg.code).toBe(0);
  const version = String((reg.json[0] as Obj).version);
  const ver = await cli(['verify', '--source', dir, '--run-id', prep.run_id, '--model-name', name, '--version', version]);
  expect(ver.stderr).not.toMatch(/^ERROR/m);
  expect(ver.code).toBe(0);
  expect(ver.json[0]).toMatchObject({ verified: true });
  const fin = await cli(['finalize', '--run-id', prep.run_id, '--workflow-status', 'Succeeded', '--model-name', name]);
  expect(fin.code).toBe(0);
  return version;
}

const prefixOf = (uri: string): { bucket: string; prefix: string } => {
  const m = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(uri)!;
  return { bucket: m[1], prefix: m[2] };
};

async function objectsUnder(uri: string): Promise<Map<string, number>> {
  const { bucket, prefix } = prefixOf(uri);
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.set(o.Key!.slice(prefix.length + 1), o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Bytes of every file under `dir` (`.part` files included). */
async function bytesIn(dir: string): Promise<number> {
  let n = 0;
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const st = await fs.stat(path.join(e.parentPath, e.name)).catch(() => undefined);
    n += st?.size ?? 0;
  }
  return n;
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** load_mirrored.py (the official MLflow client + transformers), talking to the bench only. */
function loadWithPython(spec: Obj): Promise<Obj> {
  const py = readTools().mlPython;
  if (!py) throw new Error('tools.json has no mlPython: the peers install builds the torch/transformers venv');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: work, ...stepEnv(peers),
    HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9',
    MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', NO_PROXY: '*', OMP_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(py, [path.join(__dirname, 'py', 'load_mirrored.py'), JSON.stringify(spec)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`load_mirrored.py exited ${code}\n${out.slice(-2000)}\n${err.slice(-4000)}`));
      else resolve(JSON.parse(last) as Obj);
    });
  });
}

async function runsOf(experimentId: string): Promise<Run[]> {
  const res = await client.post<{ runs?: Run[] }>('/api/2.0/mlflow/runs/search', { experiment_ids: [experimentId], max_results: 100 }, { idempotent: true });
  return res.runs ?? [];
}

// --- 1. transfer between the steps ------------------------------------------------------------

it('prepare -> transfer -> register -> verify: a READY version whose files load like the original; the outputs of download + upload', async () => {
  const name = `transfer-tiny-${suffix}`;
  const prep = await prepare(TINY, name, `transfer-exp-${suffix}`);
  const dir = path.join(work, 'tiny');
  const outDir = path.join(work, 'tiny-out');
  const res = await cli(['transfer', '--model-id', TINY, '--dest', dir, '--s3-destination', prep.s3_destination, '--output-dir', outDir]);
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);

  // What `download` leaves in the work dir, and what `upload` leaves under the prefix.
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'mirror-manifest.json'), 'utf8'));
  const original = new Map(hub.repos.get(TINY)!.files.map((f) => [f.path, hub.content(TINY, f.path)]));
  expect(manifest.files.map((f: Obj) => f.path).sort()).toEqual([...original.keys()].sort());
  for (const f of manifest.files) {
    expect([f.path, f.sha256]).toEqual([f.path, sha256(original.get(f.path)!)]);
    expect([f.path, sha256(await fs.readFile(path.join(dir, f.path)))]).toEqual([f.path, f.sha256]);
  }
  const objects = await objectsUnder(prep.s3_destination);
  expect([...objects.keys()].sort()).toEqual([...manifest.files.map((f: Obj) => `model/${f.path}`), 'mirror-manifest.json'].sort());
  const out = async (n: string) => (await fs.readFile(path.join(outDir, n), 'utf8')).trim();
  expect(await out('commit_sha')).toBe(manifest.commitSha);
  expect(Number(await out('total_bytes'))).toBe(manifest.totalBytes);
  expect(Number(await out('file_count'))).toBe(manifest.files.length);
  expect(Number(await out('bytes_downloaded'))).toBe(manifest.totalBytes);
  expect(Number(await out('objects_uploaded'))).toBe(manifest.files.length + 1);
  expect(Number(await out('objects_skipped'))).toBe(0);
  expect(Number(await out('bytes_uploaded'))).toBe([...objects.values()].reduce((a, b) => a + b, 0));

  const version = await registerVerifyFinalize(dir, prep, name);
  expect((await getModelVersion(client, name, version)).status).toBe('READY');
  expect((await getRun(client, prep.run_id)).info.status).toBe('FINISHED');

  // The registered model loads with MLflow + transformers and generates what the original does.
  const originalDir = path.join(work, 'tiny-original');
  for (const [p, data] of original) {
    await fs.mkdir(path.dirname(path.join(originalDir, p)), { recursive: true });
    await fs.writeFile(path.join(originalDir, p), data);
  }
  const r = await loadWithPython({
    model_uri: `models:/${name}/${version}`, original_dir: originalDir, snapshot_uri: `${prep.artifact_uri}/model/model`,
    experiment_id: prep.experiment_id, run_id: prep.run_id, prompt: 'the quick brown fox', max_new_tokens: 8, work_dir: path.join(work, 'py-tiny'),
  });
  expect(r.transformers_flavor.trace ?? '').toBe('');
  expect(r.transformers_flavor.output_ids).toEqual(r.original.output_ids);
  expect(r.snapshot.trace ?? '').toBe('');
  expect(r.snapshot.output_ids).toEqual(r.original.output_ids);
  for (const [p, data] of original) expect([p, r.download.files[`model/${p}`]]).toEqual([p, sha256(data)]);

  // A rerun of the step (an Argo retry after success) moves no file: every object is skipped, only
  // the manifest (written anew, with its own createdAt) goes again.
  const before = hub.bytesServed(TINY);
  const again = await cli(['transfer', '--model-id', TINY, '--dest', dir, '--s3-destination', prep.s3_destination, '--output-dir', outDir]);
  expect(again.code).toBe(0);
  expect(hub.bytesServed(TINY)).toBe(before);
  expect(Number(await out('bytes_downloaded'))).toBe(0);
  expect(Number(await out('objects_skipped'))).toBe(manifest.files.length);
  expect(Number(await out('objects_uploaded'))).toBe(1);
  expect(Number(await out('bytes_uploaded'))).toBe((await fs.stat(path.join(dir, 'mirror-manifest.json'))).size);
}, 600_000);

// --- 2. bounded scratch -------------------------------------------------------------------------

it('--bounded-scratch: the work dir never holds more than the files in flight, ends with only the manifest and config.json, and the version verifies', async () => {
  const name = `transfer-bounded-${suffix}`;
  const prep = await prepare(LARGE_REPO, name, `transfer-bounded-exp-${suffix}`);
  const dir = path.join(work, 'bounded');
  await fs.mkdir(dir, { recursive: true });
  const concurrency = 2;
  const child = startCli(bundle, ['transfer', '--model-id', LARGE_REPO, '--dest', dir, '--s3-destination', prep.s3_destination, '--bounded-scratch', '--concurrency', String(concurrency)],
    { ...stepEnv(peers), HF_ENDPOINT: hub.url });
  // Sample the work dir's size while the transfer runs.
  let peak = 0;
  let samples = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await bytesIn(dir));
      samples++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const res = await child.done;
  running = false;
  await sampler;
  expect(res.stderr).not.toMatch(/"level":"error"|^ERROR/m);
  expect(res.code).toBe(0);

  const largest = Object.values(LARGE).sort((a, b) => b - a);
  const inFlight = largest.slice(0, concurrency).reduce((a, b) => a + b, 0);
  process.stdout.write(`[transfer] bounded scratch: peak ${(peak / MiB).toFixed(1)} MiB on disk of a ${(LARGE_TOTAL / MiB).toFixed(0)} MiB model (bound ${(inFlight / MiB).toFixed(0)} MiB + small files), ${samples} samples\n`);
  expect(samples).toBeGreaterThan(10);
  expect(peak).toBeGreaterThan(0);
  // The in-flight files, plus the small ones and the manifest (a few KiB).
  expect(peak).toBeLessThanOrEqual(inFlight + 256 * 1024);
  expect(peak).toBeLessThan(LARGE_TOTAL);
  expect(res.stderr).toMatch(/bounded scratch: at most [12] files were on disk at once/);

  // Only what register reads stays; every file is in S3.
  expect(await filesIn(dir)).toEqual(['config.json', 'mirror-manifest.json']);
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'mirror-manifest.json'), 'utf8'));
  expect(manifest.files.length).toBe(Object.keys(LARGE).length + 2);
  const objects = await objectsUnder(prep.s3_destination);
  for (const f of manifest.files) expect([f.path, objects.get(`model/${f.path}`)]).toEqual([f.path, f.size]);

  const version = await registerVerifyFinalize(dir, prep, name, 'text-generation');
  expect((await getModelVersion(client, name, version)).status).toBe('READY');
}, 300_000);

// --- 3. SIGKILL mid-transfer, bounded scratch, rerun -----------------------------------------

it('--bounded-scratch killed mid-transfer: the rerun completes and downloads only what was not yet in S3; no RUNNING run is left', async () => {
  const name = `transfer-kill-${suffix}`;
  const experiment = `transfer-kill-exp-${suffix}`;
  const prep = await prepare(LARGE_REPO, name, experiment);
  const dir = path.join(work, 'kill');
  const STUCK = 'model-f.safetensors';
  // One file keeps failing (503, retried with backoff), so the kill lands while the others are done.
  hub.faults.serverError(LARGE_REPO, STUCK, 503, 10_000);
  const args = ['transfer', '--model-id', LARGE_REPO, '--dest', dir, '--s3-destination', prep.s3_destination, '--bounded-scratch', '--concurrency', '2', '--retries', '50'];
  const child = startCli(bundle, args, { ...stepEnv(peers), HF_ENDPOINT: hub.url });
  const others = Object.keys(LARGE).filter((f) => f !== STUCK);
  const deadline = Date.now() + 120_000;
  const onDisk = async (f: string) => fs.stat(path.join(dir, f)).then(() => true, () => false);
  let inS3: Map<string, number>;
  // Kill once the others are in S3 and their local copies are gone (a copy goes after its object
  // is complete and checked, so there is a moment when both exist).
  for (;;) {
    inS3 = await objectsUnder(prep.s3_destination);
    const stored = others.every((f) => inS3.has(`model/${f}`));
    const left = stored ? (await Promise.all(others.map(onDisk))).some(Boolean) : true;
    if (stored && !left) break;
    if (Date.now() > deadline) throw new Error(stored ? 'the other files reached S3 but their local copies were never deleted' : 'the other files never reached S3');
    await new Promise((r) => setTimeout(r, 50));
  }
  child.child.kill('SIGKILL');
  const killed = await child.done;
  expect(killed.signal).toBe('SIGKILL');
  for (const f of others) expect(await onDisk(f)).toBe(false);
  inS3 = await objectsUnder(prep.s3_destination);
  expect(inS3.has('mirror-manifest.json')).toBe(false);
  expect(inS3.has(`model/${STUCK}`)).toBe(false);
  hub.faults.reset();

  const served = (f: string) => hub.bytesServed(LARGE_REPO, f);
  const before = Object.fromEntries(Object.keys(LARGE).map((f) => [f, served(f)]));
  const outDir = path.join(work, 'kill-out');
  const rerun = await cli([...args, '--output-dir', outDir]);
  expect(rerun.stderr).not.toMatch(/^ERROR/m);
  expect(rerun.code).toBe(0);
  // Nothing that was complete in S3 came from the Hub again; the stuck file came whole.
  for (const f of others) expect([f, served(f) - before[f]]).toEqual([f, 0]);
  expect(served(STUCK) - before[STUCK]).toBe(LARGE[STUCK]);
  const downloaded = Number((await fs.readFile(path.join(outDir, 'bytes_downloaded'), 'utf8')).trim());
  process.stdout.write(`[transfer] SIGKILL + rerun with --bounded-scratch: the rerun downloaded ${downloaded} of ${LARGE_TOTAL} model bytes\n`);
  expect(downloaded).toBeLessThanOrEqual(LARGE[STUCK] + 64 * 1024);
  expect(rerun.stderr).toMatch(new RegExp(`${others.length + 1} of ${Object.keys(LARGE).length + 2} files are already stored at the destination|${others.length} of ${Object.keys(LARGE).length + 2} files are already stored at the destination`));

  // The manifest is complete and right: every file with the Hub's size and sha256.
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'mirror-manifest.json'), 'utf8'));
  const tree = new Map(hub.repos.get(LARGE_REPO)!.files.map((f: Obj) => [f.path, f]));
  expect(manifest.files.map((f: Obj) => f.path).sort()).toEqual([...tree.keys()].sort());
  for (const f of manifest.files) {
    const t = tree.get(f.path) as Obj;
    if (f.lfs) expect([f.path, f.sha256]).toEqual([f.path, t.sha256]);
    expect([f.path, f.size]).toEqual([f.path, t.size]);
  }
  expect(await filesIn(dir)).toEqual(['config.json', 'mirror-manifest.json']);

  const version = await registerVerifyFinalize(dir, prep, name, 'text-generation');
  expect((await getModelVersion(client, name, version)).status).toBe('READY');
  const runs = await runsOf(prep.experiment_id);
  expect(runs.filter((r) => r.info.status === 'RUNNING')).toEqual([]);
  expect(runs.map((r) => r.info.status)).toEqual(['FINISHED']);
  const { bucket, prefix } = prefixOf(prep.s3_destination);
  const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
  expect(open.Uploads ?? []).toEqual([]);
}, 300_000);
