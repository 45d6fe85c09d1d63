// upload against the bench's real SeaweedFS (getPeers().s3): no mocks.
import { DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { sha256Hex } from '../../steps/common/hash';
import { MANIFEST_SCHEMA_VERSION, writeManifest, type Manifest } from '../../steps/common/manifest';
import { artifactKeyFor } from '../../steps/mlflow/transformers-layout';
import { createS3Client } from '../../steps/s3/client';
import { MiB } from '../../steps/s3/upload-file';
import { uploadModel } from '../../steps/s3/upload-model';
import { getPeers, type S3Peer } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';

let s3: S3Peer;
let client: S3Client;
let src: string;
let manifest: Manifest;
const BIG = 'weights/model-00001-of-00001.safetensors';

beforeAll(async () => {
  s3 = getPeers().s3;
  client = createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  // A small model dir: a multipart-sized file (> 16 MiB), small files, an empty file.
  src = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-up-it-'));
  const files: Record<string, Buffer> = {
    'config.json': Buffer.from('{"model_type":"gpt2"}\n'),
    'README.md': Buffer.from('# test\n'),
    'empty.txt': Buffer.alloc(0),
    [BIG]: randomBytes(40 * MiB + 12345),
  };
  for (const [p, data] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(src, p)), { recursive: true });
    await fs.writeFile(path.join(src, p), data);
  }
  const list = Object.entries(files).map(([p, data]) => ({ path: p, size: data.length, sha256: sha256Hex(data), lfs: data.length > 1000 }));
  manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    repo: 'test/upload-model',
    requestedRevision: 'main',
    commitSha: 'a'.repeat(40),
    hubUrl: 'http://hub.invalid',
    files: list,
    totalBytes: list.reduce((n, f) => n + f.size, 0),
    fileCount: list.length,
    createdAt: new Date().toISOString(),
  };
  await writeManifest(src, manifest);
});

afterAll(async () => {
  client?.destroy();
  if (src) await fs.rm(src, { recursive: true, force: true });
});

