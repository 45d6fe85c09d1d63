// The resume record of a file fetched in chunks: `<file>.part.chunks` lists the byte ranges of
// `<file>.part` that are on disk. Chunks complete out of order, so the part may have holes, and
// its size alone no longer says what is there (a part without a record is a contiguous prefix:
// the single-stream path and older versions write those).
//  - written atomically (tmp + rename), and only with ranges whose writes had resolved, so it
//    never claims more than is on disk after a SIGKILL;
//  - written before the part gets its first out-of-order byte, and removed only after the part
//    (renamed or deleted), so a part with holes always has a record;
//  - on load, ranges are cut at the part's size; a record that cannot be parsed, is for another
//    size, or lists bytes outside the file is `invalid` (the part is then thrown away).
import { promises as fs } from 'node:fs';
import type { Chunk } from './chunk-plan';

/** [start, end) byte ranges, sorted, not overlapping. */
export type ByteRanges = ReadonlyArray<readonly [number, number]>;

const VERSION = 1;
/** A record is a few numbers per chunk; anything much bigger is not ours. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export function chunkRecordPath(part: string): string {
  return `${part}.chunks`;
}

/** Sorts and merges touching/overlapping ranges; drops empty ones. */
export function normalizeRanges(ranges: ByteRanges): Array<[number, number]> {
  const sorted = ranges.filter(([s, e]) => e > s).map(([s, e]) => [s, e] as [number, number]).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Bytes from 0 that are on disk without a gap. */
export function contiguousPrefix(ranges: ByteRanges): number {
  const n = normalizeRanges(ranges);
  return n.length && n[0][0] === 0 ? n[0][1] : 0;
}

/** Per chunk: bytes on disk from the chunk's start (what a rerun keeps of it). */
export function filledFromRanges(chunks: readonly Chunk[], ranges: ByteRanges): number[] {
  const n = normalizeRanges(ranges);
  return chunks.map((c) => {
    const r = n.find(([s, e]) => s <= c.start && c.start < e);
    return r ? Math.min(r[1], c.end) - c.start : 0;
  });
}

/** The ranges `filled` (per chunk, from its start) covers. */
export function rangesFromFilled(chunks: readonly Chunk[], filled: readonly number[]): Array<[number, number]> {
  return normalizeRanges(chunks.map((c, i) => [c.start, c.start + filled[i]] as [number, number]));
}

export type ChunkRecord = { readonly kind: 'none' } | { readonly kind: 'invalid'; readonly reason: string } | { readonly kind: 'ranges'; readonly ranges: Array<[number, number]> };

/** Parses a record's text for a file of `size` bytes whose part holds `partSize` bytes. */
export function parseChunkRecord(text: string, size: number, partSize: number): ChunkRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'not JSON (cut short?)' };
  }
  const d = doc as { version?: unknown; size?: unknown; ranges?: unknown };
  if (typeof d !== 'object' || d === null || d.version !== VERSION) return { kind: 'invalid', reason: 'unknown format' };
  if (d.size !== size) return { kind: 'invalid', reason: `recorded for a file of ${String(d.size)} bytes, not ${size}` };
  if (!Array.isArray(d.ranges)) return { kind: 'invalid', reason: 'no ranges' };
  const ranges: Array<[number, number]> = [];
  for (const r of d.ranges as unknown[]) {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isSafeInteger(x)) || r[0] < 0 || r[1] < r[0] || r[1] > size) {
      return { kind: 'invalid', reason: `range ${JSON.stringify(r)} is outside the file` };
    }
    // Never trust a record beyond what the part holds (it may have been truncated since).
    const end = Math.min(r[1] as number, partSize);
    if (end > (r[0] as number)) ranges.push([r[0] as number, end]);
  }
  return { kind: 'ranges', ranges: normalizeRanges(ranges) };
}

export async function readChunkRecord(part: string, size: number, partSize: number): Promise<ChunkRecord> {
  const p = chunkRecordPath(part);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(p, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_RECORD_BYTES) return { kind: 'invalid', reason: `${st.size} bytes, too big for a record` };
    return parseChunkRecord(await fh.readFile('utf8'), size, partSize);
  } finally {
    await fh.close();
  }
}

/** Replaces the record atomically. */
export async function writeChunkRecord(part: string, size: number, ranges: ByteRanges): Promise<void> {
  const p = chunkRecordPath(part);
  const tmp = `${p}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ version: VERSION, size, ranges: normalizeRanges(ranges) }));
  await fs.rename(tmp, p);
}

export async function removeChunkRecord(part: string): Promise<void> {
  const p = chunkRecordPath(part);
  await fs.rm(`${p}.tmp`, { force: true });
  await fs.rm(p, { force: true });
}
