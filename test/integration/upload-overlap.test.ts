// uploadModel's overlap mode (`pending`): parts go to the real SeaweedFS while a writer still
// appends to the files through GrowingFile, as the download does in an overlapped `mirror`.
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileTable } from '../../steps/common/file-table';
import { GrowingFile } from '../../steps/common/growing-file';
import { sha256Hex } from '../../steps/common/hash';
import { MANIFEST_SCHEMA_VERSION, writeManifest, type Manifest } from '../../steps/common/manifest';
import { createS3Client } from '../../steps/s3/client';
import { MiB } from '../../steps/s3/upload-file';
import { pendingFilesOf, uploadModel, type PendingFile } from '../../steps/s3/upload-model';
import { getPeers, type S3Peer } from '../peers/peers';

let s3: S3Peer;
let client: S3Client;
let root: string;
const PART = 5 * MiB;
const COMMIT = 'c'.repeat(40);

beforeAll(async () => {
  s3 = getPeers().s3;
  client = createS3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-up-overlap-'));
});

afterAll(async () => {
  client?.destroy();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Spec {
  readonly path: string;
  readonly data: Buffer;
  readonly lfs: boolean;
}

/** A download dir with one GrowingFile per spec; nothing written yet. */
async function setup(specs: readonly Spec[]) {
  const dir = await fs.mkdtemp(path.join(root, 'dl-'));
  const files = specs.map((s) => ({ spec: s, growing: new GrowingFile(path.join(dir, s.path), s.data.length) }));
  const pending: PendingFile[] = files.map((f) => ({ path: f.spec.path, size: f.spec.data.length, sha256: f.spec.lfs ? sha256Hex(f.spec.data) : undefined, growing: f.growing }));
  const manifest: Manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION, repo: 'test/overlap', requestedRevision: 'main', commitSha: COMMIT, hubUrl: 'http://hub.invalid',
    files: specs.map((s) => ({ path: s.path, size: s.data.length, sha256: sha256Hex(s.data), lfs: s.lfs })),
    totalBytes: specs.reduce((n, s) => n + s.data.length, 0), fileCount: specs.length, createdAt: new Date().toISOString(),
  };
  return { dir, files, pending, manifest };
}

/** Appends `data` to the part file in `step`-byte writes, reporting each, then renames and completes. */
async function write(g: GrowingFile, data: Buffer, step: number, delayMs: number, from = 0): Promise<void> {
  const fh = await fs.open(g.partPath, from ? 'r+' : 'w');
  try {
    for (let off = from; off < data.length; off += step) {
      const chunk = data.subarray(off, Math.min(data.length, off + step));
      await fh.write(chunk, 0, chunk.length, off);
      g.advanced(off + chunk.length);
      await sleep(delayMs);
    }
  } finally {
    await fh.close();
  }
  await fs.rename(g.partPath, g.path);
  g.completed({ size: data.length, sha256: sha256Hex(data) });
}

/** A client that notes each UploadPart and what was on disk when it was sent. */
function watching(onPart: (input: { Key?: string; PartNumber?: number }) => void): S3Client {
  return {
    config: client.config,
    send: (command: { constructor: { name: string }; input: { Key?: string; PartNumber?: number } }, options?: unknown) => {
      if (command.constructor.name === 'UploadPartCommand') onPart(command.input);
      return (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as S3Client;
}

async function getBytes(key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

function prefix(): string {
  return `it-upload-overlap/${Date.now()}-${randomBytes(4).toString('hex')}`;
}

test('uploads parts while the writer appends; every object and then the manifest arrive intact', async () => {
  const { dir, files, pending, manifest } = await setup([
    { path: 'model-00001.safetensors', data: randomBytes(3 * PART + 1234), lfs: true },
    { path: 'model-00002.safetensors', data: randomBytes(2 * PART + 99), lfs: true },
    { path: 'config.json', data: Buffer.from('{"model_type":"gpt2"}'), lfs: false },
  ]);
  let partsBeforeComplete = 0;
  const s3c = watching((input) => {
    const f = files.find((x) => input.Key!.endsWith(x.spec.path))!;
    if (!f.growing.isComplete) partsBeforeComplete++;
  });
  const manifestWritten = (async () => {
    await Promise.all(files.map((f) => write(f.growing, f.spec.data, MiB, 15)));
    await writeManifest(dir, manifest);
    return manifest;
  })();
  const p = prefix();
  const r = await uploadModel({ source: dir, dest: `s3://${s3.bucket}/${p}`, client: s3c, partSize: PART, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest: manifestWritten } });
  expect(partsBeforeComplete).toBeGreaterThanOrEqual(3);
  expect(r.objectsUploaded).toBe(4);
  expect(r.bytesUploaded).toBe(manifest.totalBytes + (await fs.stat(path.join(dir, 'mirror-manifest.json'))).size);
  for (const f of files) {
    expect(sha256Hex(await getBytes(`${p}/${f.spec.path}`))).toBe(sha256Hex(f.spec.data));
    const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${p}/${f.spec.path}` }));
    expect(head.Metadata).toMatchObject({ sha256: sha256Hex(f.spec.data), 'source-repo': 'test/overlap', 'source-commit': COMMIT });
  }
  expect((await getBytes(`${p}/mirror-manifest.json`)).toString()).toBe(await fs.readFile(path.join(dir, 'mirror-manifest.json'), 'utf8'));
});

test('a part whose bytes are on disk goes before the prefix reaches it (a ranged download fills chunks out of order)', async () => {
  const data = randomBytes(4 * PART);
  const { dir, files, pending, manifest } = await setup([{ path: 'model.safetensors', data, lfs: true }]);
  const g = files[0].growing;
  const sent: Array<{ part: number; prefix: number }> = [];
  let lastPartSent!: () => void;
  const lastPartGone = new Promise<void>((r) => { lastPartSent = r; });
  const s3c = watching((input) => {
    sent.push({ part: input.PartNumber!, prefix: g.bytesAvailable });
    if (input.PartNumber === 4) lastPartSent();
  });
  const manifestWritten = (async () => {
    // The last part's bytes first, as one chunk of a ranged download; the rest only once that
    // part has been sent, so it cannot have waited for the prefix.
    const fh = await fs.open(g.partPath, 'w');
    await fh.write(data, 3 * PART, PART, 3 * PART);
    await fh.close();
    g.filledRange(3 * PART, 4 * PART);
    await Promise.race([lastPartGone, sleep(5000)]); // (an upload that waits for the prefix would wait for ever)
    const rest = await fs.open(g.partPath, 'r+');
    for (let off = 0; off < 3 * PART; off += MiB) {
      await rest.write(data, off, MiB, off);
      g.advanced(off + MiB); // at 3 parts the prefix takes in the range written first
      await sleep(5);
    }
    await rest.close();
    expect(g.bytesAvailable).toBe(data.length);
    await fs.rename(g.partPath, g.path);
    g.completed({ size: data.length, sha256: sha256Hex(data) });
    await writeManifest(dir, manifest);
    return manifest;
  })();
  const p = prefix();
  await uploadModel({ source: dir, dest: `s3://${s3.bucket}/${p}`, client: s3c, partSize: PART, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest: manifestWritten } });
  expect(sent.find((x) => x.part === 4)).toEqual({ part: 4, prefix: 0 });
  expect(sent.map((x) => x.part).sort()).toEqual([1, 2, 3, 4]);
  expect(sha256Hex(await getBytes(`${p}/model.safetensors`))).toBe(sha256Hex(data));
});

test('a file restarted by the writer (reset) is uploaded again from its new bytes', async () => {
  const good = randomBytes(3 * PART + 77);
  const { dir, files, pending, manifest } = await setup([{ path: 'w.safetensors', data: good, lfs: true }]);
  const g = files[0].growing;
  let parts = 0;
  const s3c = watching(() => parts++);
  const manifestWritten = (async () => {
    // Two parts of wrong bytes, one of them uploaded, then the writer throws them away.
    const bad = randomBytes(2 * PART);
    await fs.writeFile(g.partPath, bad);
    g.advanced(bad.length);
    while (parts < 1) await sleep(5);
    await fs.truncate(g.partPath, 0);
    g.reset();
    await write(g, good, 2 * MiB, 5);
    await writeManifest(dir, manifest);
    return manifest;
  })();
  const p = prefix();
  const r = await uploadModel({ source: dir, dest: `s3://${s3.bucket}/${p}`, client: s3c, partSize: PART, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest: manifestWritten } });
  expect(sha256Hex(await getBytes(`${p}/w.safetensors`))).toBe(sha256Hex(good));
  expect(r.bytesUploaded).toBeGreaterThanOrEqual(good.length);
  const open = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${p}/` }));
  expect(open.Uploads ?? []).toEqual([]);
});

test('the download failing stops the upload promptly with the download\'s error; the open multipart upload stays for a resume', async () => {
  const data = randomBytes(4 * PART);
  const { files, pending } = await setup([
    { path: 'a.safetensors', data, lfs: true },
    { path: 'tokenizer.json', data: Buffer.from('{}'), lfs: false },
  ]);
  const g = files[0].growing;
  let parts = 0;
  const s3c = watching(() => parts++);
  const failure = new Error('the Hub went away');
  let unhandled: unknown;
  const onUnhandled = (e: unknown) => {
    unhandled = e;
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const manifest = (async () => {
      const fh = await fs.open(g.partPath, 'w');
      await fh.write(data.subarray(0, 2 * PART));
      await fh.close();
      g.advanced(2 * PART);
      while (parts < 2) await sleep(5);
      g.failed(failure);
      throw failure;
    })();
    const p = prefix();
    const started = Date.now();
    await expect(uploadModel({ source: files[0].growing.path.replace(/\/[^/]+$/, ''), dest: `s3://${s3.bucket}/${p}`, client: s3c, partSize: PART, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest } }))
      .rejects.toBe(failure);
    expect(Date.now() - started).toBeLessThan(10_000);
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${p}/` }));
    expect((open.Uploads ?? []).map((u) => u.Key)).toEqual([`${p}/a.safetensors`]);
    await sleep(50);
    expect(unhandled).toBeUndefined();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

// The download's own manifest holds its FileTable (compared by index); one read from a file, an array.
test.each(['an array', 'a file table'])('a finished download whose manifest (files as %s) disagrees with what was uploaded fails with Integrity, and the manifest is not uploaded', async (kind) => {
  const data = Buffer.from('hello');
  const { dir, files, pending, manifest } = await setup([{ path: 'README.md', data, lfs: false }]);
  const entry = { ...[...manifest.files][0], sha256: 'd'.repeat(64) };
  let lyingFiles: Manifest['files'] = [entry];
  if (kind === 'a file table') {
    const table = FileTable.of([{ path: entry.path, size: entry.size, lfs: entry.lfs, ...(entry.gitBlobSha1 ? { gitBlobSha1: entry.gitBlobSha1 } : {}) }]);
    table.complete(0, entry.sha256);
    lyingFiles = table;
  }
  const lying: Manifest = { ...manifest, files: lyingFiles };
  const written = (async () => {
    await write(files[0].growing, data, 5, 0);
    await writeManifest(dir, lying);
    return lying;
  })();
  const p = prefix();
  await expect(uploadModel({ source: dir, dest: `s3://${s3.bucket}/${p}`, client, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest: written } }))
    .rejects.toMatchObject({ exitCode: 6 });
  await expect(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${p}/mirror-manifest.json` }))).rejects.toBeDefined();
});

test('a manifest file that differs from the manifest the download returned fails with Integrity (same commit and file count), and is not uploaded', async () => {
  const data = Buffer.from('hello');
  const { dir, files, pending, manifest } = await setup([{ path: 'README.md', data, lfs: false }]);
  const written = (async () => {
    await write(files[0].growing, data, 5, 0);
    // Same repo, commit and file list on disk; only a field outside the file list differs.
    await writeManifest(dir, { ...manifest, createdAt: '1999-01-01T00:00:00.000Z' });
    return manifest;
  })();
  const p = prefix();
  await expect(uploadModel({ source: dir, dest: `s3://${s3.bucket}/${p}`, client, progress: 'none', pending: { repo: 'test/overlap', commitSha: COMMIT, files: pendingFilesOf(pending), manifest: written } }))
    .rejects.toMatchObject({ exitCode: 6, message: expect.stringContaining('is not the manifest the download produced') });
  await expect(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${p}/mirror-manifest.json` }))).rejects.toBeDefined();
});
