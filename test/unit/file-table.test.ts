// steps/common/file-table.ts and steps/hub/download-plan.ts: the columnar plan of a download and
// the GrowingFiles it holds only for files in flight.
import { FileTable, type FileTableEntry } from '../../steps/common/file-table';
import { MANIFEST_SCHEMA_VERSION, manifestSha256, manifestText, type Manifest, type ManifestFile } from '../../steps/common/manifest';
import { DownloadPlan } from '../../steps/hub/download-plan';
import { fileSetHash } from '../../steps/common/file-set';
import { createHash } from 'node:crypto';

const sha = (c: string, n: number) => c.repeat(n);
const entries: FileTableEntry[] = [
  { path: 'config.json', size: 12, lfs: false, gitBlobSha1: sha('a', 40) },
  { path: 'model.safetensors', size: 5_000_000_000, lfs: true, sha256: sha('b', 64) },
  { path: 'tokenizer/vocab – ü.txt', size: 0, lfs: false, gitBlobSha1: sha('c', 40) },
];

test('the table gives back each listing entry, UTF-8 paths and sizes over 4 GiB included', () => {
  const t = FileTable.of(entries);
  expect(t.length).toBe(3);
  expect(Array.from({ length: 3 }, (_v, i) => t.entry(i))).toEqual(entries);
  expect(t.listedSha256(0)).toBeUndefined();
  expect(t.listedSha256(1)).toBe(sha('b', 64));
  expect(t.gitBlobSha1(1)).toBeUndefined();
  expect(Array.from(t.sizes())).toEqual([12, 5_000_000_000, 0]);
  expect(t.totalBytes).toBe(5_000_000_012);
  expect(() => t.path(3)).toThrow('no row 3');
});

test('a manifest entry exists only once the file is complete, with the verified sha256', () => {
  const t = FileTable.of(entries);
  expect(() => t.manifestFile(0)).toThrow('config.json is not complete');
  expect(() => t.complete(0, 'not-hex')).toThrow('not a sha256');
  expect(t.isComplete(0)).toBe(false);
  t.complete(0, sha('d', 64));
  t.complete(0, sha('d', 64)); // again: counted once
  expect(t.completed).toBe(1);
  expect(t.manifestFile(0)).toEqual({ path: 'config.json', size: 12, sha256: sha('d', 64), gitBlobSha1: sha('a', 40), lfs: false });
  expect(t.digests(0)).toEqual({ size: 12, sha256: sha('d', 64), gitBlobSha1: sha('a', 40) });
  t.complete(1, sha('b', 64));
  expect(t.manifestFile(1)).toEqual({ path: 'model.safetensors', size: 5_000_000_000, sha256: sha('b', 64), lfs: true });
  expect(() => Array.from(t)).toThrow('is not complete');
});

test('verifiedSha256Equals compares a complete file\'s sha256 with 32 bytes; an incomplete file matches nothing', () => {
  const t = FileTable.of(entries);
  const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
  // Listed (LFS) but not verified yet: not equal, even to the sha256 the Hub published.
  expect(t.verifiedSha256Equals(1, bytes(sha('b', 64)))).toBe(false);
  t.complete(1, sha('b', 64));
  expect(t.verifiedSha256Equals(1, bytes(sha('b', 64)))).toBe(true);
  expect(t.verifiedSha256Equals(1, bytes(sha('b', 62) + 'bc'))).toBe(false);
  expect(t.verifiedSha256Equals(1, bytes(sha('b', 62)))).toBe(false); // 31 bytes
  t.complete(2, sha('0', 64));
  expect(t.verifiedSha256Equals(2, new Uint8Array(32))).toBe(true);
  expect(t.verifiedSha256Equals(0, new Uint8Array(32))).toBe(false);
});

