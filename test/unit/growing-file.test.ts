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
});
