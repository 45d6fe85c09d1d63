// Streaming content hashes: sha256 for every file, git blob sha1 (the Hub `oid` of non-LFS
// files) when asked. Both are fed the same bytes in one pass.
import { createHash, type Hash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';

export interface Digests {
  readonly size: number;
  readonly sha256: string;
  readonly gitBlobSha1?: string;
}

/** The header git hashes before a blob's bytes: `blob <size>\0`. */
export function gitBlobHeader(size: number): Buffer {
  return Buffer.from(`blob ${size}\0`, 'utf8');
}

/** Git blob sha1 of an in-memory buffer (what `git hash-object` prints). */
export function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(gitBlobHeader(content.length)).update(content).digest('hex');
}

export function sha256Hex(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Incremental hasher. The git blob sha1 needs the final size up front (it is in the header);
 * pass the expected size: if the bytes fed differ from it the sha1 simply will not match.
 */
export class ContentHasher {
  private readonly sha256 = createHash('sha256');
  private readonly sha1?: Hash;
  private count = 0;

  constructor(opts: { gitBlobSize?: number } = {}) {
    if (opts.gitBlobSize !== undefined) {
      this.sha1 = createHash('sha1');
      this.sha1.update(gitBlobHeader(opts.gitBlobSize));
    }
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.sha1?.update(chunk);
    this.count += chunk.length;
  }

  get bytes(): number {
    return this.count;
  }

  digest(): Digests {
    return {
      size: this.count,
      sha256: this.sha256.digest('hex'),
      ...(this.sha1 ? { gitBlobSha1: this.sha1.digest('hex') } : {}),
    };
  }
}

/** Bytes read per step when hashing a file. */
const HASH_READ_BYTES = 1024 * 1024;

/**
 * Feeds a file into `hasher`, calling `onBytes` as it goes. Reads into one reused 1 MiB buffer
 * (the hash copies what it is fed): a file read back from the page cache at GB/s would otherwise
 * leave a new dead Buffer per MiB, faster than any GC reclaims them (issue #17's memory budget).
 * An aborted `signal` stops it with an AbortError whose cause is the signal's reason, as a read
 * stream's would.
 */
export async function hashFileInto(
  file: string,
  hasher: ContentHasher,
  opts: { onBytes?: (n: number) => void; signal?: AbortSignal } = {},
): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
    for (;;) {
      if (opts.signal?.aborted) {
        throw Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: opts.signal.reason });
      }
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      hasher.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      opts.onBytes?.(bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/** Hashes a whole file. `gitBlob: true` also computes the git blob sha1 (needs one stat). */
export async function hashFile(
  file: string,
  opts: { gitBlob?: boolean; onBytes?: (n: number) => void; signal?: AbortSignal } = {},
): Promise<Digests> {
  let gitBlobSize: number | undefined;
  if (opts.gitBlob) {
    gitBlobSize = (await stat(file)).size;
  }
  const hasher = new ContentHasher({ gitBlobSize });
  await hashFileInto(file, hasher, opts);
  return hasher.digest();
}
