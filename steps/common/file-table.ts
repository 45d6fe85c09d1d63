// The files of one mirror, one column per field: the paths as UTF-8 bytes, sizes, flags and
// hashes in typed arrays, in chunks of 4,096 files. A plan of 100,000 files was 100,000 listing
// entries, plan entries, GrowingFiles, digests and manifest entries (about 800 B each and most of
// a `mirror`'s heap); here a file costs its path's bytes plus 65 B, and no object. Rows are
// appended as a listing (or a manifest) is read, a chunk at a time, so the table never copies
// itself to grow. Values come out as strings and objects only when asked for, so whoever asks
// holds them only as long as it needs them.
import type { Digests } from './hash';
import type { ManifestFile } from './manifest';

/** What a table is built from: a listing entry (hub/list-files.ts RepoFile). */
export interface FileTableEntry {
  readonly path: string;
  readonly size: number;
  readonly lfs: boolean;
  /** The Hub's sha256, for LFS files. */
  readonly sha256?: string;
  /** The git blob sha1, for other files. */
  readonly gitBlobSha1?: string;
}

/** Files by index: a FileTable, or a list seen through `indexedFiles`. */
export interface IndexedFiles {
  readonly length: number;
  path(i: number): string;
  size(i: number): number;
}

/** The files by index: a table (or any IndexedFiles) as it is; any other list copied into an array. */
export function indexedFiles<T extends { readonly path: string; readonly size: number }>(files: Iterable<T> | IndexedFiles): IndexedFiles {
  if (typeof (files as IndexedFiles).path === 'function') return files as IndexedFiles;
  const list = Array.from(files as Iterable<T>);
  return { length: list.length, path: (i) => list[i].path, size: (i) => list[i].size };
}

const SHA256_BYTES = 32;
const SHA1_BYTES = 20;
const LFS = 1;
/** sha256 is known: published (LFS) or verified (set by `complete`). */
const HAS_SHA256 = 2;
const COMPLETE = 4;
/** A non-LFS file's git blob sha1 is known. */
const HAS_SHA1 = 8;

const CHUNK_BITS = 12;
const CHUNK_ROWS = 1 << CHUNK_BITS;
const ROW_MASK = CHUNK_ROWS - 1;

const HEX = /^[0-9a-f]+$/;

/** Writes `hex` into row r of `column`; false (nothing written) if it is not `width` bytes of hex. */
function setHex(column: Uint8Array, r: number, width: number, hex: string): boolean {
  if (hex.length !== width * 2 || !HEX.test(hex)) return false;
  Buffer.from(column.buffer, column.byteOffset + r * width, width).write(hex, 'hex');
  return true;
}

function hexOf(column: Uint8Array, r: number, width: number): string {
  return Buffer.from(column.buffer, column.byteOffset + r * width, width).toString('hex');
}

/** 4,096 rows. */
class Chunk {
  pathBytes = Buffer.allocUnsafeSlow(64 * 1024);
  pathLength = 0;
  /** Path r is pathBytes[pathStart[r], pathStart[r + 1]). */
  readonly pathStart = new Uint32Array(CHUNK_ROWS + 1);
  readonly sizes = new Float64Array(CHUNK_ROWS);
  readonly flags = new Uint8Array(CHUNK_ROWS);
  readonly sha256s = new Uint8Array(CHUNK_ROWS * SHA256_BYTES);
  readonly sha1s = new Uint8Array(CHUNK_ROWS * SHA1_BYTES);

  addPath(r: number, p: string): void {
    const bytes = Buffer.byteLength(p);
    if (this.pathLength + bytes > this.pathBytes.length) {
      const more = Buffer.allocUnsafeSlow(Math.max(this.pathLength + bytes, this.pathBytes.length * 2));
      this.pathBytes.copy(more, 0, 0, this.pathLength);
      this.pathBytes = more;
    }
    this.pathStart[r] = this.pathLength;
    this.pathLength += this.pathBytes.write(p, this.pathLength, 'utf8');
    this.pathStart[r + 1] = this.pathLength;
  }

  /** A full chunk gives back the room its paths did not use. */
  trim(): void {
    if (this.pathBytes.length > this.pathLength) this.pathBytes = Buffer.from(this.pathBytes.subarray(0, this.pathLength));
  }
}

export class FileTable implements Iterable<ManifestFile>, IndexedFiles {
  private readonly chunks: Chunk[] = [];
  private rows = 0;
  private completeCount = 0;

  static of(entries: Iterable<FileTableEntry>): FileTable {
    const t = new FileTable();
    for (const e of entries) t.add(e);
    return t;
  }

  get length(): number {
    return this.rows;
  }

  /** Appends an entry; returns its index. A hash that is not lowercase hex of the right length is left out. */
  add(e: FileTableEntry): number {
    const i = this.rows++;
    const r = i & ROW_MASK;
    if (r === 0) {
      this.chunks[this.chunks.length - 1]?.trim();
      this.chunks.push(new Chunk());
    }
    const c = this.chunks[i >> CHUNK_BITS];
    c.addPath(r, e.path);
    c.sizes[r] = e.size;
    let flags = 0;
    if (e.lfs) {
      flags = LFS;
      if (e.sha256 !== undefined && setHex(c.sha256s, r, SHA256_BYTES, e.sha256)) flags |= HAS_SHA256;
    } else if (e.gitBlobSha1 !== undefined && setHex(c.sha1s, r, SHA1_BYTES, e.gitBlobSha1)) {
      flags |= HAS_SHA1;
    }
    c.flags[r] = flags;
    return i;
  }

