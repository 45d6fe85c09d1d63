// Reruns continue what a failed or killed run moved (issue #17): the rerun adopts that run's S3
// prefix, sends only the missing bytes, leaves no RUNNING run and no open multipart upload, and
// failed runs that a READY version superseded lose their objects. Real MLflow + SeaweedFS, the
// Hub fixture, the CLI bundle as a child process for the SIGKILL.
import {
  AbortMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowClient } from '../../steps/mlflow/client';
import { searchModelVersions } from '../../steps/mlflow/registry';
import { getRun, type Run } from '../../steps/mlflow/runs';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { buildBundle, startCli } from '../support/cli-child';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

const MiB = 1024 * 1024;
const REPO = 'bench/large';
const FILE1 = 'model-00001-of-00002.safetensors';
const FILE2 = 'model-00002-of-00002.safetensors';
const LARGE = { [FILE1]: 40 * MiB, [FILE2]: 40 * MiB };
const TOTAL = 80 * MiB;

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let bundle: string;
let client: MlflowClient;
let s3: S3Client;
const savedEnv = { ...process.env };
const suffix = Date.now().toString(36);

beforeAll(async () => {
  peers = getPeers();
  client = new MlflowClient({ url: peers.mlflow.url });
  s3 = new S3Client({ endpoint: peers.s3.endpoint, forcePathStyle: true, region: peers.s3.region, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-rerun-adopt-'));
  hub = await startHubFixture({ largeFiles: LARGE });
  bundle = buildBundle(work);
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
}, 180_000);

afterAll(async () => {
  await hub?.close();
  s3?.destroy();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

afterEach(() => hub.faults.reset());

async function experimentId(name: string): Promise<string | undefined> {
  try {
    return (await client.get<{ experiment: { experiment_id: string } }>('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: name })).experiment.experiment_id;
  } catch {
    return undefined;
  }
}

async function runsOf(experiment: string): Promise<Run[]> {
  const id = await experimentId(experiment);
  if (!id) return [];
  const res = await client.post<{ runs?: Run[] }>('/api/2.0/mlflow/runs/search', { experiment_ids: [id], max_results: 100 }, { idempotent: true });
  return res.runs ?? [];
}

const tagsOf = (r: Run): Record<string, string> => Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]));

function locOf(artifactUri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(artifactUri)!;
  return { bucket: m[1], prefix: m[2] };
}

async function objectsUnder(bucket: string, prefix: string): Promise<number> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
  return page.KeyCount ?? (page.Contents ?? []).length;
}

async function openUploadsUnder(bucket: string, prefix: string): Promise<string[]> {
  const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
  return (page.Uploads ?? []).map((u) => u.Key!);
}

/** Bytes-bearing parts of the open multipart uploads under `prefix/`. */
async function partsUnder(bucket: string, prefix: string): Promise<number> {
  const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
  let n = 0;
  for (const u of page.Uploads ?? []) {
    const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
    n += parts?.Parts?.length ?? 0;
  }
  return n;
}

async function exists(bucket: string, key: string): Promise<boolean> {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false);
}

const mirrorArgs = (name: string, experiment: string, workDir: string): string[] =>
  ['mirror', REPO, '--experiment', experiment, '--model-name', name, '--work-dir', workDir, '--task', 'text-generation'];

it('a mirror SIGKILLed mid-upload: the rerun adopts its RUNNING run and sends only the missing bytes', async () => {
  const name = `adopt-kill-${suffix}`;
  const experiment = `adopt-kill-exp-${suffix}`;
  const workDir = path.join(work, 'kill');
  // Killed as soon as S3 holds one finished part of an open multipart upload (16 MiB).
  const child = startCli(bundle, mirrorArgs(name, experiment, workDir), { ...stepEnv(peers), HF_ENDPOINT: hub.url });
  let run: Run | undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error('the mirror never had a part in S3');
    run ??= (await runsOf(experiment))[0];
    if (run) {
      const { bucket, prefix } = locOf(run.info.artifact_uri);
      if (await partsUnder(bucket, prefix) > 0) break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.child.kill('SIGKILL');
  const killed = await child.done;
  expect(killed.signal).toBe('SIGKILL');
  expect((await getRun(client, run.info.run_id)).info.status).toBe('RUNNING');
  hub.faults.reset();

  const t0 = Date.now();
  const res = await cli(mirrorArgs(name, experiment, workDir));
  const seconds = (Date.now() - t0) / 1000;
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  const out = res.json[res.json.length - 1] as Record<string, number | string | boolean>;
  expect(out).toMatchObject({ run_id: run.info.run_id, adopted_from: 'RUNNING', reused: false });
  // At least the part that was in S3 at the kill is not sent again (resumed or, if its file was
  // completed meanwhile, skipped).
  expect((out.bytes_resumed as number) + (out.bytes_skipped as number)).toBeGreaterThanOrEqual(16 * MiB);
  expect(out.bytes_uploaded as number).toBeLessThanOrEqual(TOTAL - 16 * MiB + MiB);
  process.stdout.write(`[rerun-adopt] SIGKILL: rerun sent ${out.bytes_uploaded} of ${TOTAL} bytes (resumed ${out.bytes_resumed}, skipped ${out.bytes_skipped}) in ${seconds.toFixed(1)} s\n`);

  const runs = await runsOf(experiment);
  expect(runs.map((r) => r.info.status)).toEqual(['FINISHED']);
  expect(tagsOf(runs[0])['model_mirror.attempts']).toBe('2');
  const { bucket, prefix } = locOf(runs[0].info.artifact_uri);
  expect(await openUploadsUnder(bucket, prefix)).toEqual([]);
  expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
});

it('a mirror failed by a Hub fault: the rerun reopens the FAILED run; an older failed run is swept', async () => {
  const name = `adopt-fail-${suffix}`;
  const experiment = `adopt-fail-exp-${suffix}`;
  const workDir = path.join(work, 'fail');
  hub.faults.corrupt(REPO, FILE2, 100); // every download of FILE2 fails its sha256: exit 6
  // FILE2's bytes are held until FILE1 is an object in S3: on a busy machine FILE2 could otherwise
  // fail (stopping the upload) before FILE1 is complete, and there would be nothing to reuse.
  const releaseFile2 = hub.faults.hold(REPO, FILE2);
  const failing = cli(mirrorArgs(name, experiment, workDir));
  const deadline = Date.now() + 90_000;
  for (let stored = false; !stored;) {
    if (Date.now() > deadline) {
      hub.faults.reset();
      await failing;
      throw new Error(`${FILE1} never became an object in S3 while ${FILE2} was held`);
    }
    const run = (await runsOf(experiment))[0];
    if (run) {
      const { bucket, prefix } = locOf(run.info.artifact_uri);
      stored = await exists(bucket, `${prefix}/model/model/${FILE1}`);
    }
    if (!stored) await new Promise((r) => setTimeout(r, 100));
  }
  releaseFile2();
  const failed = await failing;
  expect(failed.code).toBe(6);
  hub.faults.reset();
  const [a] = await runsOf(experiment);
  expect(a.info.status).toBe('FAILED');
  const aLoc = locOf(a.info.artifact_uri);
  expect(await exists(aLoc.bucket, `${aLoc.prefix}/model/model/${FILE1}`)).toBe(true);

  // An older FAILED run of the same identity (as 25 reruns before adoption existed left them):
  // an object and an open multipart upload under its prefix.
  const expId = (await experimentId(experiment))!;
  const tags = tagsOf(a);
  const identityTags = ['model_mirror.source_repo', 'model_mirror.commit_sha', 'model_mirror.file_set', 'model_mirror.registered_model', 'model_mirror.requested_revision']
    .map((key) => ({ key, value: tags[key] }));
  const b = (await client.post<{ run: Run }>('/api/2.0/mlflow/runs/create', { experiment_id: expId, start_time: Number(a.info.start_time) - 60_000, tags: identityTags })).run;
  const bLoc = locOf(b.info.artifact_uri);
  await s3.send(new PutObjectCommand({ Bucket: bLoc.bucket, Key: `${bLoc.prefix}/model/model/config.json`, Body: '{}' }));
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: bLoc.bucket, Key: `${bLoc.prefix}/model/model/${FILE1}` }));
  await s3.send(new UploadPartCommand({ Bucket: bLoc.bucket, Key: `${bLoc.prefix}/model/model/${FILE1}`, UploadId: mpu.UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MiB) }));
  await client.post('/api/2.0/mlflow/runs/update', { run_id: b.info.run_id, status: 'FAILED', end_time: Date.now() });

  const t0 = Date.now();
  const res = await cli(mirrorArgs(name, experiment, workDir));
  const seconds = (Date.now() - t0) / 1000;
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  const out = res.json[res.json.length - 1] as Record<string, number | string | boolean>;
  expect(out).toMatchObject({ run_id: a.info.run_id, adopted_from: 'FAILED', reused: false });
  expect(out.bytes_uploaded as number).toBeLessThanOrEqual(TOTAL - 40 * MiB + MiB);
  process.stdout.write(`[rerun-adopt] Hub fault: rerun sent ${out.bytes_uploaded} of ${TOTAL} bytes (skipped ${out.bytes_skipped}) in ${seconds.toFixed(1)} s\n`);

  const after = await getRun(client, a.info.run_id);
  expect(after.info.status).toBe('FINISHED');
  expect(tagsOf(after)['model_mirror.previous_failure']).toMatch(/download/);
  expect(tagsOf(after)['model_mirror.failure_reason']).toBeUndefined();
  // The older failed run: objects deleted, open upload aborted, marked swept.
  const bAfter = await getRun(client, b.info.run_id);
  expect(tagsOf(bAfter)['model_mirror.superseded_by']).toBe(`${name}/1`);
  expect(await objectsUnder(bLoc.bucket, bLoc.prefix)).toBe(0);
  expect(await openUploadsUnder(bLoc.bucket, bLoc.prefix)).toEqual([]);
  expect(await openUploadsUnder(aLoc.bucket, aLoc.prefix)).toEqual([]);
  expect((await runsOf(experiment)).filter((r) => r.info.status === 'RUNNING')).toEqual([]);
  expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bLoc.bucket, Key: `${bLoc.prefix}/model/model/${FILE1}`, UploadId: mpu.UploadId })).catch(() => undefined);
});

