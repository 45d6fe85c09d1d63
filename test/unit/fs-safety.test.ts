import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode, UserError } from '../../steps/common/errors';
import { assertEnoughDiskSpace, defaultDiskMargin } from '../../steps/common/disk-space';
import { assertNoSymlinkComponents, assertSafeRelativePath, safeJoin, unsafePathReason } from '../../steps/common/fs-safety';

describe('unsafePathReason', () => {
  it.each([
    ['../evil.txt'],
    ['a/../../b'],
    ['/abs.txt'],
    ['a\\..\\b'],
    ['C:/x'],
    ['a//b'],
    ['a/./b'],
    ['dir/'],
    [''],
    ['nul\0byte'],
    ['tab\tname'],
    ['..'],
  ])('refuses %j', (p) => {
    expect(unsafePathReason(p)).toBeDefined();
  });
  it.each([['config.json'], ['original/params.json'], ['.gitattributes'], ['a/b/c.d..e'], ['weird name (1).bin'], ['ünïcode.txt']])('accepts %j', (p) => {
    expect(unsafePathReason(p)).toBeUndefined();
  });
  it('throws a LocalStorage UserError', () => {
    try {
      assertSafeRelativePath('../x');
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).exitCode).toBe(ExitCode.LocalStorage);
    }
  });
});

describe('safeJoin', () => {
  it('joins inside the root', () => {
    expect(safeJoin('/data/m', 'a/b.txt')).toBe(path.resolve('/data/m/a/b.txt'));
  });
  it('refuses escapes', () => {
    expect(() => safeJoin('/data/m', '../m2/x')).toThrow(UserError);
    expect(() => safeJoin('/data/m', '/etc/passwd')).toThrow(UserError);
  });
});

describe('assertNoSymlinkComponents', () => {
  let root: string;
  let outside: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-safety-'));
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-outside-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  });
  it('accepts missing and real directories', async () => {
    await fs.mkdir(path.join(root, 'real'));
    await expect(assertNoSymlinkComponents(root, 'real/x/y.bin')).resolves.toBeUndefined();
  });
  it('refuses a symlinked directory component', async () => {
    await fs.symlink(outside, path.join(root, 'link'));
    await expect(assertNoSymlinkComponents(root, 'link/y.bin')).rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
  });
  it('refuses a symlink at the file itself', async () => {
    await fs.symlink(path.join(outside, 'f'), path.join(root, 'f.bin'));
    await expect(assertNoSymlinkComponents(root, 'f.bin')).rejects.toMatchObject({ exitCode: ExitCode.LocalStorage });
  });
});

describe('disk space', () => {
  const statfs = (free: number) => async () => ({ bavail: free / 4096, bsize: 4096 });
  it('passes with room to spare', async () => {
    await expect(assertEnoughDiskSpace('/x', 1e9, { statfs: statfs(4096 * 1e6), marginBytes: 0 })).resolves.toMatchObject({ needed: 1e9 });
  });
  it('fails clearly when short (LocalStorage)', async () => {
    await expect(assertEnoughDiskSpace('/x', 10 * 1024 ** 3, { statfs: statfs(4096 * 1000) })).rejects.toMatchObject({
      exitCode: ExitCode.LocalStorage,
      message: expect.stringMatching(/Not enough disk space in \/x: 10\.00 GiB still to download/),
    });
  });
  it('counts the margin', async () => {
    await expect(assertEnoughDiskSpace('/x', 1000, { statfs: statfs(4096 * 10), marginBytes: 4096 * 10 })).rejects.toThrow(UserError);
  });
  it('needs nothing when everything is already there', async () => {
    await expect(assertEnoughDiskSpace('/x', 0, { statfs: statfs(0) })).resolves.toBeDefined();
  });
  it('margin is 1% within [64 MiB, 2 GiB] (small models: see disk-margin.test.ts)', () => {
    expect(defaultDiskMargin(1024 ** 3)).toBe(64 * 1024 ** 2);
    expect(defaultDiskMargin(100 * 1024 ** 3)).toBe(Math.ceil(100 * 1024 ** 3 * 0.01));
    expect(defaultDiskMargin(10 * 1024 ** 4)).toBe(2 * 1024 ** 3);
  });
});
