// s3.auth: podIdentity leaves the pods with no AWS keys in env: the steps must find credentials
// through the AWS SDK's default chain, like IRSA or workload identity provide them. A web
// identity token needs a real STS, so two other sources of the same chain stand in, against the
// real SeaweedFS: a shared credentials file (AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE) and the
// container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, served here on 127.0.0.1).
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';

let peers: Peers;
let hub: StartedHubFixture;
let dir: string;
let modelDir: string;
const suffix = Date.now().toString(36);

/** No key anywhere in env, no ~/.aws, no instance metadata (it would leave loopback). */
function chainEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined, AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'), AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined, AWS_ROLE_ARN: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_S3: undefined,
    MLFLOW_S3_ENDPOINT_URL: peers.s3.endpoint, AWS_REGION: peers.s3.region,
    ...extra,
  };
}

async function objectSize(key: string): Promise<number | undefined> {
  const s3 = new S3Client({ endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: peers.s3.bucket, Key: key }))).ContentLength;
  } catch {
    return undefined;
  } finally {
    s3.destroy();
  }
}

const upload = (prefix: string, env: Record<string, string | undefined>) =>
  cli(['upload', '--source', modelDir, '--dest', `s3://${peers.s3.bucket}/${prefix}`, '--layout', 'verbatim'], env);

beforeAll(async () => {
  peers = getPeers();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-pod-identity-'));
  hub = await startHubFixture();
  modelDir = path.join(dir, 'model');
  const dl = await cli(['download', '--model-id', 'test/tiny-model', '--dest', modelDir, '--hub-url', hub.url]);
  if (dl.code !== 0) throw new Error(`download failed: ${dl.stderr}`);
}, 120_000);

afterAll(async () => {
  await hub?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('control: with no source of credentials at all, upload fails with exit 4', async () => {
  const res = await upload(`pod-identity-none-${suffix}`, chainEnv());
  expect(res.code).toBe(4);
  expect(res.stderr).toMatch(/No S3 credentials found/);
  expect(await objectSize(`pod-identity-none-${suffix}/mirror-manifest.json`)).toBeUndefined();
});

test('a shared credentials file and profile (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE)', async () => {
  const file = path.join(dir, 'credentials');
  fs.writeFileSync(file, `[mirror]\naws_access_key_id = ${peers.s3.accessKeyId}\naws_secret_access_key = ${peers.s3.secretAccessKey}\n`, { mode: 0o600 });
  const prefix = `pod-identity-file-${suffix}`;
  const res = await upload(prefix, chainEnv({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'mirror' }));
  expect(res.stderr).not.toMatch(/^ERROR/m);
  expect(res.code).toBe(0);
  expect(await objectSize(`${prefix}/model.safetensors`)).toBe(fs.statSync(path.join(modelDir, 'model.safetensors')).size);
});

test('the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI on 127.0.0.1, with its authorization token)', async () => {
  const token = 'container-auth-token-0123';
  let served = 0;
  let refused = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/creds' || req.headers.authorization !== token) {
      refused += 1;
      res.writeHead(403).end();
      return;
    }
    served += 1;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({
      AccessKeyId: peers.s3.accessKeyId, SecretAccessKey: peers.s3.secretAccessKey,
      Token: '', Expiration: new Date(Date.now() + 3600_000).toISOString(),
    }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/creds`;
    const prefix = `pod-identity-endpoint-${suffix}`;
    const res = await upload(prefix, chainEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: uri, AWS_CONTAINER_AUTHORIZATION_TOKEN: token }));
    expect(res.stderr).not.toMatch(/^ERROR/m);
    expect(res.code).toBe(0);
    expect(served).toBeGreaterThanOrEqual(1);
    expect(refused).toBe(0);
    expect(await objectSize(`${prefix}/model.safetensors`)).toBe(fs.statSync(path.join(modelDir, 'model.safetensors')).size);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('keys from the chain that SeaweedFS does not know: exit 4, rejected credentials', async () => {
  const file = path.join(dir, 'credentials-wrong');
  fs.writeFileSync(file, '[wrong]\naws_access_key_id = notakey\naws_secret_access_key = notasecret0123456789\n', { mode: 0o600 });
  const res = await upload(`pod-identity-wrong-${suffix}`, chainEnv({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'wrong' }));
  expect(res.code).toBe(4);
  expect(res.stderr).toMatch(/rejected the credentials|denied access/);
});
