import type { FileHandle } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hubErrorFromMessage } from '../../steps/hub/http-get';
import { PartWriter, pumpBody } from '../../steps/hub/part-writer';

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

/**
 * A response head from a loopback server whose body never ends, destroyed by its request's abort
 * signal before the caller reads it: what a download sees when a sibling file fails (and aborts
 * every request) while it opens its part file, between the head and reading the body.
 */
async function responseDestroyedBeforeRead(): Promise<{ res: http.IncomingMessage; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000000' });
    res.write(Buffer.alloc(1000));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const abort = new AbortController();
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', signal: abort.signal }, resolve);
    req.on('error', () => undefined); // the abort's error on the request: expected
    req.end();
    req.once('error', reject);
  });
  abort.abort(new Error('another file failed'));
  await new Promise<void>((r) => (res.closed ? r() : res.once('close', () => r())));
  return { res, close: () => { server.closeAllConnections(); server.close(); } };
}

/** Settles like `p`, or rejects when it has not settled within `ms` (a promise that would hang). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('pumpBody on a response already destroyed (aborted before the body was read) rejects instead of waiting for ever', async () => {
  const { res, close } = await responseDestroyedBeforeRead();
  try {
    expect(res.destroyed).toBe(true);
    const f = fakeHandle();
    const w = new PartWriter(f.fh, 4, () => undefined);
    const idle = { touch: () => undefined, pause: () => undefined, resume: () => undefined };
    await expect(within(pumpBody(res, w, { idle, maxQueued: 1 << 20, accept: () => undefined }), 2000)).rejects.toThrow(/aborted|closed mid-body/);
  } finally {
    close();
  }
});

test('reading an error body of a response already destroyed settles (the status says enough)', async () => {
  const { res, close } = await responseDestroyedBeforeRead();
  try {
    const err = await within(hubErrorFromMessage(res, 'http://127.0.0.1/x', 1000), 2000);
    expect(err).toBeInstanceOf(Error);
  } finally {
    close();
  }
});

test('frees each chunk once its batch is written and reported, never while its write is in flight', async () => {
  const f = fakeHandle(); // the fake disk copies a write's bytes only when the write completes
  const chunks = ['first', 'second', 'third'].map((s) => {
    const b = Buffer.allocUnsafeSlow(s.length); // owns its ArrayBuffer, like a socket chunk
    b.write(s);
    return b;
  });
  const reported: string[] = [];
  const w = new PartWriter(f.fh, 11, (bufs) => {
    reported.push(Buffer.concat(bufs).toString());
    expect(bufs.every((b) => b.length > 0)).toBe(true);
  });
  for (const c of chunks) w.push(c);
  await new Promise((r) => setImmediate(r));
  expect(f.pendingWrites()).toBe(1); // 'first' + 'second' reached the batch size; the write is in flight
  expect(chunks.map((c) => c.length)).toEqual([5, 6, 5]);
  const drained = w.drain();
  await f.settleAll();
  await drained;
  expect(f.disk()).toBe('firstsecondthird');
  expect(reported).toEqual(['firstsecond', 'third']);
  expect(chunks.map((c) => c.length)).toEqual([0, 0, 0]);
});

test('a failed write frees nothing', async () => {
  const f = fakeHandle({ failWith: Object.assign(new Error('no space'), { code: 'ENOSPC' }) });
  const chunk = Buffer.allocUnsafeSlow(8).fill(1);
  const w = new PartWriter(f.fh, 4, () => undefined);
  w.push(chunk);
  const drained = w.drain().then(() => undefined, (e: unknown) => e);
  await f.settleAll();
  expect(await drained).toMatchObject({ code: 'ENOSPC' });
  expect(chunk.length).toBe(8); // nothing freed a chunk whose bytes never reached the disk
});
