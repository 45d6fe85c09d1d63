import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
  expect(await readManifest(dir)).toEqual(m);
  expect((await fs.readdir(dir))).toEqual([MANIFEST_FILE]); // no temp file left
});

test('manifestSha256 changes with any field, including one of the listed files', () => {
  const m = manifestOf(1200);
  const files = [...m.files];
  files[1100] = { ...files[1100], size: files[1100].size + 1 };
  expect(manifestSha256({ ...m, files })).not.toBe(manifestSha256(m));
  expect(manifestSha256({ ...m, createdAt: '2026-12-03T00:00:00.001Z' })).not.toBe(manifestSha256(m));
});
