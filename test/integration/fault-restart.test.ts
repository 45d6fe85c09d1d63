// Restarts of MLflow and S3 during `model-mirror mirror` (issue #17): the tool waits them out.
// This file starts its OWN SeaweedFS and MLflow (sharing only the bench's PostgreSQL database,
// with names of its own) so it can stop and restart them without disturbing other test files.
// Each outage is triggered from the mirror's own log lines (or, for S3, from the bytes it has
// sent), so it lands at the intended point every time: a real stop (SIGTERM to the process
// group), a pause, and a restart on the same port with the same data.
import { promises as fs, existsSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { main } from '../../steps/cli';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion } from '../../steps/mlflow/registry';
import { getRun, type Run } from '../../steps/mlflow/runs';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { startMlflow, type MlflowPeer } from '../peers/mlflow';
import { getPeers, PEERS_FILE, type Peers } from '../peers/peers';
import { freePorts } from '../peers/ports';
import { PeerProcess, setPidsFile, sleep } from '../peers/process';
import { benchS3Client, startSeaweedfs, type SeaweedPeer } from '../peers/seaweedfs';

const RUN_STATE = '.model-mirror-run.json';
const LARGE_FILE = 'model.safetensors';
const LARGE_SIZE = 96 * 1024 ** 2;
const suffix = Date.now().toString(36);
const experiment = `restarts-${suffix}`;

let peers: Peers;
let dir: string;
let logDir: string;
let weed: SeaweedPeer;
let weedProc: PeerProcess;
let mlflow: MlflowPeer;
let mlflowOpts: Parameters<typeof startMlflow>[1];
let hub: StartedHubFixture;
let client: MlflowClient;
const savedEnv = { ...process.env };
/** Wall time and bytes per case, printed at the end (and quoted in reports). */
const measured: Record<string, { seconds: number; down_seconds?: number; bytes_to_s3: number; bytes_resent?: number }> = {};

beforeAll(async () => {
  peers = getPeers();
  // Our peers join this jest run's pids file: the bench's teardown and watchdog stop them too.
  setPidsFile(path.join(path.dirname(PEERS_FILE), 'pids'));
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-restarts-'));
  logDir = path.join(peers.logDir, 'fault-restart');
  await fs.mkdir(logDir, { recursive: true });
  await fs.mkdir(path.join(dir, 'weed'));
  await fs.mkdir(path.join(dir, 'mlflow'));
  const [port] = await freePorts(1);
  [weed, hub] = await Promise.all([
    startSeaweedfs(peers.tools, { dir: path.join(dir, 'weed'), logDir }),
    startHubFixture({ largeFiles: { [LARGE_FILE]: LARGE_SIZE } }),
  ]);
  weedProc = weed.process;
  mlflowOpts = {
    dir: path.join(dir, 'mlflow'), logDir, port,
    backendStoreUri: peers.postgres.url.replace(/^postgresql:/, 'postgresql+psycopg2:'),
    s3: weed.s3,
  };
  mlflow = await startMlflow(peers.tools, mlflowOpts);
  client = new MlflowClient({ url: mlflow.url });
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH', 'MODEL_MIRROR_UNAVAILABLE_TIMEOUT']) delete process.env[k];
  Object.assign(process.env, {
    MLFLOW_TRACKING_URI: mlflow.url,
    MLFLOW_S3_ENDPOINT_URL: weed.s3.endpoint,
    AWS_ACCESS_KEY_ID: weed.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: weed.s3.secretAccessKey,
    AWS_REGION: weed.s3.region,
    HF_ENDPOINT: hub.url,
  });
}, 180_000);

afterAll(async () => {
  process.env = savedEnv;
  await mlflow?.process.stop();
  await weedProc?.stop();
  await hub?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  process.stderr.write(`fault-restart measurements: ${JSON.stringify(measured, null, 1)}\n`);
}, 60_000);

// --- peers: stop now (from a log line), restart later ---

/** SIGTERM to the peer's process group, synchronously: the next request of the mirror finds it gone. */
/**
 * SIGKILL for MLflow at a step boundary: its listener must be gone before the mirror's next
 * request (a graceful SIGTERM lets that request finish first, and the outage misses the boundary).
 */
