// The pieces of the parallel Range download: chunk plan, the per-chunk resume record, option
// parsing at the CLI edge, the shared stream cap, and chunk answers in file-answer.ts.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode, UserError } from '../../steps/common/errors';
import { parseStreamOptions } from '../../steps/commands/stream-options';
import { MiB, parseByteSize, planChunks, usesRangedStreams } from '../../steps/hub/chunk-plan';
import {
  chunkRecordPath, contiguousPrefix, filledFromRanges, normalizeRanges, parseChunkRecord, rangesFromFilled, readChunkRecord, removeChunkRecord, writeChunkRecord,
} from '../../steps/hub/chunk-state';
import { refuseFileAnswer } from '../../steps/hub/file-answer';
import { rangedDownload } from '../../steps/hub/ranged-download';
import { StreamSlots } from '../../steps/hub/stream-slots';

describe('chunk plan', () => {
  test('fixed-size chunks cover the file exactly, the last one shorter', () => {
    const c = planChunks(10 * MiB + 5, 4 * MiB);
    expect(c.map((x) => [x.index, x.start, x.end])).toEqual([[0, 0, 4 * MiB], [1, 4 * MiB, 8 * MiB], [2, 8 * MiB, 10 * MiB + 5]]);
    expect(planChunks(8 * MiB, 4 * MiB)).toHaveLength(2);
    expect(planChunks(0, 4 * MiB)).toEqual([]);
    expect(() => planChunks(10, 0)).toThrow(RangeError);
  });

  test('only files of two chunks or more, with more than one stream, go ranged', () => {
    expect(usesRangedStreams(2 * MiB - 1, MiB, 8)).toBe(false);
    expect(usesRangedStreams(2 * MiB, MiB, 8)).toBe(true);
    expect(usesRangedStreams(100 * MiB, MiB, 1)).toBe(false);
  });

  test('byte sizes', () => {
    expect(parseByteSize('64MiB')).toBe(64 * MiB);
    expect(parseByteSize('64MB')).toBe(64 * MiB);
    expect(parseByteSize('1g')).toBe(1024 * MiB);
    expect(parseByteSize('512k')).toBe(512 * 1024);
    expect(parseByteSize('1048576')).toBe(MiB);
    expect(parseByteSize('1.5MiB')).toBe(1.5 * MiB);
    for (const bad of ['', 'MiB', '-1MiB', '64 bananas', '1e9']) expect(parseByteSize(bad)).toBeUndefined();
  });
});

