import type { FileHandle } from 'node:fs/promises';
import { PartWriter } from '../../steps/hub/part-writer';

/** A FileHandle stand-in whose writes complete when the test says so. */
function fakeHandle(opts: { maxPerWrite?: number; failWith?: Error } = {}) {
  const disk: Buffer[] = [];
  const pending: Array<() => void> = [];
  const take = (buf: Buffer) => {
    const n = Math.min(buf.length, opts.maxPerWrite ?? Infinity);
    disk.push(Buffer.from(buf.subarray(0, n)));
    return n;
  };
  const later = <T>(fn: () => T) => new Promise<T>((resolve, reject) => pending.push(() => {
    if (opts.failWith) reject(opts.failWith);
    else resolve(fn());
  }));
  const fh = {
    writev: (bufs: Buffer[]) => later(() => ({ bytesWritten: take(Buffer.concat(bufs)) })),
    write: (buf: Buffer, offset: number, length: number) => later(() => ({ bytesWritten: take(buf.subarray(offset, offset + length)) })),
  } as unknown as FileHandle;
  /** Completes writes one by one (the writer issues the next only after one resolved) until none come. */
  const settleAll = async () => {
    for (let idle = 0; idle < 3;) {
      await new Promise((r) => setImmediate(r));
      if (pending.length) {
        pending.shift()!();
        idle = 0;
      } else idle++;
    }
  };
  return { fh, disk: () => Buffer.concat(disk).toString(), settleAll, pendingWrites: () => pending.length };
}

test('batches chunks, writes in order, reports each batch only after its write resolved', async () => {
  const f = fakeHandle();
  const seen: string[] = [];
  const w = new PartWriter(f.fh, 4, (bufs, n) => {
    seen.push(Buffer.concat(bufs).toString());
    expect(f.disk().length).toBeGreaterThanOrEqual(seen.join('').length);
    expect(Buffer.concat(bufs).length).toBe(n);
  });
  for (const c of ['ab', 'cd', 'ef', 'ghij', 'k']) w.push(Buffer.from(c));
  expect(seen).toEqual([]);
  expect(w.queuedBytes).toBe(11);
  const drained = w.drain();
  await f.settleAll();
  await drained;
  expect(f.disk()).toBe('abcdefghijk');
  expect(seen).toEqual(['abcd', 'efghij', 'k']);
  expect(w.queuedBytes).toBe(0);
});

test('whenBelow resolves once the queue drained under the limit', async () => {
  const f = fakeHandle();
  const w = new PartWriter(f.fh, 2, () => undefined);
  for (const c of ['aa', 'bb', 'cc']) w.push(Buffer.from(c));
  let released = false;
  const below = w.whenBelow(3).then(() => { released = true; });
  await new Promise((r) => setImmediate(r));
  expect(released).toBe(false);
  await f.settleAll();
  await below;
  expect(released).toBe(true);
});

test('short writes are completed', async () => {
  const f = fakeHandle({ maxPerWrite: 3 });
  const w = new PartWriter(f.fh, 8, () => undefined);
  w.push(Buffer.from('0123456789'));
  const drained = w.drain();
  await f.settleAll();
  await drained;
  expect(f.disk()).toBe('0123456789');
});

test('a write error stops further writes, is never reported as written, and is thrown by drain', async () => {
  const f = fakeHandle({ failWith: Object.assign(new Error('no space'), { code: 'ENOSPC' }) });
  const onWritten = jest.fn();
  const w = new PartWriter(f.fh, 2, onWritten);
  w.push(Buffer.from('aa'));
  w.push(Buffer.from('bb'));
  const drained = w.drain().then(() => undefined, (e: unknown) => e);
  await f.settleAll();
  expect(await drained).toMatchObject({ code: 'ENOSPC' });
  expect(w.error).toMatchObject({ code: 'ENOSPC' });
  expect(onWritten).not.toHaveBeenCalled();
  await expect(w.whenBelow(0)).resolves.toBeUndefined();
});
