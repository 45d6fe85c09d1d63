// ScratchSlots: at most N files on disk; a slot frees only when its file is deleted (or kept by name).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { largestSum } from '../../steps/hub/download-model';
import { ScratchSlots } from '../../steps/transfer/scratch-slots';

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-slots-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await new Promise((r) => setImmediate(r));
  return done;
};

test('a third file waits until one of two is deleted; the file and its .part are gone', async () => {
  const slots = new ScratchSlots(2);
  const signal = new AbortController().signal;
  const [a, b, c] = ['a.bin', 'b.bin', 'c.bin'].map((f) => path.join(dir, f));
  await slots.acquire(a, signal);
  await slots.acquire(b, signal);
  await fs.writeFile(a, 'x');
  await fs.writeFile(`${a}.part`, 'y');
  const third = slots.acquire(c, signal);
  expect(await settled(third)).toBe(false);
  await slots.release(a);
  expect(await settled(third)).toBe(true);
  await expect(fs.stat(a)).rejects.toMatchObject({ code: 'ENOENT' });
  await expect(fs.stat(`${a}.part`)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(slots.peak).toBe(2);
});

test('keepFile frees the slot and leaves the file; releasing a path that held no slot frees nothing', async () => {
  const slots = new ScratchSlots(1);
  const signal = new AbortController().signal;
  const cfg = path.join(dir, 'config.json');
  await slots.acquire(cfg, signal);
  await fs.writeFile(cfg, '{}');
  await slots.release(path.join(dir, 'never-acquired.bin'));
  const next = slots.acquire(path.join(dir, 'w.bin'), signal);
  expect(await settled(next)).toBe(false);
  await slots.release(cfg, { keepFile: true });
  expect(await settled(next)).toBe(true);
  expect(await fs.readFile(cfg, 'utf8')).toBe('{}');
});

test('a waiting acquire rejects when its signal aborts, and does not take a slot later', async () => {
  const slots = new ScratchSlots(1);
  const first = path.join(dir, 'first');
  await slots.acquire(first, new AbortController().signal);
  const stop = new AbortController();
  const waiting = slots.acquire(path.join(dir, 'second'), stop.signal);
  stop.abort(new Error('stopped'));
  await expect(waiting).rejects.toThrow('stopped');
  await slots.release(first);
  await slots.acquire(path.join(dir, 'third'), new AbortController().signal);
  expect(slots.peak).toBe(1);
});

test('largestSum: room for the N largest files', () => {
  expect(largestSum([5, 100, 7, 50], 2)).toBe(150);
  expect(largestSum([5], 4)).toBe(5);
  expect(largestSum([], 4)).toBe(0);
});