describe('--streams-per-file / --chunk-size', () => {
  test('valid values', () => {
    expect(parseStreamOptions(8, '64MiB')).toEqual({ streamsPerFile: 8, chunkSize: 64 * MiB });
    expect(parseStreamOptions('1', '1MiB')).toEqual({ streamsPerFile: 1, chunkSize: MiB });
    expect(parseStreamOptions(64, '1GiB')).toEqual({ streamsPerFile: 64, chunkSize: 1024 * MiB });
  });

  test.each([
    [0, '64MiB', /--streams-per-file must be an integer between 1 and 64/],
    [65, '64MiB', /--streams-per-file/],
    [2.5, '64MiB', /--streams-per-file/],
    ['x', '64MiB', /--streams-per-file/],
    [8, '512KiB', /--chunk-size must be a size between 1MiB and 1GiB/],
    [8, '2GiB', /--chunk-size/],
    [8, 'big', /--chunk-size.*"big"/],
  ])('%p / %p is a usage error', (streams, chunk, message) => {
    let err: unknown;
    try {
      parseStreamOptions(streams, chunk);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(ExitCode.Usage);
    expect((err as Error).message).toMatch(message);
  });
});

describe('chunk record', () => {
  const chunks = planChunks(10_000, 1000);

  test('ranges <-> per-chunk fill', () => {
    const filled = chunks.map(() => 0);
    filled[0] = 1000;
    filled[1] = 400;
    filled[3] = 1000;
    filled[4] = 1000;
    filled[9] = 1000;
    const ranges = rangesFromFilled(chunks, filled);
    expect(ranges).toEqual([[0, 1400], [3000, 5000], [9000, 10_000]]);
    expect(filledFromRanges(chunks, ranges)).toEqual(filled);
    expect(contiguousPrefix(ranges)).toBe(1400);
    expect(contiguousPrefix([[5, 10]])).toBe(0);
    // A range that starts inside a chunk (another chunk size) keeps nothing of that chunk.
    expect(filledFromRanges(chunks, [[500, 2500]])).toEqual([0, 1000, 500, 0, 0, 0, 0, 0, 0, 0]);
    expect(normalizeRanges([[5, 9], [0, 5], [7, 12], [20, 20]])).toEqual([[0, 12]]);
  });

  test('a legacy contiguous prefix maps to complete chunks plus one partial', () => {
    expect(filledFromRanges(chunks, [[0, 2500]]).slice(0, 4)).toEqual([1000, 1000, 500, 0]);
  });

  test('parse: good, cut short, other size, outside the file, beyond the part', () => {
    const good = JSON.stringify({ version: 1, size: 10_000, ranges: [[0, 1000], [3000, 4000]] });
    expect(parseChunkRecord(good, 10_000, 10_000)).toEqual({ kind: 'ranges', ranges: [[0, 1000], [3000, 4000]] });
    expect(parseChunkRecord(good.slice(0, 20), 10_000, 10_000)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/not JSON/) });
    expect(parseChunkRecord(good, 9_999, 10_000)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/10000 bytes, not 9999/) });
    expect(parseChunkRecord(JSON.stringify({ version: 1, size: 10_000, ranges: [[0, 10_001]] }), 10_000, 10_000)).toMatchObject({ kind: 'invalid' });
    expect(parseChunkRecord(JSON.stringify({ version: 1, size: 10_000, ranges: [[-1, 5]] }), 10_000, 10_000)).toMatchObject({ kind: 'invalid' });
    expect(parseChunkRecord(JSON.stringify({ version: 1, size: 10_000, ranges: [['0', 5]] }), 10_000, 10_000)).toMatchObject({ kind: 'invalid' });
    expect(parseChunkRecord(JSON.stringify({ version: 2, size: 10_000, ranges: [] }), 10_000, 10_000)).toMatchObject({ kind: 'invalid' });
    expect(parseChunkRecord('null', 10_000, 10_000)).toMatchObject({ kind: 'invalid' });
    // The part was truncated since: nothing beyond its size is trusted.
    expect(parseChunkRecord(good, 10_000, 3500)).toEqual({ kind: 'ranges', ranges: [[0, 1000], [3000, 3500]] });
    expect(parseChunkRecord(good, 10_000, 0)).toEqual({ kind: 'ranges', ranges: [] });
  });

  test('write, read, oversize, remove', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-chunks-'));
    try {
      const part = path.join(dir, 'f.part');
      expect(await readChunkRecord(part, 10_000, 0)).toEqual({ kind: 'none' });
      await writeChunkRecord(part, 10_000, [[3000, 4000], [0, 1000]]);
      expect(await readChunkRecord(part, 10_000, 10_000)).toEqual({ kind: 'ranges', ranges: [[0, 1000], [3000, 4000]] });
      expect((await fs.readdir(dir)).sort()).toEqual(['f.part.chunks']); // no tmp left
      await fs.writeFile(chunkRecordPath(part), Buffer.alloc(5 * MiB, 0x20));
      expect(await readChunkRecord(part, 10_000, 10_000)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/too big/) });
      await removeChunkRecord(part);
      expect(await fs.readdir(dir)).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('StreamSlots', () => {
  test('never more than the limit; waiters served in order; aborted waiters leave', async () => {
    const slots = new StreamSlots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const c = slots.acquire().then((r) => (order.push('c'), r));
    const ctl = new AbortController();
    const d = slots.acquire(ctl.signal);
    const e = slots.acquire().then((r) => (order.push('e'), r));
    ctl.abort(new Error('gone'));
    await expect(d).rejects.toThrow('gone');
    a();
    a(); // twice is once
    const rc = await c;
    expect(order).toEqual(['c']);
    b();
    const re = await e;
    expect(order).toEqual(['c', 'e']);
    rc();
    re();
    // Both free again: two acquire at once.
    const [x, y] = await Promise.all([slots.acquire(), slots.acquire()]);
    x();
    y();
  });
});

describe('file-answer for a chunk', () => {
  const base = { path: 'w.safetensors', size: 10_000 };
  test('a 206 for exactly the chunk asked is the file', () => {
    expect(refuseFileAnswer({ ...base, status: 206, offset: 1000, end: 2000, headers: { 'content-range': 'bytes 1000-1999/10000', 'content-length': '1000' } })).toBeUndefined();
  });
  test('other lengths are refused', () => {
    expect(refuseFileAnswer({ ...base, status: 206, offset: 1000, end: 2000, headers: { 'content-range': 'bytes 1000-9999/10000' } })).toMatchObject({ kind: 'length' });
    expect(refuseFileAnswer({ ...base, status: 206, offset: 1000, end: 2000, headers: { 'content-range': 'bytes 1000-1999/10000', 'content-length': '9000' } })).toMatchObject({ kind: 'length' });
    expect(refuseFileAnswer({ ...base, status: 206, offset: 1000, end: 2000, headers: { 'content-range': 'bytes 1000-1999/20000' } })).toMatchObject({ kind: 'length' });
  });
});

describe('rangedDownload stopped before its first request', () => {
  // Another file failed (and aborted every download) while this one was still opening its part
  // file: the first stream never made the request the others wait for, so they must not wait.
  test('an abort before any stream started settles at once with the abort reason, leaving the record for a rerun', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-ranged-'));
    try {
      const size = 4 * MiB;
      const part = path.join(dir, 'model.safetensors.part');
      const stop = new AbortController();
      const reason = new Error('another file failed');
      stop.abort(reason);
      const settled = rangedDownload({
        url: 'http://127.0.0.1:9/never-asked', hubUrl: 'http://127.0.0.1:9', file: { path: 'model.safetensors', size, lfs: true, sha256: 'a'.repeat(64) },
        part, chunks: planChunks(size, MiB), streams: 4, slots: new StreamSlots(8), budget: { retries: 0, requests: 8 }, requests: { count: 0 }, signal: stop.signal,
      });
      let timer!: NodeJS.Timeout;
      const hung = new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error('rangedDownload never settled')), 3000); });
      await expect(Promise.race([settled, hung]).finally(() => clearTimeout(timer))).rejects.toBe(reason);
      expect(await readChunkRecord(part, size, 0)).toEqual({ kind: 'ranges', ranges: [] });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
