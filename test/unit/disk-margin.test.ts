// The free-space margin must not refuse a small model on a small volume, and must keep its
// 64 MiB .. 2 GiB behaviour for real models.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { assertEnoughDiskSpace, defaultDiskMargin } from '../../steps/common/disk-space';
import { bytesOnDisk } from '../../steps/hub/download-model';

const MB = 1000 ** 2;
const MiB = 1024 ** 2;
const volume = (freeBytes: number) => async () => ({ bavail: Math.floor(freeBytes / 4096), bsize: 4096 });

describe('defaultDiskMargin for small models', () => {
  it('never exceeds the download itself below 64 MiB', () => {
    expect(defaultDiskMargin(0)).toBe(0);
    expect(defaultDiskMargin(1 * MB)).toBe(1 * MB);
    expect(defaultDiskMargin(64 * MiB)).toBe(64 * MiB);
  });
  it('keeps the large-model rule', () => {
    expect(defaultDiskMargin(1024 ** 3)).toBe(64 * MiB);
    expect(defaultDiskMargin(100 * 1024 ** 3)).toBe(Math.ceil(100 * 1024 ** 3 * 0.01));
    expect(defaultDiskMargin(10 * 1024 ** 4)).toBe(2 * 1024 ** 3);
  });
});

describe('assertEnoughDiskSpace with the default margin', () => {
  it('lets a 1 MB model onto a 50 MB volume', async () => {
    await expect(assertEnoughDiskSpace('/vol', 1 * MB, { statfs: volume(50 * MB) })).resolves.toMatchObject({ margin: 1 * MB });
  });
  it('still refuses a model that does not fit with its margin', async () => {
    await expect(assertEnoughDiskSpace('/vol', 1 * MB, { statfs: volume(1.5 * MB) })).rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
    await expect(assertEnoughDiskSpace('/vol', 40 * MB, { statfs: volume(50 * MB) })).rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
    await expect(assertEnoughDiskSpace('/vol', 1024 ** 3, { statfs: volume(1024 ** 3 + 32 * MiB) })).rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
  });
});

describe('bytesOnDisk: what the disk check counts as already there', () => {
  let dir: string;
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-bytes-on-disk-')); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('a ranged .part as long as the file but with one chunk written counts that chunk, not its length', async () => {
    const file = path.join(dir, 'model.safetensors');
    const fh = await fs.open(`${file}.part`, 'w');
    try {
      await fh.write(Buffer.alloc(1 * MiB, 1), 0, 1 * MiB, 0); // the first chunk
      await fh.write(Buffer.alloc(4096, 2), 0, 4096, 64 * MiB - 4096); // the last chunk's tail: length 64 MiB
    } finally {
      await fh.close();
    }
    expect((await fs.stat(`${file}.part`)).size).toBe(64 * MiB);
    const counted = await bytesOnDisk(file, 64 * MiB);
    expect(counted).toBeGreaterThanOrEqual(1 * MiB);
    expect(counted).toBeLessThan(2 * MiB);
  });

  it('a sequential .part counts its length, a complete file its size, an absent one nothing', async () => {
    const file = path.join(dir, 'config.json');
    await fs.writeFile(`${file}.part`, Buffer.alloc(300_000, 3));
    expect(await bytesOnDisk(file, 1 * MiB)).toBe(300_000);
    await fs.writeFile(file, Buffer.alloc(1 * MiB, 3));
    expect(await bytesOnDisk(file, 1 * MiB)).toBe(1 * MiB);
    expect(await bytesOnDisk(path.join(dir, 'absent.bin'), 10)).toBe(0);
  });
});
