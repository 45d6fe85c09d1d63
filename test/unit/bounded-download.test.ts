// The download side of a bounded scratch transfer (downloadModel with `alreadyStored` and
// `scratch`), against the Hub fixture: files already stored are never fetched and still listed in
// the manifest with their digests; no more files are on disk than the scratch allows; the disk
// check asks room for the files in flight only. The consumer that frees the slots here stands in
// for the upload (which frees a file once it is in S3, see steps/transfer/overlapped.ts).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { downloadModel, type DownloadModelOptions } from '../../steps/hub/download-model';
import { ScratchSlots } from '../../steps/transfer/scratch-slots';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';

const REPO = 'bench/large';
const MiB = 1024 * 1024;
const LARGE = { 'a.safetensors': 3 * MiB, 'b.safetensors': 2 * MiB, 'c.safetensors': 1 * MiB };

let hub: StartedHubFixture;
let dir: string;
beforeAll(async () => { hub = await startHubFixture({ largeFiles: LARGE }); });
afterAll(async () => { await hub?.close(); });
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-bounded-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const treeFile = (p: string) => hub.repos.get(REPO)!.files.find((f) => f.path === p)!;

/** Frees each file's slot (deleting it) once the download verified it, as the upload would. */
function freeOnVerified(slots: ScratchSlots): DownloadModelOptions['onPlan'] {
  return (plan) => {
    for (let i = 0; i < plan.length; i++) {
      const destPath = plan.destPath(i);
      void plan.growing(i).digest.then(() => slots.release(destPath), () => undefined);
    }
  };
}

test('stored files are not downloaded, the manifest still lists them with their digests; at most N files on disk', async () => {
  const slots = new ScratchSlots(1);
  const stored = new Map([['b.safetensors', { sha256: treeFile('b.safetensors').sha256 }], ['config.json', { sha256: createHash('sha256').update(hub.content(REPO, 'config.json')).digest('hex') }]]);
  let asked: string[] = [];
  const manifest = await downloadModel({
    modelId: REPO, dest: dir, hubUrl: hub.url, concurrency: 3, progress: 'none',
    alreadyStored: async (files, source) => {
      asked = files.map((f) => f.path);
      expect(source.repo).toBe(REPO);
      return stored;
    },
    scratch: slots,
    onPlan: freeOnVerified(slots),
  });
  expect(asked.sort()).toEqual(hub.repos.get(REPO)!.files.map((f) => f.path).sort());
  expect(hub.bytesServed(REPO, 'b.safetensors')).toBe(0);
  expect(hub.bytesServed(REPO, 'config.json')).toBe(0);
  expect(hub.bytesServed(REPO, 'a.safetensors')).toBe(LARGE['a.safetensors']);
  for (const f of manifest.files) {
    const t = treeFile(f.path);
    expect([f.path, f.size, f.lfs]).toEqual([f.path, t.size, t.lfs]);
    expect([f.path, f.sha256]).toEqual([f.path, t.lfs ? t.sha256 : stored.get(f.path)?.sha256 ?? createHash('sha256').update(hub.content(REPO, f.path)).digest('hex')]);
    if (!t.lfs) expect([f.path, f.gitBlobSha1]).toEqual([f.path, t.gitBlobSha1]);
  }
  expect(slots.peak).toBe(1);
  // Every downloaded file was freed once verified: only the manifest is left.
  await new Promise((r) => setImmediate(r));
  expect((await fs.readdir(dir)).sort()).toEqual(['mirror-manifest.json']);
});

test('the disk check asks room for the largest files in flight, not the whole model', async () => {
  const total = Object.values(LARGE).reduce((a, b) => a + b, 0);
  // Room for a (3 MiB) and b (2 MiB) plus the margin, not for the whole model.
  const margin = 64 * 1024;
  const statfs = async () => ({ bavail: 5 * MiB + margin + 1024, bsize: 1 });
  const slots = new ScratchSlots(2);
  await expect(downloadModel({ modelId: REPO, dest: dir, hubUrl: hub.url, concurrency: 2, progress: 'none', statfs, diskMarginBytes: margin }))
    .rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
  const manifest = await downloadModel({
    modelId: REPO, dest: dir, hubUrl: hub.url, concurrency: 2, progress: 'none', statfs, diskMarginBytes: margin, scratch: slots, onPlan: freeOnVerified(slots),
  });
  expect(manifest.totalBytes).toBeGreaterThan(total);
  expect(slots.peak).toBeLessThanOrEqual(2);
});
