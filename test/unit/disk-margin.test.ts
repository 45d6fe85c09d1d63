// The free-space margin must not refuse a small model on a small volume, and must keep its
// 64 MiB .. 2 GiB behaviour for real models.
import { ExitCode } from '../../steps/common/errors';
import { assertEnoughDiskSpace, defaultDiskMargin } from '../../steps/common/disk-space';

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
