// Streaming multipart, resume of interrupted uploads and the shared part budget, against the
// bench's real SeaweedFS (no mocks).
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256Hex } from '../../steps/common/hash';
import { MANIFEST_SCHEMA_VERSION, writeManifest } from '../../steps/common/manifest';
import { createS3Client } from '../../steps/s3/client';
import { PartBudget } from '../../steps/s3/part-budget';
import { MiB, uploadFile } from '../../steps/s3/upload-file';
import { uploadModel } from '../../steps/s3/upload-model';
import { getPeers, type S3Peer } from '../peers/peers';

let s3: S3Peer;
let client: S3Client;
let dir: string;
const PART = 5 * MiB;
/** 7 full parts and a short last one. */
const data = randomBytes(7 * PART + 123_457);
const sha = sha256Hex(data);
let file: string;

beforeAll(async () => {
  s3 = getPeers().s3;
  client = createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-up-resume-'));
  file = path.join(dir, 'big.bin');
  await fs.writeFile(file, data);
});

afterAll(async () => {
  client?.destroy();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

function freshKey(name = 'big.bin'): string {
  return `it-upload-resume/${Date.now()}-${randomBytes(4).toString('hex')}/${name}`;
}

async function getBytes(key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function openUploads(key: string) {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: key }));
  return (r.Uploads ?? []).filter((u) => u.Key === key);
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const part = (n: number) => data.subarray((n - 1) * PART, Math.min(data.length, n * PART));
const base = () => ({ client, bucket: s3.bucket, filePath: file, size: data.length, sha256: sha, partSize: PART, metadata: { 'source-repo': 'test/resume' } });

test('SeaweedFS lists open uploads by prefix and parts with their size and MD5 ETag, as resume assumes', async () => {
  const key = freshKey();
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
  await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${key}.other` }));
  for (const n of [1, 3]) await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: created.UploadId, PartNumber: n, Body: part(n) }));
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: key }));
  expect((uploads.Uploads ?? []).map((u) => u.Key).sort()).toEqual([key, `${key}.other`]);
  expect(uploads.Uploads!.find((u) => u.Key === key)!.UploadId).toBe(created.UploadId);
  const parts = await client.send(new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId: created.UploadId }));
  expect((parts.Parts ?? []).map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
    [1, PART, `"${md5(part(1))}"`],
    [3, PART, `"${md5(part(3))}"`],
  ]);
});

test('streams a multi-part file with 5 MiB parts; the object is byte-identical and carries the metadata', async () => {
  const key = freshKey();
  const budget = new PartBudget(3);
  const r = await uploadFile({ ...base(), key, budget });
  expect(r).toMatchObject({ multipart: true, bytesSent: data.length, bytesResumed: 0 });
  expect(budget.peak).toBe(3);
  expect(sha256Hex(await getBytes(key))).toBe(sha);
  const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
  expect(head.Metadata).toMatchObject({ sha256: sha, 'source-repo': 'test/resume' });
  expect(head.ETag).toMatch(/-8"?$/);
});

test('an upload interrupted mid-way stays open; the rerun sends only the missing parts', async () => {
  const key = freshKey();
  const controller = new AbortController();
  let done = 0;
  await expect(uploadFile({
    ...base(), key, queueSize: 1, signal: controller.signal,
    onProgress: (d) => {
      done += d;
      if (done >= 3 * PART) controller.abort(new Error('interrupted'));
    },
  })).rejects.toThrow('interrupted');
  expect(await openUploads(key)).toHaveLength(1);
  const listed = await client.send(new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId: (await openUploads(key))[0].UploadId }));
  const partsThere = (listed.Parts ?? []).length;
  expect(partsThere).toBeGreaterThanOrEqual(3);

  const progress: number[] = [];
  const r = await uploadFile({ ...base(), key, onProgress: (d) => progress.push(d) });
  expect(r.bytesResumed).toBe(partsThere * PART);
  expect(r.bytesSent).toBe(data.length - partsThere * PART);
  expect(progress.reduce((a, b) => a + b, 0)).toBe(data.length);
  expect(sha256Hex(await getBytes(key))).toBe(sha);
  expect(await openUploads(key)).toHaveLength(0);
});

test('parts left by another process are reused only when their MD5 matches the local bytes; stale uploads are aborted', async () => {
  const key = freshKey();
  // An older upload (stale), then the newest one with parts 1, 2 right and part 4 wrong.
  const older = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key, Metadata: { sha256: sha, 'source-repo': 'test/resume' } }));
  await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: older.UploadId, PartNumber: 5, Body: part(5) }));
  await new Promise((r) => setTimeout(r, 1100)); // Initiated has a 1 s resolution
  const newest = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key, Metadata: { sha256: sha, 'source-repo': 'test/resume' } }));
  for (const n of [1, 2]) await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: newest.UploadId, PartNumber: n, Body: part(n) }));
  await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: newest.UploadId, PartNumber: 4, Body: randomBytes(PART) }));

  const r = await uploadFile({ ...base(), key });
  expect(r.bytesResumed).toBe(2 * PART);
  expect(r.bytesSent).toBe(data.length - 2 * PART);
  expect(sha256Hex(await getBytes(key))).toBe(sha);
  expect(await openUploads(key)).toHaveLength(0);
});

test('an open upload whose parts all differ from the local bytes is not reused', async () => {
  const key = freshKey();
  const stale = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key, Metadata: { sha256: sha } }));
  for (const n of [1, 2, 3]) await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: stale.UploadId, PartNumber: n, Body: randomBytes(PART) }));
  const r = await uploadFile({ ...base(), key });
  expect(r).toMatchObject({ bytesResumed: 0, bytesSent: data.length });
  expect(sha256Hex(await getBytes(key))).toBe(sha);
  expect(await openUploads(key)).toHaveLength(0);
});

test('a resumed upload created with other metadata is redone after Complete', async () => {
  const key = freshKey();
  const other = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key, Metadata: { sha256: 'f'.repeat(64), 'source-repo': 'test/resume' } }));
  for (const n of [1, 2]) await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId: other.UploadId, PartNumber: n, Body: part(n) }));
  const r = await uploadFile({ ...base(), key });
  expect(r.bytesResumed).toBe(0);
  expect(r.bytesSent).toBe(data.length + (data.length - 2 * PART));
  const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
  expect(head.Metadata?.sha256).toBe(sha);
  expect(sha256Hex(await getBytes(key))).toBe(sha);
});

test('a file that changed since download aborts its multipart upload (permanent failure)', async () => {
  const key = freshKey();
  await expect(uploadFile({ ...base(), key, sha256: 'e'.repeat(64) })).rejects.toMatchObject({ exitCode: 6 });
  expect(await openUploads(key)).toHaveLength(0);
  await expect(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).rejects.toBeDefined();
});

test('uploadModel: one budget bounds the parts in flight across all files; a killed-and-rerun upload counts only the bytes it sent', async () => {
  const model = path.join(dir, 'model');
  await fs.mkdir(model, { recursive: true });
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 4; i++) files[`shard-${i}.safetensors`] = randomBytes(3 * PART + i * 1000);
  files['config.json'] = Buffer.from('{}');
  for (const [p, b] of Object.entries(files)) await fs.writeFile(path.join(model, p), b);
  const list = Object.entries(files).map(([p, b]) => ({ path: p, size: b.length, sha256: sha256Hex(b), lfs: b.length > 100 }));
  const totalBytes = list.reduce((n, f) => n + f.size, 0);
  await writeManifest(model, {
    schemaVersion: MANIFEST_SCHEMA_VERSION, repo: 'test/budget', requestedRevision: 'main', commitSha: 'b'.repeat(40), hubUrl: 'http://hub.invalid',
    files: list, totalBytes, fileCount: list.length, createdAt: new Date().toISOString(),
  });

  let inFlight = 0;
  let maxInFlight = 0;
  let bodies = 0;
  // Bytes of the bodies S3 accepted before the kill. Which six finish first depends on the
  // scheduling: a 1000-byte last part or config.json can be among them.
  let storedBeforeKill = 0;
  const controller = new AbortController();
  const counting = {
    config: client.config,
    send: async (command: { constructor: { name: string }; input?: { ContentLength?: number } }, options?: unknown) => {
      const withBody = command.constructor.name === 'UploadPartCommand' || command.constructor.name === 'PutObjectCommand';
      if (withBody) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
      }
      let ok = false;
      try {
        const out = await (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
        ok = true;
        return out;
      } finally {
        if (withBody) {
          inFlight--;
          if (ok && !controller.signal.aborted) storedBeforeKill += command.input?.ContentLength ?? 0;
          if (++bodies === 6) controller.abort(new Error('killed'));
        }
      }
    },
  } as unknown as S3Client;
  const dest = `s3://${s3.bucket}/${freshKey('model')}`;
  const opts = { source: model, dest, client: counting, concurrency: 4, partConcurrency: 3, partSize: PART, progress: 'none' as const };
  await expect(uploadModel({ ...opts, signal: controller.signal })).rejects.toThrow('killed');
  expect(maxInFlight).toBe(3);

  maxInFlight = 0;
  const r = await uploadModel(opts);
  expect(maxInFlight).toBeLessThanOrEqual(3);
  // What S3 accepted before the kill is not sent again: whole objects (skipped) or parts (resumed).
  expect(storedBeforeKill).toBeGreaterThanOrEqual(3 * PART);
  expect(r.bytesResumed + r.bytesSkipped).toBeGreaterThanOrEqual(storedBeforeKill);
  expect(r.bytesResumed).toBeGreaterThan(0);
  expect(r.bytesUploaded + r.bytesResumed + r.bytesSkipped).toBe(totalBytes + r.manifestObject.size);
  for (const [p, b] of Object.entries(files)) expect(sha256Hex(await getBytes(`${dest.slice(`s3://${s3.bucket}/`.length)}/${p}`))).toBe(sha256Hex(b));
});