test('a manifest holding a table is written exactly like one holding the same array, across write slices and table chunks', () => {
  // 9,001 rows: three chunks of the table (4,096 rows each), 19 write slices of the manifest.
  const many: FileTableEntry[] = Array.from({ length: 9001 }, (_v, i) => ({ path: `d${i % 7}/f${i}.txt`, size: i, lfs: i % 3 === 0, ...(i % 3 === 0 ? { sha256: i.toString(16).padStart(64, '0') } : { gitBlobSha1: i.toString(16).padStart(40, '0') }) }));
  const t = FileTable.of(many);
  expect(t.length).toBe(9001);
  expect([4095, 4096, 8192, 9000].map((i) => t.entry(i))).toEqual([4095, 4096, 8192, 9000].map((i) => many[i]));
  many.forEach((e, i) => t.complete(i, e.sha256 ?? i.toString(16).padStart(64, 'f')));
  expect(t.completed).toBe(9001);
  const asArray: ManifestFile[] = many.map((e, i) => (e.lfs
    ? { path: e.path, size: e.size, sha256: e.sha256!, lfs: true }
    : { path: e.path, size: e.size, sha256: i.toString(16).padStart(64, 'f'), gitBlobSha1: e.gitBlobSha1!, lfs: false }));
  const base = { schemaVersion: MANIFEST_SCHEMA_VERSION, repo: 'o/m', requestedRevision: 'main', commitSha: 'e'.repeat(40), hubUrl: 'http://127.0.0.1:1', totalBytes: 1, fileCount: many.length, createdAt: '2026-12-04T00:00:00.000Z' } as const;
  const fromTable: Manifest = { ...base, files: t };
  const fromArray: Manifest = { ...base, files: asArray };
  const text = [...manifestText(fromTable)].join('');
  expect(text).toBe(JSON.stringify(fromArray, null, 2) + '\n');
  expect(JSON.parse(text).files).toEqual(asArray);
  expect(JSON.stringify(fromTable)).toBe(JSON.stringify(fromArray));
  expect(manifestSha256(fromTable)).toBe(manifestSha256(fromArray));
});

describe('DownloadPlan', () => {
  const plan = () => DownloadPlan.of(entries, '/tmp/mm-plan', 'o/m', 'e'.repeat(40));

  it('holds one GrowingFile per file in flight and forgets it once the file is complete', async () => {
    const p = plan();
    expect(p.destPath(2)).toBe('/tmp/mm-plan/tokenizer/vocab – ü.txt');
    const g = p.growing(0);
    expect(p.growing(0)).toBe(g); // both sides follow the same one
    expect(p.growingHeld).toBe(1);
    const waiting = g.digest;
    p.completed(0, { size: 12, sha256: sha('d', 64), gitBlobSha1: sha('a', 40) });
    await expect(waiting).resolves.toMatchObject({ sha256: sha('d', 64) });
    expect(p.growingHeld).toBe(0);
    // Asked for after completion: a new, complete one from the table.
    const after = p.growing(0);
    expect(after).not.toBe(g);
    expect(after.isComplete).toBe(true);
    await expect(after.digest).resolves.toEqual({ size: 12, sha256: sha('d', 64), gitBlobSha1: sha('a', 40) });
    expect(p.growingHeld).toBe(0);
  });

  it('a failed download fails the files in flight and any asked for later, not the complete ones', async () => {
    const p = plan();
    p.completed(1, { size: 5_000_000_000, sha256: sha('b', 64) });
    const inFlight = p.growing(0);
    const err = new Error('the Hub went away');
    p.failAll(err);
    expect(p.hasFailed).toBe(true);
    await expect(inFlight.digest).rejects.toBe(err);
    await expect(p.growing(2).waitFor(1)).rejects.toBe(err);
    expect(p.growing(1).isComplete).toBe(true);
    expect(p.growingHeld).toBe(0);
  });
});

describe('fileSetHash', () => {
  // The identity of versions already registered: it must stay the hash of the sorted, joined lines.
  const reference = (files: Array<{ path: string; size: number }>) =>
    `sha256:${createHash('sha256').update(files.map((f) => `${f.path}\t${f.size}`).sort().join('\n')).digest('hex')}`;

  it.each([
    ['ASCII, prefixes and tabs that sort before /', ['a/b', 'a', 'a\tb', 'B', 'a/b/c', 'a-b', 'z'].map((p, i) => ({ path: p, size: i * 7 }))],
    ['non-ASCII, where UTF-8 byte order and UTF-16 order differ', ['\u{1F600}.txt', '\uFFFD.txt', 'é', 'e', '\uE000x', 'ü/ö'].map((p, i) => ({ path: p, size: i }))],
    ['many files over the growth of its buffers', Array.from({ length: 20_000 }, (_v, i) => ({ path: `d${i % 97}/f${(i * 7919) % 20_000}.bin`, size: i }))],
    ['none', []],
  ])('%s: the same hash as sorting and joining the lines', (_name, files) => {
    expect(fileSetHash(files)).toBe(reference(files));
    const table = FileTable.of(files.map((f) => ({ ...f, lfs: false })));
    expect(fileSetHash(table.entries())).toBe(reference(files));
    // A table is read by index (no entries made).
    expect(fileSetHash(table)).toBe(reference(files));
  });
});