  private chunk(i: number): Chunk {
    if (!(i >= 0 && i < this.rows)) throw new RangeError(`file table: no row ${i} (${this.rows} rows)`);
    return this.chunks[i >> CHUNK_BITS];
  }

  path(i: number): string {
    const c = this.chunk(i);
    const r = i & ROW_MASK;
    return c.pathBytes.toString('utf8', c.pathStart[r], c.pathStart[r + 1]);
  }

  size(i: number): number {
    return this.chunk(i).sizes[i & ROW_MASK];
  }

  /** Every size, by index (a copy: biggestFirst sorts by it). */
  sizes(): Float64Array {
    return Float64Array.from({ length: this.rows }, (_v, i) => this.size(i));
  }

  /** Sum of the sizes. */
  get totalBytes(): number {
    let n = 0;
    for (let i = 0; i < this.rows; i++) n += this.size(i);
    return n;
  }

  private flags(i: number): number {
    return this.chunk(i).flags[i & ROW_MASK];
  }

  lfs(i: number): boolean {
    return (this.flags(i) & LFS) !== 0;
  }

  /** The sha256 the Hub published: LFS files only (known before the download). */
  listedSha256(i: number): string | undefined {
    const f = this.flags(i);
    return f & LFS && f & HAS_SHA256 ? hexOf(this.chunk(i).sha256s, i & ROW_MASK, SHA256_BYTES) : undefined;
  }

  /** The listing's git blob sha1 (non-LFS files). */
  gitBlobSha1(i: number): string | undefined {
    return this.flags(i) & HAS_SHA1 ? hexOf(this.chunk(i).sha1s, i & ROW_MASK, SHA1_BYTES) : undefined;
  }

  /** The listing's entry, made anew (for the file in flight). */
  entry(i: number): FileTableEntry {
    if (this.lfs(i)) return { path: this.path(i), size: this.size(i), lfs: true, sha256: this.listedSha256(i) };
    const gitBlobSha1 = this.gitBlobSha1(i);
    return gitBlobSha1 === undefined ? { path: this.path(i), size: this.size(i), lfs: false } : { path: this.path(i), size: this.size(i), lfs: false, gitBlobSha1 };
  }

  /** The listing's entries, made one at a time (complete or not). */
  *entries(): Generator<FileTableEntry> {
    for (let i = 0; i < this.rows; i++) yield this.entry(i);
  }

  isComplete(i: number): boolean {
    return (this.flags(i) & COMPLETE) !== 0;
  }

  /** Files marked complete so far. */
  get completed(): number {
    return this.completeCount;
  }

  /**
   * File i is verified with this sha256 (a file's size and git blob sha1 are checked against the
   * listing before it is called complete, so only the sha256 is new).
   */
  complete(i: number, sha256: string): void {
    const c = this.chunk(i);
    const r = i & ROW_MASK;
    if (!setHex(c.sha256s, r, SHA256_BYTES, sha256)) throw new RangeError(`file table: not a sha256: ${JSON.stringify(sha256)}`);
    if (!(c.flags[r] & COMPLETE)) this.completeCount++;
    c.flags[r] |= HAS_SHA256 | COMPLETE;
  }

  /** The verified sha256 of a complete file. */
  verifiedSha256(i: number): string {
    if (!this.isComplete(i)) throw new Error(`file table: ${this.path(i)} is not complete`);
    return hexOf(this.chunk(i).sha256s, i & ROW_MASK, SHA256_BYTES);
  }

  /** File i is complete and its verified sha256 is these 32 bytes (compared without making its hex). */
  verifiedSha256Equals(i: number, sha256: Uint8Array): boolean {
    if (!this.isComplete(i) || sha256.length !== SHA256_BYTES) return false;
    const column = this.chunk(i).sha256s;
    const at = (i & ROW_MASK) * SHA256_BYTES;
    for (let b = 0; b < SHA256_BYTES; b++) if (column[at + b] !== sha256[b]) return false;
    return true;
  }

  /** The verified digests of a complete file. */
  digests(i: number): Digests {
    const sha256 = this.verifiedSha256(i);
    const gitBlobSha1 = this.gitBlobSha1(i);
    return gitBlobSha1 === undefined ? { size: this.size(i), sha256 } : { size: this.size(i), sha256, gitBlobSha1 };
  }

  /** The manifest's entry of a complete file, made anew. */
  manifestFile(i: number): ManifestFile {
    const sha256 = this.verifiedSha256(i);
    if (this.lfs(i)) return { path: this.path(i), size: this.size(i), sha256, lfs: true };
    const gitBlobSha1 = this.gitBlobSha1(i);
    return gitBlobSha1 === undefined
      ? { path: this.path(i), size: this.size(i), sha256, lfs: false }
      : { path: this.path(i), size: this.size(i), sha256, gitBlobSha1, lfs: false };
  }

  /** The manifest's entries, in table order (every file must be complete). */
  *[Symbol.iterator](): Iterator<ManifestFile> {
    for (let i = 0; i < this.rows; i++) yield this.manifestFile(i);
  }

  /** As an array, for JSON.stringify of a manifest that holds a table. */
  toJSON(): ManifestFile[] {
    return Array.from(this);
  }
}
