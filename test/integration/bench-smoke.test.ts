// Proves the bench's peers are the real thing: MLflow on PostgreSQL with artifacts in SeaweedFS,
// and SeaweedFS checking S3 signatures and permissions. Then runs the bench's WAN profile
// (`npm run bench -- --network wan`, bench/wan/) at a tiny scale against these peers.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { CACHE_DIR, getPeers, Peers, PEERS_FILE, REPO_ROOT } from '../peers/peers';
import { runWan } from '../../bench/wan/run-wan';
import { wanReport } from '../../bench/wan/report';
import { startShapedProxy } from '../../bench/wan/shaped-proxy';

let peers: Peers;
const clients: S3Client[] = [];

function s3(accessKeyId: string, secretAccessKey: string): S3Client {
  const c = new S3Client({
    endpoint: peers.s3.endpoint,
    region: peers.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

async function mlflowPost<T>(api: string, body: unknown): Promise<T> {
  const res = await fetch(`${peers.mlflow.url}/api/2.0/mlflow/${api}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`MLflow ${api} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** GET with an explicit Host header (fetch would always send the URL's host). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function psql(sql: string): string {
  const res = spawnSync(path.join(peers.tools.pgBin, 'psql'), [peers.postgres.url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
  return res.stdout.trim();
}

async function s3Error(p: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the S3 request to be refused, but it succeeded');
}

beforeAll(() => {
  peers = getPeers();
});

afterAll(() => {
  for (const c of clients) c.destroy();
});

describe('test bench peers', () => {
  const suffix = `${Date.now()}-${process.pid}`;

  test("this jest run reads its own bench's peers file", () => {
    // globalSetup exports MODEL_MIRROR_PEERS_FILE=.peers/runs/<jest pid>/peers.json; tests run in
    // that process (in band) or in workers it forked.
    expect(PEERS_FILE).toBe(process.env.MODEL_MIRROR_PEERS_FILE);
    const owner = Number(path.basename(path.dirname(PEERS_FILE)));
    expect([process.pid, process.ppid]).toContain(owner);
    expect(peers.logDir.endsWith(`-${owner}`)).toBe(true);
  });

  test('all peers listen on loopback only', () => {
    for (const url of [peers.mlflow.url, peers.s3.endpoint]) expect(new URL(url).hostname).toBe('127.0.0.1');
    expect(new URL(peers.postgres.url).hostname).toBe('127.0.0.1');
    expect(peers.mlflow.artifactRoot).toBe(`s3://${peers.s3.bucket}/artifacts`);
  });

  test('MLflow runs get artifact URIs in the SeaweedFS bucket, and PostgreSQL holds its tables', async () => {
    const name = `bench-smoke-${suffix}`;
    const { experiment_id: experimentId } = await mlflowPost<{ experiment_id: string }>('experiments/create', { name });
    const { run } = await mlflowPost<{ run: { info: { artifact_uri: string; run_id: string } } }>('runs/create', {
      experiment_id: experimentId,
      start_time: Date.now(),
    });
    expect(run.info.artifact_uri.startsWith(`s3://${peers.s3.bucket}/artifacts/`)).toBe(true);
    expect(run.info.artifact_uri).toContain(run.info.run_id);

    // The same experiment and run, read straight from MLflow's PostgreSQL backend.
    expect(psql(`SELECT name FROM experiments WHERE experiment_id = ${Number(experimentId)}`)).toBe(name);
    expect(psql(`SELECT artifact_uri FROM runs WHERE run_uuid = '${run.info.run_id.replace(/'/g, '')}'`)).toBe(run.info.artifact_uri);
    expect(psql('SELECT count(*) FROM alembic_version')).toBe('1');
  });

  test('MLflow answers allowed Host headers and refuses others', async () => {
    const port = new URL(peers.mlflow.url).port;
    expect((await getWithHost(`${peers.mlflow.url}/health`, `127.0.0.1:${port}`)).status).toBe(200);
    expect((await getWithHost(`${peers.mlflow.url}/health`, `localhost:${port}`)).status).toBe(200);
    const search = `${peers.mlflow.url}/api/2.0/mlflow/experiments/search?max_results=1`;
    expect((await getWithHost(search, `127.0.0.1:${port}`)).status).toBe(200);
    expect((await getWithHost(search, 'evil.example.com')).status).toBe(403);
    // Patterns are fnmatch'ed against the whole Host header: `127.0.0.1:*` does not cover a
    // Host without a port (what clients send for port 80).
    expect((await getWithHost(search, '127.0.0.1')).status).toBe(403);
    // /health and /version skip the check (so kubelet probes with Host <pod IP>:<port> pass).
    expect((await getWithHost(`${peers.mlflow.url}/health`, 'evil.example.com')).status).toBe(200);
  });

  test('SeaweedFS stores and returns objects for the admin identity', async () => {
    const admin = s3(peers.s3.accessKeyId, peers.s3.secretAccessKey);
    const key = `bench-smoke/${suffix}.txt`;
    await admin.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: key, Body: 'hello bench' }));
    const got = await admin.send(new GetObjectCommand({ Bucket: peers.s3.bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe('hello bench');
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket, Prefix: 'bench-smoke/' }));
    expect(listed.Contents?.map((o) => o.Key)).toContain(key);
  });

  test("SeaweedFS checks the SDK's default CRC32 request checksums", async () => {
    // @aws-sdk/client-s3 >= 3.729 sends x-amz-checksum-crc32 by default; SeaweedFS verifies it.
    const admin = s3(peers.s3.accessKeyId, peers.s3.secretAccessKey);
    const bad = await s3Error(admin.send(new PutObjectCommand({
      Bucket: peers.s3.bucket, Key: `bench-smoke/${suffix}-crc`, Body: 'hello', ChecksumCRC32: 'AAAAAA==',
    })));
    expect(bad).toEqual({ name: 'BadDigest', status: 400 });
  });

  test('SeaweedFS refuses a wrong secret and an unknown access key', async () => {
    const wrongSecret = s3(peers.s3.accessKeyId, `${peers.s3.secretAccessKey}x`);
    const e1 = await s3Error(wrongSecret.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: `bench-smoke/${suffix}-bad`, Body: 'x' })));
    expect(e1).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });
    const e2 = await s3Error(wrongSecret.send(new GetObjectCommand({ Bucket: peers.s3.bucket, Key: 'anything' })));
    expect(e2).toEqual({ name: 'SignatureDoesNotMatch', status: 403 });

    const unknown = s3('NOSUCHKEY0000000', peers.s3.secretAccessKey);
    const e3 = await s3Error(unknown.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket })));
    expect(e3).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
  });

  test('the read-only identity can read but not write', async () => {
    const admin = s3(peers.s3.accessKeyId, peers.s3.secretAccessKey);
    const ro = s3(peers.s3.readOnlyAccessKeyId, peers.s3.readOnlySecretAccessKey);
    const key = `bench-smoke/${suffix}-ro.txt`;
    await admin.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: key, Body: 'readable' }));
    const got = await ro.send(new GetObjectCommand({ Bucket: peers.s3.bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe('readable');

    const denied = await s3Error(ro.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: `bench-smoke/${suffix}-ro-put`, Body: 'no' })));
    expect(denied).toEqual({ name: 'AccessDenied', status: 403 });
  });
});

