import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { FileTable } from '../../steps/common/file-table';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, manifestSha256, readManifest, writeManifest, type Manifest } from '../../steps/common/manifest';

function manifestOf(count: number): Manifest {
  const files = Array.from({ length: count }, (_v, i) => i % 3 === 0
    ? { path: `shards/model-${i}.safetensors`, size: i * 1000, sha256: createHash('sha256').update(String(i)).digest('hex'), lfs: true }
    : { path: `part-${i % 7}/file "${i}".txt`, size: i, sha256: 'a'.repeat(64), gitBlobSha1: 'b'.repeat(40), lfs: false });
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION, repo: 'org/model', requestedRevision: 'main', commitSha: 'c'.repeat(40),
    hubUrl: 'https://huggingface.co', files, totalBytes: files.reduce((n, f) => n + f.size, 0), fileCount: files.length,
    createdAt: '2026-12-03T00:00:00.000Z', pipelineTag: 'text-generation',
  };
}

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-manifest-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

// 0 files, fewer than one slice, exactly one slice, and several slices with a partial last one.
test.each([0, 1, 500, 1234])('with %i files, the file is JSON.stringify(manifest, null, 2) and manifestSha256 is its digest', async (count) => {
  const m = manifestOf(count);
  await writeManifest(dir, m);
  const text = await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  expect(text).toBe(JSON.stringify(m, null, 2) + '\n');
  expect(manifestSha256(m)).toBe(createHash('sha256').update(text).digest('hex'));
  const read = await readManifest(dir);
  // Read back entry by entry into a table (no object per file): the same entries, in order.
  expect(read.files).toBeInstanceOf(FileTable);
  expect({ ...read, files: [...read.files] }).toEqual(m);
  expect(manifestSha256(read)).toBe(manifestSha256(m));
  expect((await fs.readdir(dir))).toEqual([MANIFEST_FILE]); // no temp file left
});

test('a manifest written by hand reads the same: any key order, compact or spaced, braces and quotes in paths, non-ASCII', async () => {
  const files = [
    { lfs: false, size: 3, path: 'a {b} [c] "d" \\ é/ü.txt', gitBlobSha1: 'b'.repeat(40), sha256: 'a'.repeat(64) },
    { sha256: 'c'.repeat(64), lfs: true, path: 'x', size: 0 },
    { path: 'no-sha1.txt', size: 1, sha256: 'd'.repeat(64), lfs: false },
  ];
  const head = { fileCount: 3, files, schemaVersion: MANIFEST_SCHEMA_VERSION, repo: 'o/m', requestedRevision: 'v1', commitSha: 'e'.repeat(40), hubUrl: 'h', totalBytes: 4, createdAt: 't', extra: { nested: [1, { files: [] }] } };
  for (const text of [JSON.stringify(head), JSON.stringify(head, null, '\t'), `\n  ${JSON.stringify(head, null, 1)}  \n`]) {
    await fs.writeFile(path.join(dir, MANIFEST_FILE), text);
    const read = await readManifest(dir);
    expect([...read.files]).toEqual(files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, ...('gitBlobSha1' in f ? { gitBlobSha1: f.gitBlobSha1 } : {}), lfs: f.lfs })));
    expect(read).toMatchObject({ repo: 'o/m', requestedRevision: 'v1', fileCount: 3 });
  }
});

test.each([
  ['not JSON at all', 'nope', /is not valid JSON/],
  ['truncated in the files', JSON.stringify({ schemaVersion: 1, files: [{ path: 'a', size: 1, sha256: 'a'.repeat(64), lfs: false }] }).slice(0, 60), /is not valid JSON/],
  ['an array', '[]', /is not a model-mirror manifest/],
  ['no files', JSON.stringify({ schemaVersion: 1, commitSha: 'e'.repeat(40) }), /is not a model-mirror manifest/],
  ['files not an array', JSON.stringify({ schemaVersion: 1, commitSha: 'e'.repeat(40), files: {} }), /is not a model-mirror manifest/],
  ['an entry without sha256', JSON.stringify({ schemaVersion: 1, commitSha: 'e'.repeat(40), files: [{ path: 'a', size: 1, lfs: false }] }), /files\[0\] is not a file entry/],
  ['an entry with a negative size', JSON.stringify({ schemaVersion: 1, commitSha: 'e'.repeat(40), files: [{ path: 'a', size: -1, sha256: 'a'.repeat(64), lfs: false }] }), /files\[0\] is not a file entry/],
  ['another schema', JSON.stringify({ schemaVersion: 2, commitSha: 'e'.repeat(40), files: [] }), /is not a model-mirror manifest/],
])('%s: a usage error (exit 2), no stack trace', async (_name, text, message) => {
  await fs.writeFile(path.join(dir, MANIFEST_FILE), text);
  await expect(readManifest(dir)).rejects.toMatchObject({ exitCode: ExitCode.Usage, message: expect.stringMatching(message) });
});

test('manifestSha256 changes with any field, including one of the listed files', () => {
  const m = manifestOf(1200);
  const files = [...m.files];
  files[1100] = { ...files[1100], size: files[1100].size + 1 };
  expect(manifestSha256({ ...m, files })).not.toBe(manifestSha256(m));
  expect(manifestSha256({ ...m, createdAt: '2026-12-03T00:00:00.001Z' })).not.toBe(manifestSha256(m));
});