function signalStop(proc: PeerProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

async function restartMlflow(): Promise<void> {
  mlflow = await startMlflow(peers.tools, mlflowOpts);
}

async function restartSeaweedfs(): Promise<void> {
  weedProc = new PeerProcess(weedProc.opts); // same ports, same data dir
  const s3 = benchS3Client(weed.s3.endpoint, weed.s3.accessKeyId, weed.s3.secretAccessKey);
  try {
    await weedProc.waitUntil('the S3 endpoint to answer ListBuckets again', async () => {
      await s3.send(new ListBucketsCommand({}));
      return true;
    }, 60_000);
  } finally {
    s3.destroy();
  }
}

/**
 * Stops `proc` now; in the background waits until it is gone, leaves it down until `downMs`
 * after the stop, then restarts it. Resolves with the seconds it did not answer.
 */
function outage(proc: () => PeerProcess, downMs: number, restart: () => Promise<void>, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  const stoppedAt = Date.now();
  const p = proc();
  signalStop(p, signal);
  return (async () => {
    await p.stop(15_000);
    await sleep(Math.max(0, stoppedAt + downMs - Date.now()));
    await restart();
    return (Date.now() - stoppedAt) / 1000;
  })();
}

// --- the CLI in-process, with its log lines seen as they are written ---

interface Result { code: number; stdout: string; stderr: string; json: Record<string, unknown>[]; seconds: number; bytesToS3: number }

/**
 * Runs `model-mirror <args>` like test/support/run-cli.ts, calling `onLine` for each log line as
 * it is written and `onS3Bytes` with the running total of bytes written to sockets to S3.
 */
async function mirror(args: string[], hooks: { onLine?: (line: string) => void; onS3Bytes?: (total: number) => void } = {}): Promise<Result> {
  const s3Port = Number(new URL(weed.s3.endpoint).port);
  const out: string[] = [];
  const err: string[] = [];
  let pending = '';
  let bytesToS3 = 0;
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { out.push(String(c)); return true; });
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err.push(String(c));
    pending += String(c);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) hooks.onLine?.(l);
    return true;
  });
  const realWrite = net.Socket.prototype.write;
  const sw = jest.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, ...a: unknown[]) {
    if (this.remotePort === s3Port && this.remoteAddress === '127.0.0.1') {
      const chunk = a[0] as string | Uint8Array;
      bytesToS3 += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      hooks.onS3Bytes?.(bytesToS3);
    }
    return (realWrite as (...x: unknown[]) => boolean).apply(this, a);
  });
  const t0 = Date.now();
  try {
    const code = await main(['mirror', ...args]);
    const stdout = out.join('');
    const json = stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code, stdout, stderr: err.join(''), json, seconds: (Date.now() - t0) / 1000, bytesToS3 };
  } finally {
    so.mockRestore();
    se.mockRestore();
    sw.mockRestore();
  }
}

function mirrorArgs(name: string, workDir: string, repo = 'test/tiny-model'): string[] {
  return [repo, '--experiment', experiment, '--model-name', name, '--work-dir', workDir,
    ...(repo === 'bench/large' ? ['--task', 'text-generation'] : [])];
}