describe('bench WAN profile (--network wan) at a tiny scale', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wan-smoke-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the shaped S3 proxy forwards signed requests and holds uploads to its total cap', async () => {
    const proxy = await startShapedProxy({ upstream: peers.s3.endpoint, shaping: { totalBytesPerSec: 2_000_000, firstByteDelayMs: 20 } });
    try {
      const c = new S3Client({
        endpoint: proxy.url, region: peers.s3.region, forcePathStyle: true, maxAttempts: 1,
        credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey },
      });
      clients.push(c);
      const key = `bench-smoke/wan-proxy-${Date.now()}.bin`;
      const body = Buffer.alloc(3_000_000, 7);
      const t0 = performance.now();
      await c.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: key, Body: body }));
      const seconds = (performance.now() - t0) / 1000;
      // 3 MB at 2 MB/s: about 1.5 s (without the proxy's shaping, loopback takes a few ms).
      expect(seconds).toBeGreaterThanOrEqual(1.2);
      expect(proxy.bytes().up).toBeGreaterThanOrEqual(body.length);
      const got = await c.send(new GetObjectCommand({ Bucket: peers.s3.bucket, Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      await c.send(new DeleteObjectCommand({ Bucket: peers.s3.bucket, Key: key }));
    } finally {
      await proxy.close();
    }
  });

  test('every tool runs through the shaped fixture and proxy, and a 2 MB file at 1 MB/s per connection takes >= 1.5 s', async () => {
    const bundle = path.join(tmp, 'cli', 'model-mirror.js');
    execFileSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    const rcloneBin = path.join(CACHE_DIR, 'bin', 'rclone'); // test/peers/install.d/rclone.sh
    const logDir = path.join(tmp, 'logs');
    fs.mkdirSync(logDir);
    const s3 = s3Admin();
    const result = await runWan({
      bundle, peers, s3, work: tmp, logDir, scale: 'tiny', scenarios: ['a'], stamp: `smoke-${Date.now()}`,
      rclone: fs.existsSync(rcloneBin) ? rcloneBin : undefined,
      fixtureShaping: { perConnectionBytesPerSec: 1_000_000, totalBytesPerSec: 4_000_000, firstByteDelayMs: 5 },
      proxyShaping: { totalBytesPerSec: 8_000_000, firstByteDelayMs: 5 },
      cleanArtifacts: false, // the shared bench: other files' objects live under artifacts/ too
    });
    const logs = () => fs.readdirSync(logDir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(logDir, f), 'utf8').slice(-2000)}`).join('\n');
    const failed = result.rows.filter((r) => !r.ok);
    if (failed.length) throw new Error(`failed: ${failed.map((r) => r.tool).join(', ')}\n${logs()}`);
    const tools = result.rows.map((r) => r.tool);
    expect(tools).toEqual(expect.arrayContaining(['mm-download', 'mm-upload', 'py-download', 'py-upload', 'mm-mirror']));
    expect(tools.includes('rclone')).toBe(fs.existsSync(rcloneBin));
    // One stream, one 2 MB file, 1 MB/s per connection: the shaping must show in the wall time.
    for (const tool of ['mm-download', 'py-download', 'mm-mirror'] as const) {
      const row = result.rows.find((r) => r.tool === tool)!;
      expect(row.bytes).toBeGreaterThanOrEqual(2_000_000);
      expect(row.seconds).toBeGreaterThanOrEqual(1.5);
    }
    // The stand-ins for the remote side run in processes of their own and report what they spent.
    for (const row of result.rows) {
      expect(row.peerCpuSeconds!.hub).toBeGreaterThanOrEqual(0);
      expect(row.peerCpuSeconds!.proxy).toBeGreaterThanOrEqual(0);
      expect(row.boxBusy).toBeGreaterThan(0);
      expect(row.boxBusy).toBeLessThanOrEqual(1);
    }
    // The fixture served the download's bytes, so it used some CPU; the proxy carried the upload's.
    expect(result.rows.find((r) => r.tool === 'mm-download')!.peerCpuSeconds!.hub).toBeGreaterThan(0);
    expect(result.rows.find((r) => r.tool === 'mm-upload')!.peerCpuSeconds!.proxy).toBeGreaterThan(0);
    // The control: the same download unshaped must be clearly faster (so process start-up on a busy box
    // cannot pass for shaping).
    // The fastest of up to three: one control run on a box busy with the other test files took
    // as long as the shaped run.
    const shaped = result.rows.find((r) => r.tool === 'mm-download')!;
    let controlSeconds = Infinity;
    for (let i = 0; i < 3 && shaped.seconds - controlSeconds < 1.2; i++) {
      const control = await runWan({
        bundle, peers, s3, work: tmp, logDir, scale: 'tiny', scenarios: ['a'], stamp: `smoke-ctl-${Date.now()}`, tools: ['mm-download'],
        fixtureShaping: { perConnectionBytesPerSec: 0, totalBytesPerSec: 0, firstByteDelayMs: 0 }, cleanArtifacts: false,
      });
      expect(control.rows[0].ok).toBe(true);
      controlSeconds = Math.min(controlSeconds, control.rows[0].seconds);
    }
    expect(shaped.seconds - controlSeconds).toBeGreaterThanOrEqual(1.2);
    const md = wanReport({ ...result, scale: 'tiny', facts: { cpus: os.cpus().length }, minutes: 0, logDir });
    expect(md).toContain('## Targets (WAN)');
    expect(md).toContain('| peers CPU s | box busy |');
    expect(md).toContain('per connection 1.0 MB/s, total 4.0 MB/s, first-byte delay 5 ms');
  }, 300_000);
});

function s3Admin(): S3Client {
  return s3(peers.s3.accessKeyId, peers.s3.secretAccessKey);
}
