// The files of one mirror, one column per field: the paths as UTF-8 bytes in one buffer, sizes,
// flags and hashes in typed arrays. A plan of 100,000 files was 100,000 listing entries, plan
// entries, GrowingFiles, digests and manifest entries (about 800 B each and most of a `mirror`'s
// heap); here a file costs its path's bytes plus 65 B, and no object. Values come out as strings
// and objects only when asked for, so whoever asks holds them only as long as it needs them.
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

const SHA256_BYTES = 32;
const SHA1_BYTES = 20;
const LFS = 1;
/** sha256 is known: published (LFS) or verified (set by `complete`). */
const HAS_SHA256 = 2;
const COMPLETE = 4;
/** A non-LFS file's git blob sha1 is known. */
const HAS_SHA1 = 8;

const HEX = /^[0-9a-f]+$/;

/** Writes `hex` into row i of `column`; false (nothing written) if it is not `width` bytes of hex. */
function setHex(column: Uint8Array, i: number, width: number, hex: string): boolean {
  if (hex.length !== width * 2 || !HEX.test(hex)) return false;
  Buffer.from(column.buffer, column.byteOffset + i * width, width).write(hex, 'hex');
  return true;
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(a: T, needed: number, make: (n: number) => T): T {
  if (needed <= a.length) return a;
  const b = make(Math.max(needed, a.length * 2));
  b.set(a);
  return b;
}

/** Builds a FileTable one entry at a time (a listing page by page), without an object per entry. */
export class FileTableBuilder {
  private n = 0;
  private pathBytes = Buffer.allocUnsafeSlow(64 * 1024);
  private pathLength = 0;
  private pathStart = new Uint32Array(1024);
  private sizes = new Float64Array(1024);
  private flags = new Uint8Array(1024);
  private sha256s = new Uint8Array(1024 * SHA256_BYTES);
  private sha1s = new Uint8Array(1024 * SHA1_BYTES);

  get length(): number {
    return this.n;
  }

  /** Adds an entry; returns its index. A hash that is not lowercase hex of the right length is left out. */
  add(e: FileTableEntry): number {
    const i = this.n++;
    const bytes = Buffer.byteLength(e.path);
    if (this.pathLength + bytes > 0xffffffff) throw new RangeError('file table: over the 4 GiB of paths it can index');
    if (this.pathLength + bytes > this.pathBytes.length) {
      const more = Buffer.allocUnsafeSlow(Math.max(this.pathLength + bytes, this.pathBytes.length * 2));
      this.pathBytes.copy(more, 0, 0, this.pathLength);
      this.pathBytes = more;
    }
    this.pathStart = grown(this.pathStart, i + 2, (k) => new Uint32Array(k));
    this.sizes = grown(this.sizes, i + 1, (k) => new Float64Array(k));
    this.flags = grown(this.flags, i + 1, (k) => new Uint8Array(k));
    this.sha256s = grown(this.sha256s, (i + 1) * SHA256_BYTES, (k) => new Uint8Array(k));
    this.sha1s = grown(this.sha1s, (i + 1) * SHA1_BYTES, (k) => new Uint8Array(k));
    this.pathStart[i] = this.pathLength;
    this.pathLength += this.pathBytes.write(e.path, this.pathLength, 'utf8');
    this.pathStart[i + 1] = this.pathLength;
    this.sizes[i] = e.size;
    let flags = 0;
    if (e.lfs) {
      flags = LFS;
      if (e.sha256 !== undefined && setHex(this.sha256s, i, SHA256_BYTES, e.sha256)) flags |= HAS_SHA256;
    } else if (e.gitBlobSha1 !== undefined && setHex(this.sha1s, i, SHA1_BYTES, e.gitBlobSha1)) {
      flags |= HAS_SHA1;
    }
    this.flags[i] = flags;
    return i;
  }

  /** Entry i is verified with this sha256 (a manifest read back: every entry is). */
  complete(i: number, sha256: string): void {
    if (!setHex(this.sha256s, i, SHA256_BYTES, sha256)) throw new RangeError(`file table: not a sha256: ${JSON.stringify(sha256)}`);
    this.flags[i] |= HAS_SHA256 | COMPLETE;
  }

  /** The table; the builder is spent. */
  build(): FileTable {
    const n = this.n;
    // Copies trimmed to the entries (the builder doubled its buffers as it grew).
    return new FileTable({
      length: n,
      pathBytes: Buffer.from(this.pathBytes.subarray(0, this.pathLength)),
      pathStart: this.pathStart.slice(0, n + 1),
      sizes: this.sizes.slice(0, n),
      flags: this.flags.slice(0, n),
      sha256s: this.sha256s.slice(0, n * SHA256_BYTES),
      sha1s: this.sha1s.slice(0, n * SHA1_BYTES),
    });
  }
}

interface Columns {
  readonly length: number;
  readonly pathBytes: Buffer;
  readonly pathStart: Uint32Array;
  readonly sizes: Float64Array;
  readonly flags: Uint8Array;
  readonly sha256s: Uint8Array;
  readonly sha1s: Uint8Array;
}

export class FileTable implements Iterable<ManifestFile> {
  readonly length: number;
  /** Sizes by index (read-only for callers: biggestFirst sorts by it). */
  readonly sizes: Float64Array;
  private readonly pathBytes: Buffer;
  /** Path i is pathBytes[pathStart[i], pathStart[i + 1]). */
  private readonly pathStart: Uint32Array;
  private readonly flags: Uint8Array;
  private readonly sha256s: Uint8Array;
  private readonly sha1s: Uint8Array;
  private completeCount = 0;

  /** Use `FileTable.of` or a FileTableBuilder. */
  constructor(c: Columns) {
    this.length = c.length;
    this.pathBytes = c.pathBytes;
    this.pathStart = c.pathStart;
    this.sizes = c.sizes;
    this.flags = c.flags;
    this.sha256s = c.sha256s;
    this.sha1s = c.sha1s;
    for (let i = 0; i < this.length; i++) if (this.flags[i] & COMPLETE) this.completeCount++;
  }

  static of(entries: Iterable<FileTableEntry>): FileTable {
    const b = new FileTableBuilder();
    for (const e of entries) b.add(e);
    return b.build();
  }

  path(i: number): string {
    return this.pathBytes.toString('utf8', this.pathStart[i], this.pathStart[i + 1]);
  }

  size(i: number): number {
    return this.sizes[i];
  }

  lfs(i: number): boolean {
    return (this.flags[i] & LFS) !== 0;
  }

  /** The sha256 the Hub published: LFS files only (known before the download). */
  listedSha256(i: number): string | undefined {
    return this.lfs(i) && this.flags[i] & HAS_SHA256 ? this.hex(this.sha256s, i, SHA256_BYTES) : undefined;
  }

  /** The listing's git blob sha1 (non-LFS files). */
  gitBlobSha1(i: number): string | undefined {
    return this.flags[i] & HAS_SHA1 ? this.hex(this.sha1s, i, SHA1_BYTES) : undefined;
  }

  /** The listing's entry, made anew (for the file in flight). */
  entry(i: number): FileTableEntry {
    return this.lfs(i)
      ? { path: this.path(i), size: this.sizes[i], lfs: true, sha256: this.listedSha256(i) }
      : { path: this.path(i), size: this.sizes[i], lfs: false, ...(this.flags[i] & HAS_SHA1 ? { gitBlobSha1: this.gitBlobSha1(i) } : {}) };
  }

  isComplete(i: number): boolean {
    return (this.flags[i] & COMPLETE) !== 0;
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
    if (!setHex(this.sha256s, i, SHA256_BYTES, sha256)) throw new RangeError(`file table: not a sha256: ${JSON.stringify(sha256)}`);
    if (!this.isComplete(i)) this.completeCount++;
    this.flags[i] |= HAS_SHA256 | COMPLETE;
  }

  /** The verified digests of a complete file. */
  digests(i: number): Digests {
    this.assertComplete(i);
    const sha256 = this.hex(this.sha256s, i, SHA256_BYTES);
    const gitBlobSha1 = this.gitBlobSha1(i);
    return gitBlobSha1 === undefined ? { size: this.sizes[i], sha256 } : { size: this.sizes[i], sha256, gitBlobSha1 };
  }

  /** The manifest's entry of a complete file, made anew. */
  manifestFile(i: number): ManifestFile {
    this.assertComplete(i);
    const sha256 = this.hex(this.sha256s, i, SHA256_BYTES);
    const gitBlobSha1 = this.gitBlobSha1(i);
    if (this.lfs(i)) return { path: this.path(i), size: this.sizes[i], sha256, lfs: true };
    return gitBlobSha1 === undefined
      ? { path: this.path(i), size: this.sizes[i], sha256, lfs: false }
      : { path: this.path(i), size: this.sizes[i], sha256, gitBlobSha1, lfs: false };
  }

  /** The manifest's entries, in table order (every file must be complete). */
  *[Symbol.iterator](): Iterator<ManifestFile> {
    for (let i = 0; i < this.length; i++) yield this.manifestFile(i);
  }

  /** As an array, for JSON.stringify of a manifest that holds a table. */
  toJSON(): ManifestFile[] {
    return Array.from(this);
  }

  private assertComplete(i: number): void {
    if (!this.isComplete(i)) throw new Error(`file table: ${this.path(i)} is not complete`);
  }

  private hex(column: Uint8Array, i: number, width: number): string {
    return Buffer.from(column.buffer, column.byteOffset + i * width, width).toString('hex');
  }

}