it('a mirror stopped by --deadline: the rerun reopens its FAILED run, keeps what reached disk and S3, and moves only the rest', async () => {
  const name = `adopt-deadline-${suffix}`;
  const experiment = `adopt-deadline-exp-${suffix}`;
  const workDir = path.join(work, 'deadline');
  // FILE2's connection drops after every MiB: it creeps, so the deadline passes mid-file.
  hub.faults.dropAfterBytes(REPO, FILE2, MiB, 1000);
  const stopped = await cli([...mirrorArgs(name, experiment, workDir), '--deadline', '6s']);
  expect(stopped.code).toBe(5);
  expect(stopped.stderr).toMatch(/The deadline \(--deadline 6s\) passed/);
  hub.faults.reset();
  const [a] = await runsOf(experiment);
  expect(a.info.status).toBe('FAILED');

  // What the stopped mirror left: bytes on disk (finished files and .part files) and in S3.
  const sizeOf = (p: string) => fs.stat(p).then((st) => st.size, () => 0);
  let onDisk = 0;
  for (const f of [FILE1, FILE2]) onDisk += Math.max(await sizeOf(path.join(workDir, f)), await sizeOf(path.join(workDir, `${f}.part`)));
  const { bucket, prefix } = locOf(a.info.artifact_uri);
  const inS3 = await Promise.all([FILE1, FILE2].map((f) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/model/model/${f}` })).then((h) => h.ContentLength ?? 0, () => 0)));
  expect(onDisk).toBeGreaterThan(MiB); // it did get somewhere before the deadline
  expect(onDisk).toBeLessThan(TOTAL);

  const largeServed = () => hub.bytesServed(REPO, FILE1) + hub.bytesServed(REPO, FILE2);
  const hubBefore = largeServed();
  const t0 = Date.now();
  const res = await cli(mirrorArgs(name, experiment, workDir));
  const seconds = (Date.now() - t0) / 1000;
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  const out = res.json[res.json.length - 1] as Record<string, number | string | boolean>;
  expect(out).toMatchObject({ run_id: a.info.run_id, adopted_from: 'FAILED', reused: false });
  // The Hub sends exactly what was not on disk (the large files; the small ones are a few KB);
  // S3 gets nothing it already held as an object.
  const hubResent = largeServed() - hubBefore;
  expect(hubResent).toBe(TOTAL - onDisk);
  const objectsHeld = inS3[0] + inS3[1];
  expect(out.bytes_skipped as number).toBeGreaterThanOrEqual(objectsHeld);
  expect(out.bytes_uploaded as number).toBeLessThanOrEqual(TOTAL - objectsHeld + MiB); // + the small files
  process.stdout.write(`[rerun-adopt] --deadline: first mirror left ${onDisk} B on disk and ${objectsHeld} B as objects; rerun fetched ${hubResent} B from the Hub, sent ${out.bytes_uploaded} B to S3 (resumed ${out.bytes_resumed}, skipped ${out.bytes_skipped}) in ${seconds.toFixed(1)} s\n`);

  const runs = await runsOf(experiment);
  expect(runs.map((r) => r.info.status)).toEqual(['FINISHED']);
  expect(tagsOf(runs[0])['model_mirror.previous_failure']).toMatch(/deadline/);
  expect(await openUploadsUnder(bucket, prefix)).toEqual([]);
  expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
});

it('the template path: prepare -> download -> upload -> register fails -> finalize; prepare again continues the same run and prefix', async () => {
  const name = `adopt-steps-${suffix}`;
  const experiment = `adopt-steps-exp-${suffix}`;
  const dl = path.join(work, 'steps-dl');
  const outs = path.join(work, 'steps-out');
  const prepare = (wf: string) => cli(['prepare', '--model-id', REPO, '--experiment', experiment, '--model-name', name, '--argo-workflow', wf, '--output-dir', outs]);

  const p1 = await prepare('wf-1');
  expect(p1.code).toBe(0);
  const first = p1.json[0] as Record<string, string>;
  expect(first.adopted_from).toBeUndefined();
  expect((await cli(['download', '--model-id', REPO, '--dest', dl])).code).toBe(0);
  const up1 = await cli(['upload', '--source', dl, '--dest', first.s3_destination, '--output-dir', outs]);
  expect(up1.code).toBe(0);
  expect(Number(await fs.readFile(path.join(outs, 'bytes_uploaded'), 'utf8'))).toBeGreaterThanOrEqual(TOTAL);
  const reg1 = await cli(['register', '--source', dl, '--run-id', first.run_id, '--model-name', name, '--task', 'no-such-task']);
  expect(reg1.code).toBe(2);
  expect((await cli(['finalize', '--run-id', first.run_id, '--workflow-status', 'Failed', '--failures', 'register: bad task', '--model-name', name])).code).toBe(0);
  expect((await getRun(client, first.run_id)).info.status).toBe('FAILED');

  // A resubmitted workflow: its prepare reopens the FAILED run.
  const p2 = await prepare('wf-2');
  expect(p2.code).toBe(0);
  expect(p2.json[0]).toMatchObject({ run_id: first.run_id, s3_destination: first.s3_destination, adopted_from: 'FAILED' });
  // Argo retrying that prepare (its run is RUNNING for wf-2): the same run again.
  const p3 = await prepare('wf-2');
  expect(p3.json[0]).toMatchObject({ run_id: first.run_id, adopted_from: 'RUNNING' });

  const t0 = Date.now();
  const up2 = await cli(['upload', '--source', dl, '--dest', first.s3_destination, '--output-dir', outs]);
  expect(up2.code).toBe(0);
  const resent = Number(await fs.readFile(path.join(outs, 'bytes_uploaded'), 'utf8'));
  expect(resent).toBe(0);
  process.stdout.write(`[rerun-adopt] template path: second upload sent ${resent} bytes in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  const reg2 = await cli(['register', '--source', dl, '--run-id', first.run_id, '--model-name', name, '--task', 'text-generation']);
  expect(reg2.code).toBe(0);
  expect((await cli(['finalize', '--run-id', first.run_id, '--workflow-status', 'Succeeded', '--model-name', name])).code).toBe(0);
  const runs = await runsOf(experiment);
  expect(runs.map((r) => r.info.status)).toEqual(['FINISHED']);
  expect(tagsOf(runs[0])['model_mirror.argo_workflow']).toBe('wf-2');
  expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
});

it('a RUNNING run with a live lease is waited for, never adopted; once its lease expires it is adopted', async () => {
  const name = `adopt-lease-${suffix}`;
  const experiment = `adopt-lease-exp-${suffix}`;
  // A run with the identity's tags (what `prepare` writes), then owned by a process on another host.
  const p = await cli(['prepare', '--model-id', 'test/tiny-model', '--experiment', experiment, '--model-name', name]);
  expect(p.code).toBe(0);
  const other = (p.json[0] as Record<string, string>).run_id;
  const leaseMs = 5000;
  const leaseSetAt = Date.now();
  await client.post('/api/2.0/mlflow/runs/log-batch', { run_id: other, tags: [
    { key: 'model_mirror.lease_owner', value: 'another-host/4242/beef' },
    { key: 'model_mirror.lease_expires', value: String(leaseSetAt + leaseMs) },
  ] });

  const res = await cli(['mirror', 'test/tiny-model', '--experiment', experiment, '--model-name', name, '--work-dir', path.join(work, 'lease')]);
  expect(res.code).toBe(0);
  // It waited for the owner (the lease's remaining time) before taking the run over.
  expect(Date.now() - leaseSetAt).toBeGreaterThanOrEqual(leaseMs);
  expect(res.stderr).toMatch(/Another mirror \(another-host\/4242\/beef\) is uploading this commit/);
  expect(res.json[res.json.length - 1]).toMatchObject({ run_id: other, adopted_from: 'RUNNING' });
  const runs = await runsOf(experiment);
  expect(runs.map((r) => r.info.status)).toEqual(['FINISHED']);
});
