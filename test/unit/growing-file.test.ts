import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GrowingFile, GrowingFileReset } from '../../steps/common/growing-file';

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('GrowingFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'growing-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('a range written ahead of the prefix can be waited for and read before the prefix gets there', async () => {
    const g = new GrowingFile(path.join(dir, 'r.bin'), 12);
    await fs.writeFile(g.partPath, Buffer.alloc(12, 0x2e));
    const released: string[] = [];
    const ahead = g.waitForRange(8, 10).then(() => released.push('8-10'));
    const spanning = g.waitForRange(4, 10).then(() => released.push('4-10'));
    const prefix = g.waitFor(10).then(() => released.push('0-10'));
    g.filledRange(8, 9); // not yet all of 8-10
    await new Promise((r) => setImmediate(r));
    expect(released).toEqual([]);
    g.filledRange(8, 11);
    await ahead;
    expect(released).toEqual(['8-10']);
    expect(g.bytesAvailable).toBe(0); // the prefix did not move
    expect(await readAll(await g.openRange(8, 10))).toBe('..');
    await expect(g.openRange(3, 10)).rejects.toThrow(RangeError);
    g.filledRange(4, 8); // adjacent: 4-11 is one range now
    await spanning;
    expect(g.has(4, 11)).toBe(true);
    expect(g.has(3, 5)).toBe(false);
    g.advanced(4); // the prefix reaches the range and takes it in
    await prefix;
    expect(g.bytesAvailable).toBe(11);
    expect(released).toEqual(['8-10', '4-10', '0-10']);
  });

  it('a reset forgets the ranges ahead of the prefix too', async () => {
    const g = new GrowingFile(path.join(dir, 's.bin'), 10);
    g.filledRange(5, 10);
    expect(g.has(6, 8)).toBe(true);
    const waiting = g.waitForRange(0, 3);
    g.reset();
    await expect(waiting).rejects.toBeInstanceOf(GrowingFileReset);
    expect(g.has(6, 8)).toBe(false);
    expect(g.bytesAvailable).toBe(0);
  });

  it('releases waiters only once their range is on disk, and reads from the part then the final path', async () => {
    const g = new GrowingFile(path.join(dir, 'w.bin'), 10);
    await fs.writeFile(g.partPath, 'abcd');
    const order: string[] = [];
    const first = g.waitFor(4).then(() => order.push('4'));
    const second = g.waitFor(10).then(() => order.push('10'));
    g.advanced(4);
    await first;
    expect(order).toEqual(['4']);
    expect(await readAll(await g.openRange(1, 4))).toBe('bcd');
    await expect(g.openRange(0, 5)).rejects.toThrow(RangeError);

    await fs.appendFile(g.partPath, 'efghij');
    await fs.rename(g.partPath, g.path); // renamed before the producer reports: the open falls back
    g.advanced(10);
    await second;
    expect(order).toEqual(['4', '10']);
    expect(await readAll(await g.openRange(4, 10))).toBe('efghij');
    g.completed({ size: 10, sha256: 'x' });
    await expect(g.digest).resolves.toEqual({ size: 10, sha256: 'x' });
    expect(g.isComplete).toBe(true);
  });

  it('rejects pending waiters on reset and bumps the generation', async () => {
    const g = new GrowingFile(path.join(dir, 'r.bin'), 10);
    g.advanced(3);
    const pending = g.waitFor(8);
    g.reset();
    await expect(pending).rejects.toBeInstanceOf(GrowingFileReset);
    expect(g.generation).toBe(1);
    expect(g.bytesAvailable).toBe(0);
  });

  it('rejects waiters and the digest with the producer\'s error, and honours abort signals', async () => {
    const g = new GrowingFile(path.join(dir, 'f.bin'), 10);
    const ac = new AbortController();
    const aborted = g.waitFor(5, ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    const pending = g.waitFor(5);
    g.failed(new Error('404'));
    await expect(pending).rejects.toThrow('404');
    await expect(g.digest).rejects.toThrow('404');
    await expect(g.waitFor(1)).rejects.toThrow('404');
  });

  it('a digest asked for before, at and after completion or failure settles the same way', async () => {
    const g = new GrowingFile(path.join(dir, 'd.bin'), 2);
    const before = g.digest;
    expect(g.digest).toBe(before); // one promise while it is pending
    g.completed({ size: 2, sha256: 'ab' });
    await expect(before).resolves.toEqual({ size: 2, sha256: 'ab' });
    await expect(g.digest).resolves.toEqual({ size: 2, sha256: 'ab' });
    await expect(g.digest).resolves.toEqual({ size: 2, sha256: 'ab' });

    const f = new GrowingFile(path.join(dir, 'e.bin'), 2);
    const waiting = f.digest;
    f.failed(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    // Asked for after the failure and never awaited: no unhandled rejection fails this test.
    void f.digest;
    await expect(f.digest).rejects.toThrow('gone');
    await new Promise((r) => setImmediate(r));
  });
});