function creds() {
  return { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
}

function freshPrefix(): string {
  return `it-upload/${Date.now()}-${randomBytes(4).toString('hex')}`;
}

async function listKeys(prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const res = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
  for (const o of res.Contents ?? []) out.set(o.Key!, o.Size!);
  return out;
}


test('uploads every file + the manifest in the MLflow layout; sizes and sha256 metadata match; multipart for the big file', async () => {
  const prefix = freshPrefix();
  const out = path.join(src, '..', `${path.basename(src)}-out`);
  const r = await cli(['upload', '--source', src, '--dest', `s3://${s3.bucket}/${prefix}`, '--s3-endpoint', s3.endpoint, '--region', s3.region, '--output-dir', out], {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  expect(r.stderr).not.toMatch(/ERROR|internal error/);
  expect(r.code).toBe(0);
  const keys = await listKeys(prefix);
  expect(keys.size).toBe(manifest.files.length + 1);
  for (const f of manifest.files) {
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${artifactKeyFor(f.path)}` }));
    expect(head.ContentLength).toBe(f.size);
    expect(head.Metadata?.sha256).toBe(f.sha256);
    expect(head.Metadata?.['source-repo']).toBe('test/upload-model');
    expect(head.Metadata?.['source-commit']).toBe('a'.repeat(40));
  }
  const bigHead = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${artifactKeyFor(BIG)}` }));
  expect(bigHead.ETag).toMatch(/-\d+"?$/); // multipart ETag: "<md5>-<parts>"
  const mHead = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/mirror-manifest.json` }));
  expect(mHead.Metadata?.sha256).toBe(sha256Hex(await fs.readFile(path.join(src, 'mirror-manifest.json'))));
  expect(await fs.readFile(path.join(out, 'objects_uploaded'), 'utf8')).toBe(String(manifest.files.length + 1));
  expect(await fs.readFile(path.join(out, 'objects_skipped'), 'utf8')).toBe('0');
  expect(Number(await fs.readFile(path.join(out, 'bytes_uploaded'), 'utf8'))).toBeGreaterThan(manifest.totalBytes);
  await fs.rm(out, { recursive: true, force: true });
});

test('a rerun after a partial upload moves only the missing objects', async () => {
  const prefix = freshPrefix();
  const dest = `s3://${s3.bucket}/${prefix}`;
  const first = await uploadModel({ source: src, dest, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none' });
  expect(first.objectsUploaded).toBe(manifest.files.length + 1);
  // Lose two objects (as if the first run died), then rerun.
  await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${BIG}` }));
  await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/README.md` }));
  const second = await uploadModel({ source: src, dest, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none' });
  expect(second.objectsUploaded).toBe(2);
  expect(second.objectsSkipped).toBe(manifest.files.length - 1);
  expect(second.bytesUploaded).toBe([...manifest.files].find((f) => f.path === BIG)!.size + [...manifest.files].find((f) => f.path === 'README.md')!.size);
  const third = await uploadModel({ source: src, dest, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none' });
  expect(third.objectsUploaded).toBe(0);
  expect(third.bytesUploaded).toBe(0);
});

test('an upload aborted mid-way leaves no object under the final key; its multipart upload stays open and the rerun resumes it', async () => {
  const prefix = freshPrefix();
  const dest = `s3://${s3.bucket}/${prefix}`;
  const controller = new AbortController();
  // Abort once the big file's multipart upload holds a part (mid-file).
  let sawPart = false;
  const poll = (async () => {
    while (!controller.signal.aborted) {
      const open = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
      const upload = (open.Uploads ?? [])[0];
      if (upload) {
        const parts = await client.send(new ListPartsCommand({ Bucket: s3.bucket, Key: upload.Key, UploadId: upload.UploadId }));
        if ((parts.Parts ?? []).length > 0) {
          sawPart = true;
          controller.abort();
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await expect(uploadModel({
    source: src, dest, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none',
    concurrency: 1, partConcurrency: 1, partSize: 5 * MiB, signal: controller.signal,
  })).rejects.toBeDefined();
  controller.abort();
  await poll;
  expect(sawPart).toBe(true);
  const keys = await listKeys(prefix);
  expect(keys.has(`${prefix}/${artifactKeyFor(BIG)}`)).toBe(false);
  expect(keys.has(`${prefix}/mirror-manifest.json`)).toBe(false);
  const mpu = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
  expect(mpu.Uploads ?? []).toHaveLength(1);
  const rerun = await uploadModel({ source: src, dest, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none', partSize: 5 * MiB });
  expect(rerun.objectsUploaded + rerun.objectsSkipped).toBe(manifest.files.length + 1);
  expect(rerun.bytesResumed).toBeGreaterThanOrEqual(5 * MiB);
  expect(rerun.bytesUploaded + rerun.bytesResumed + rerun.bytesSkipped).toBe(manifest.totalBytes + (await fs.stat(path.join(src, 'mirror-manifest.json'))).size);
  expect((await listKeys(prefix)).size).toBe(manifest.files.length + 1);
  expect((await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${prefix}/` }))).Uploads ?? []).toEqual([]);
});

test('a file changed since download is refused with Integrity and not left in S3', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-up-changed-'));
  try {
    const data = Buffer.from('original');
    await fs.writeFile(path.join(dir, 'a.txt'), 'tampered'); // same length, different bytes
    await writeManifest(dir, { ...manifest, files: [{ path: 'a.txt', size: data.length, sha256: sha256Hex(data), lfs: false }], totalBytes: data.length, fileCount: 1 });
    const prefix = freshPrefix();
    await expect(uploadModel({ source: dir, dest: `s3://${s3.bucket}/${prefix}`, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none' }))
      .rejects.toMatchObject({ exitCode: ExitCode.Integrity });
    expect((await listKeys(prefix)).size).toBe(0);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('every file is checked before anything is sent: a missing file or one of another size fails with nothing in S3', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-up-local-'));
  try {
    const bodies = ['aaaa', 'bbbbbbbb', 'cc'].map((t) => Buffer.from(t));
    const names = ['one.txt', 'sub/two.txt', 'three.txt'];
    await fs.mkdir(path.join(dir, 'sub'));
    for (let i = 0; i < 2; i++) await fs.writeFile(path.join(dir, names[i]), bodies[i]); // three.txt is missing
    const files = names.map((p, i) => ({ path: p, size: bodies[i].length, sha256: sha256Hex(bodies[i]), lfs: false }));
    await writeManifest(dir, { ...manifest, files, totalBytes: 14, fileCount: 3 });
    const upload = (prefix: string) => uploadModel({ source: dir, dest: `s3://${s3.bucket}/${prefix}`, endpoint: s3.endpoint, region: s3.region, credentials: creds(), progress: 'none' });
    const missing = freshPrefix();
    await expect(upload(missing)).rejects.toMatchObject({ exitCode: ExitCode.NotFound, message: expect.stringContaining('three.txt is listed in the manifest but missing') });
    expect((await listKeys(missing)).size).toBe(0);
    // Present now, but shorter than the manifest says.
    await fs.writeFile(path.join(dir, 'three.txt'), 'c');
    const short = freshPrefix();
    await expect(upload(short)).rejects.toMatchObject({ exitCode: ExitCode.Integrity, message: expect.stringContaining('three.txt is 1 bytes but the manifest says 2') });
    expect((await listKeys(short)).size).toBe(0);
    await fs.writeFile(path.join(dir, 'three.txt'), bodies[2]);
    const ok = await upload(freshPrefix());
    expect(ok.objectsUploaded).toBe(4);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe('clear errors through the CLI', () => {
  test('wrong secret -> Auth', async () => {
    const r = await cli(['upload', '--source', src, '--dest', `s3://${s3.bucket}/${freshPrefix()}`, '--s3-endpoint', s3.endpoint], {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'definitely-not-the-secret',
    });
    expect(r.code).toBe(ExitCode.Auth);
    expect(r.stderr).toMatch(/rejected the credentials \((SignatureDoesNotMatch|InvalidAccessKeyId)\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('definitely-not-the-secret');
  });
  test('unknown access key -> Auth', async () => {
    const r = await cli(['upload', '--source', src, '--dest', `s3://${s3.bucket}/${freshPrefix()}`, '--s3-endpoint', s3.endpoint], {
      AWS_ACCESS_KEY_ID: 'NOSUCHKEY0000000',
      AWS_SECRET_ACCESS_KEY: 'whatever-secret',
    });
    expect(r.code).toBe(ExitCode.Auth);
  });
  test('missing bucket -> NotFound naming the bucket', async () => {
    const r = await cli(['upload', '--source', src, '--dest', 's3://no-such-bucket-mm/x', '--s3-endpoint', s3.endpoint], {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    expect(r.code).toBe(ExitCode.NotFound);
    expect(r.stderr).toMatch(/bucket "no-such-bucket-mm" does not exist/);
  });
  test('unreachable endpoint -> Unavailable naming the endpoint', async () => {
    const r = await cli(['upload', '--source', src, '--dest', `s3://${s3.bucket}/x`, '--s3-endpoint', 'http://127.0.0.1:1'], {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      // A short restart budget (the default waits 3 minutes for the store to come back).
      MODEL_MIRROR_UNAVAILABLE_TIMEOUT: '2',
    });
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stderr).toMatch(/Cannot reach S3 at http:\/\/127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/--unavailable-timeout 2\)/);
  });
  test('bad destination -> Usage', async () => {
    const r = await cli(['upload', '--source', src, '--dest', 'mlflow/x', '--s3-endpoint', s3.endpoint], {});
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(/Invalid S3 destination/);
  });
});
