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
/** sha256 is known: published (LFS) or verified (set by `completed`). */
const HAS_SHA256 = 2;
const COMPLETE = 4;

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

  constructor(entries: ReadonlyArray<FileTableEntry>) {
    const n = entries.length;
    this.length = n;
    let bytes = 0;
    for (const e of entries) bytes += Buffer.byteLength(e.path);
    if (bytes > 0xffffffff) throw new RangeError(`file table: ${bytes} bytes of paths is over the 4 GiB it can index`);
    this.pathBytes = Buffer.allocUnsafeSlow(bytes);
    this.pathStart = new Uint32Array(n + 1);
    this.sizes = new Float64Array(n);
    this.flags = new Uint8Array(n);
    this.sha256s = new Uint8Array(n * SHA256_BYTES);
    this.sha1s = new Uint8Array(n * SHA1_BYTES);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      this.pathStart[i] = at;
      at += this.pathBytes.write(e.path, at, 'utf8');
      this.sizes[i] = e.size;
      if (e.lfs) {
        this.flags[i] = LFS;
        if (e.sha256 !== undefined && this.setHex(this.sha256s, i, SHA256_BYTES, e.sha256)) this.flags[i] |= HAS_SHA256;
      } else if (e.gitBlobSha1 !== undefined) {
        this.setHex(this.sha1s, i, SHA1_BYTES, e.gitBlobSha1);
      }
    }
    this.pathStart[n] = at;
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
    return this.lfs(i) ? undefined : this.hex(this.sha1s, i, SHA1_BYTES);
  }

  /** The listing's entry, made anew (for the file in flight). */
  entry(i: number): FileTableEntry {
    return this.lfs(i)
      ? { path: this.path(i), size: this.sizes[i], lfs: true, sha256: this.listedSha256(i) }
      : { path: this.path(i), size: this.sizes[i], lfs: false, gitBlobSha1: this.gitBlobSha1(i) };
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
    if (!this.setHex(this.sha256s, i, SHA256_BYTES, sha256)) throw new RangeError(`file table: not a sha256: ${JSON.stringify(sha256)}`);
    if (!this.isComplete(i)) this.completeCount++;
    this.flags[i] |= HAS_SHA256 | COMPLETE;
  }

  /** The verified digests of a complete file. */
  digests(i: number): Digests {
    this.assertComplete(i);
    const sha256 = this.hex(this.sha256s, i, SHA256_BYTES);
    return this.lfs(i) ? { size: this.sizes[i], sha256 } : { size: this.sizes[i], sha256, gitBlobSha1: this.hex(this.sha1s, i, SHA1_BYTES) };
  }

  /** The manifest's entry of a complete file, made anew. */
  manifestFile(i: number): ManifestFile {
    this.assertComplete(i);
    const sha256 = this.hex(this.sha256s, i, SHA256_BYTES);
    return this.lfs(i)
      ? { path: this.path(i), size: this.sizes[i], sha256, lfs: true }
      : { path: this.path(i), size: this.sizes[i], sha256, gitBlobSha1: this.hex(this.sha1s, i, SHA1_BYTES), lfs: false };
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

  /** Writes `hex` into row i; false (nothing written) if it is not `width` bytes of hex. */
  private setHex(column: Uint8Array, i: number, width: number, hex: string): boolean {
    if (hex.length !== width * 2 || !/^[0-9a-f]+$/.test(hex)) return false;
    Buffer.from(column.buffer, column.byteOffset + i * width, width).write(hex, 'hex');
    return true;
  }
}
