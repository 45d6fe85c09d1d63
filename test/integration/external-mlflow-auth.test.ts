// An external MLflow with authentication (mlflow.external with auth: basic): the real MLflow
// 3.17.2 started with `--app-name basic-auth`, its backend store URL given only through the
// environment (MLFLOW_BACKEND_STORE_URI, as the synthesized Deployment does). The steps send
// MLFLOW_TRACKING_USERNAME/PASSWORD as Basic auth: wrong or missing credentials end with exit
// 4 and a clear message, right ones mirror.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DB_UPGRADE_SCRIPT } from '../../lib/mlflow/db-upgrade';
import { mlflowServerArgs } from '../../lib/mlflow/server-args';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion, searchModelVersions } from '../../steps/mlflow/registry';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, PEERS_FILE, type Peers } from '../peers/peers';
import { freePorts } from '../peers/ports';
import { PeerProcess, setPidsFile } from '../peers/process';
import { runCli as cli } from '../support/run-cli';

const ADMIN = { username: 'mirror-admin', password: 'right-password-0123456789' };
let peers: Peers;
let hub: StartedHubFixture;
let dir: string;
let server: PeerProcess;
let url: string;
let backendStoreUri: string;
const savedEnv = { ...process.env };
const suffix = Date.now().toString(36);

beforeAll(async () => {
  peers = getPeers();
  // This run's pids file: the bench's watchdog stops this server too if jest dies.
  setPidsFile(path.join(path.dirname(PEERS_FILE), 'pids'));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-auth-mlflow-'));
  hub = await startHubFixture();
  const [port] = await freePorts(1);
  url = `http://127.0.0.1:${port}`;
  backendStoreUri = `sqlite:///${path.join(dir, 'mlflow-store-marker.db')}`;
  const authConfig = path.join(dir, 'basic_auth.ini');
  fs.writeFileSync(authConfig, [
    '[mlflow]',
    'default_permission = READ',
    `database_uri = sqlite:///${path.join(dir, 'basic_auth.db')}`,
    `admin_username = ${ADMIN.username}`,
    `admin_password = ${ADMIN.password}`,
    'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
    '',
  ].join('\n'));
  server = new PeerProcess({
    name: 'mlflow-basic-auth',
    cmd: peers.tools.mlflow,
    // No backendStoreUri: MLflow must read MLFLOW_BACKEND_STORE_URI from its environment.
    args: mlflowServerArgs({
      host: '127.0.0.1', port, defaultArtifactRoot: `s3://${peers.s3.bucket}/auth-artifacts`,
      allowedHosts: ['127.0.0.1:*', 'localhost:*'], workers: 1, extraArgs: ['--app-name', 'basic-auth'],
    }),
    cwd: dir,
    env: {
      PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: dir,
      MLFLOW_BACKEND_STORE_URI: backendStoreUri,
      MLFLOW_AUTH_CONFIG_PATH: authConfig,
      MLFLOW_FLASK_SERVER_SECRET_KEY: 'test-only-csrf-secret',
      MLFLOW_S3_ENDPOINT_URL: peers.s3.endpoint, AWS_ACCESS_KEY_ID: peers.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey,
      AWS_DEFAULT_REGION: peers.s3.region, AWS_EC2_METADATA_DISABLED: 'true',
      MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true', PYTHONUNBUFFERED: '1', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    },
    logFile: path.join(peers.logDir, 'mlflow-basic-auth.log'),
    port,
  });
  await server.waitUntil(`${url}/health to answer 200`, async () => (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })).status === 200, 120_000);
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH', 'MLFLOW_TRACKING_TOKEN']) delete process.env[k];
  Object.assign(process.env, {
    MLFLOW_TRACKING_URI: url, HF_ENDPOINT: hub.url,
    MLFLOW_S3_ENDPOINT_URL: peers.s3.endpoint, AWS_ACCESS_KEY_ID: peers.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey, AWS_REGION: peers.s3.region,
  });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await hub?.close();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const mirrorArgs = (name: string): string[] => ['mirror', 'test/tiny-model', '--experiment', `auth-exp-${suffix}`, '--model-name', name, '--alias', 'prod', '--work-dir', path.join(dir, `work-${name}`)];

test('the server read its backend store URL from the environment: it is not in its argv', () => {
  const cmdline = fs.readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
  expect(cmdline.join(' ')).toContain('--app-name basic-auth');
  expect(cmdline).not.toContain('--backend-store-uri');
  expect(cmdline.join(' ')).not.toContain('mlflow-store-marker');
  expect(fs.existsSync(path.join(dir, 'mlflow-store-marker.db'))).toBe(true);
});

test('wrong credentials: exit 4 with a clear message, no stack trace, nothing created', async () => {
  const name = `auth-wrong-${suffix}`;
  const res = await cli(mirrorArgs(name), { MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: 'wrong-password-000000' });
  expect(res.code).toBe(4);
  expect(res.stderr).toMatch(/requires authentication \(HTTP 401/);
  expect(res.stderr).toMatch(/The credentials were refused/);
  expect(res.stderr).not.toMatch(/\n\s+at /);
  expect(res.stderr).not.toContain('wrong-password-000000');
  const admin = new MlflowClient({ url, credentials: ADMIN });
  expect(await searchModelVersions(admin, `name='${name}'`)).toEqual([]);
});

test('no credentials: exit 4 saying which variables to set', async () => {
  const res = await cli(mirrorArgs(`auth-none-${suffix}`), { MLFLOW_TRACKING_USERNAME: undefined, MLFLOW_TRACKING_PASSWORD: undefined });
  expect(res.code).toBe(4);
  expect(res.stderr).toMatch(/Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/);
});

test('right credentials: the model is mirrored, READY with its alias', async () => {
  const name = `auth-right-${suffix}`;
  const res = await cli(mirrorArgs(name), { MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password });
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  expect(res.json[0]).toMatchObject({ version: '1', model_uri: `models:/${name}/1` });
  const admin = new MlflowClient({ url, credentials: ADMIN });
  expect(await searchModelVersions(admin, `name='${name}'`)).toHaveLength(1);
  const mv = await getModelVersion(admin, name, '1');
  expect(mv.status).toBe('READY');
  expect(mv.aliases).toEqual(['prod']);
}, 180_000);

test("db-upgrade (the init container's script) reads the URL from the environment and runs MLflow's upgrade", () => {
  const run = (uri: string): ReturnType<typeof spawnSync> => spawnSync(peers.tools.python, ['-c', DB_UPGRADE_SCRIPT], {
    encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: dir, MLFLOW_BACKEND_STORE_URI: uri },
  });
  // The server's database (a current schema): MLflow's own `db upgrade` runs and succeeds.
  const existing = run(backendStoreUri);
  expect({ status: existing.status, stderr: String(existing.stderr).slice(-500) }).toMatchObject({ status: 0 });
  expect(String(existing.stdout)).not.toContain('fresh database');
  // A fresh database is left to the server.
  const fresh = run(`sqlite:///${path.join(dir, 'fresh.db')}`);
  expect(fresh.status).toBe(0);
  expect(String(fresh.stdout)).toContain('fresh database');
  // Without the variable it fails, instead of silently doing nothing.
  expect(spawnSync(peers.tools.python, ['-c', DB_UPGRADE_SCRIPT], { encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: dir } }).status).not.toBe(0);
}, 240_000);