async function runsOf(name: string): Promise<Run[]> {
  const exp = await client.get<{ experiment: { experiment_id: string } }>('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: experiment });
  const res = await client.post<{ runs?: Run[] }>('/api/2.0/mlflow/runs/search', {
    experiment_ids: [exp.experiment.experiment_id],
    filter: `tags.\`model_mirror.registered_model\` = '${name}'`,
    run_view_type: 'ALL',
  });
  return res.runs ?? [];
}

/** Version 1 READY, every run of the model closed, the run-state file gone. */
async function expectMirrored(name: string, workDir: string, runId: string): Promise<void> {
  expect((await getModelVersion(client, name, '1')).status).toBe('READY');
  expect((await getRun(client, runId)).info.status).toBe('FINISHED');
  const runs = await runsOf(name);
  expect(runs.length).toBeGreaterThan(0);
  expect(runs.filter((r) => r.info.status === 'RUNNING').map((r) => r.info.run_id)).toEqual([]);
  expect(existsSync(path.join(workDir, RUN_STATE))).toBe(false);
}

const WAITING_FOR_MLFLOW = /^WARN: waiting for MLflow at http:\/\/127\.0\.0\.1:\d+: connection refused on \w+ \S+ \(\d+ s of 180 s; next attempt in [\d.]+ s\)$/m;

// A restart takes MLflow ~20-40 s here (stop, then start again at once: migrations check,
// app import), so the outage is the restart itself. The third boundary, "before register", is
// the one the budget case below uses.
describe('MLflow restarted at a step boundary: the mirror waits and finishes', () => {
  const cases: Array<[string, RegExp]> = [
    ['after prepare created the run', /^Prepared MLflow run /],
    ['before finalize (the version just verified)', /^Verified model version /],
  ];
  it.each(cases)('%s', async (label, trigger) => {
    const name = `restart-${cases.findIndex((c) => c[0] === label)}-${suffix}`;
    const workDir = path.join(dir, name);
    let down: Promise<number> | undefined;
    const res = await mirror(mirrorArgs(name, workDir), {
      onLine: (line) => {
        if (!down && trigger.test(line)) down = outage(() => mlflow.process, 0, restartMlflow, 'SIGKILL');
      },
    });
    const downSeconds = await down;
    measured[`mlflow ${label}`] = { seconds: res.seconds, down_seconds: downSeconds, bytes_to_s3: res.bytesToS3 };
    expect(down).toBeDefined();
    expect(res.stderr).not.toMatch(/^ERROR/m);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(WAITING_FOR_MLFLOW);
    expect(res.stderr).toMatch(/^MLflow at http:\/\/127\.0\.0\.1:\d+ answers again after \d+ s of unavailability$/m);
    // One line per attempt, capped backoff (10 s): a few lines for a restart, not a flood.
    expect((res.stderr.match(/waiting for MLflow/g) ?? []).length).toBeLessThanOrEqual(Math.ceil(downSeconds! / 2) + 3);
    await expectMirrored(name, workDir, (res.json[0] as { run_id: string }).run_id);
  }, 150_000);
});

it('SeaweedFS stopped ~40 s mid-upload and restarted: the upload resumes, the files verify', async () => {
  const name = `restart-s3-${suffix}`;
  const workDir = path.join(dir, name);
  let down: Promise<number> | undefined;
  const res = await mirror(mirrorArgs(name, workDir, 'bench/large'), {
    onS3Bytes: (total) => {
      if (!down && total > LARGE_SIZE / 3) down = outage(() => weedProc, 40_000, restartSeaweedfs);
    },
  });
  const downSeconds = await down;
  measured['s3 mid-upload'] = {
    seconds: res.seconds, down_seconds: downSeconds, bytes_to_s3: res.bytesToS3, bytes_resent: res.bytesToS3 - LARGE_SIZE,
  };
  expect(down).toBeDefined();
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  expect(res.stderr).toMatch(/^WARN: waiting for S3 at http:\/\/127\.0\.0\.1:\d+: (connection refused|connection reset|HTTP 50[234]) \((UploadPart|PutObject|CreateMultipartUpload)Command\) \(0 s of 180 s; next attempt in [\d.]+ s\)$/m);
  expect(res.stderr).toMatch(/^WARN: waiting for S3 at http:\/\/127\.0\.0\.1:\d+: connection refused \([1-9]\d* s of 180 s; next attempt in [\d.]+ s\)$/m);
  expect(res.stderr).toMatch(/^S3 at .* answers again after \d+ s of unavailability$/m);
  const r = res.json[0] as { run_id: string; files_checked: number };
  expect(r.files_checked).toBeGreaterThanOrEqual(2);
  await expectMirrored(name, workDir, r.run_id);
}, 200_000);

it('MLflow down before register, longer than --unavailable-timeout: exit 5, run state kept; a rerun once it is back closes the run', async () => {
  const name = `restart-budget-${suffix}`;
  const workDir = path.join(dir, name);
  let stopped: Promise<void> | undefined;
  const failed = await mirror(['--unavailable-timeout', '4', ...mirrorArgs(name, workDir)], {
    onLine: (line) => {
      if (!stopped && /^uploaded test\/tiny-model/.test(line)) {
        signalStop(mlflow.process, 'SIGKILL');
        stopped = mlflow.process.stop(15_000);
      }
    },
  });
  await stopped;
  expect(failed.code).toBe(5);
  expect(failed.stderr).toMatch(/^ERROR: Cannot reach the MLflow tracking server at http:\/\/127\.0\.0\.1:\d+: connection refused on \w+ \S+ for \d+ s \(\d+ attempts?; --unavailable-timeout 4\)/m);
  expect(failed.stderr).toMatch(/MLflow is unavailable, run \w+ stays RUNNING; the run state in .*\.model-mirror-run\.json lets a rerun/);
  expect(failed.stderr).not.toMatch(/\n\s+at /); // no stack trace
  const state = JSON.parse(await fs.readFile(path.join(workDir, RUN_STATE), 'utf8')) as { runId: string };

  await restartMlflow();
  expect((await getRun(client, state.runId)).info.status).toBe('RUNNING');
  const again = await mirror(mirrorArgs(name, workDir));
  measured['mlflow beyond budget'] = { seconds: failed.seconds, bytes_to_s3: failed.bytesToS3 };
  measured['mlflow beyond budget: rerun'] = { seconds: again.seconds, bytes_to_s3: again.bytesToS3 };
  expect(again.stderr).not.toMatch(/^ERROR/m);
  expect(again.code).toBe(0);
  // The rerun continued the run the first attempt left RUNNING (same S3 prefix, files skipped).
  expect((again.json[0] as { run_id: string }).run_id).toBe(state.runId);
  await expectMirrored(name, workDir, state.runId);
}, 150_000);
