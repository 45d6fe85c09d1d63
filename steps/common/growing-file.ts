// A file that one party writes while another reads it: `mirror` uploads a file's parts while the
// download is still appending to it, so a model moves at max(download, upload) rather than their
// sum. The producer (downloadFile) reports how many bytes are on disk, restarts, the verified
// digests and failure; the consumer (uploadFile) waits for the range it needs and reads it from
// whichever path holds the bytes now (`<file>.part` while writing, `<file>` after the rename).
// On disk means written, not verified: the consumer publishes nothing before `digest` resolves.
// A ranged download fills several chunks at once, so besides the contiguous prefix the producer
// may report ranges further on (`filledRange`): a part whose bytes are all there can go before
// the prefix reaches it. Bytes once reported stay as they are until a reset.
import { createReadStream, promises as fs, type ReadStream } from 'node:fs';
import type { Digests } from './hash';

/** The producer threw the bytes away (hash mismatch, server ignored Range): read them again. */
export class GrowingFileReset extends Error {
  constructor(readonly path: string) {
    super(`${path} was restarted by the download; its bytes must be read again`);
    this.name = 'GrowingFileReset';
  }
}

interface Waiter {
  readonly start: number;
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

// A download plan makes one per file in flight (download-plan.ts); it holds no promise or closure
// until a consumer waits on it, and lets go of its promise once settled.
export class GrowingFile {
  private available = 0;
  /** Written ranges beyond the prefix, [start, end), sorted, disjoint, not adjacent. */
  private ranges?: Array<[number, number]>;
  private generationNo = 0;
  private finished?: Digests;
  private error?: unknown;
  private waiters?: Waiter[];
  /** Made when a consumer first asks for `digest`. */
  private digestPromise?: Promise<Digests>;
  private settleDigest?: { resolve: (d: Digests) => void; reject: (e: unknown) => void };

  constructor(
    /** Final path (`partPath` is renamed to it once verified). */
    readonly path: string,
    /** Size the tree lists. */
    readonly size: number,
  ) {}

  /** Where the producer appends until the file is verified. */
  get partPath(): string {
    return `${this.path}.part`;
  }

  // ---- producer side ----

  /** Bytes [0, bytesOnDisk) are written (and readable) in `partPath` or `path`. */
  advanced(bytesOnDisk: number): void {
    if (this.finished || this.error) return;
    this.available = Math.max(this.available, Math.min(bytesOnDisk, this.size));
    if (this.ranges) {
      // Ranges the prefix now reaches join it (sorted: one pass).
      const rest: Array<[number, number]> = [];
      for (const r of this.ranges) {
        if (r[0] <= this.available) this.available = Math.max(this.available, r[1]);
        else rest.push(r);
      }
      this.ranges = rest.length ? rest : undefined;
    }
    this.wake();
  }

  /** Bytes [start, end) are written (and readable), wherever the prefix is. */
  filledRange(start: number, end: number): void {
    if (this.finished || this.error) return;
    end = Math.min(end, this.size);
    if (end <= this.available) return;
    if (start <= this.available) {
      this.advanced(end);
      return;
    }
    // Merge with every range it touches or overlaps.
    const kept: Array<[number, number]> = [];
    let lo = start;
    let hi = end;
    for (const r of this.ranges ?? []) {
      if (r[1] < lo || r[0] > hi) kept.push(r);
      else {
        lo = Math.min(lo, r[0]);
        hi = Math.max(hi, r[1]);
      }
    }
    kept.push([lo, hi]);
    kept.sort((a, b) => a[0] - b[0]);
    this.ranges = kept;
    this.wake();
  }

  /** The producer truncated or deleted the part: everything read so far is void. */
  reset(): void {
    if (this.finished || this.error) return;
    this.available = 0;
    this.ranges = undefined;
    this.generationNo++;
    const waiters = this.waiters ?? [];
    this.waiters = undefined;
    for (const w of waiters) w.reject(new GrowingFileReset(this.path));
  }

  /** Verified and renamed to `path`. */
  completed(digests: Digests): void {
    if (this.finished || this.error) return;
    this.finished = digests;
    this.available = this.size;
    this.ranges = undefined;
    this.wake();
    this.settleDigest?.resolve(digests);
    this.settleDigest = undefined;
    // Whoever waits holds the promise; a later `digest` makes a settled one from `finished`.
    this.digestPromise = undefined;
  }

  /** The producer gave up on this file. */
  failed(error: unknown): void {
    if (this.finished || this.error) return;
    this.error = error;
    const waiters = this.waiters ?? [];
    this.waiters = undefined;
    for (const w of waiters) w.reject(error);
    this.settleDigest?.reject(error);
    this.settleDigest = undefined;
    this.digestPromise = undefined;
  }

  // ---- consumer side ----

  /** Bytes readable now. */
  get bytesAvailable(): number {
    return this.available;
  }

  /** Bumped on every reset; a consumer compares it before and after reading a range. */
  get generation(): number {
    return this.generationNo;
  }

  /** The producer gave up (failed() was called). */
  get hasFailed(): boolean {
    return this.error !== undefined;
  }

  get isComplete(): boolean {
    return this.finished !== undefined;
  }

  /** Resolves with the verified digests; rejects when the producer fails. */
  get digest(): Promise<Digests> {
    // Settled: a new settled promise each time, none kept (see the class comment).
    if (this.finished) return Promise.resolve(this.finished);
    if (this.error !== undefined) return handled(Promise.reject(this.error));
    this.digestPromise ??= handled(new Promise<Digests>((resolve, reject) => {
      this.settleDigest = { resolve, reject };
    }));
    return this.digestPromise;
  }

  /** Bytes [start, end) are written. */
  has(start: number, end: number): boolean {
    if (end <= this.available) return true;
    return this.ranges?.some((r) => r[0] <= start && end <= r[1]) ?? false;
  }

  /** Resolves once bytes [0, end) are readable; rejects on reset (GrowingFileReset) or failure. */
  waitFor(end: number, signal?: AbortSignal): Promise<void> {
    return this.waitForRange(0, end, signal);
  }

  /** Resolves once bytes [start, end) are readable; rejects on reset (GrowingFileReset) or failure. */
  waitForRange(start: number, end: number, signal?: AbortSignal): Promise<void> {
    if (this.error) return Promise.reject(this.error);
    if (this.has(start, end)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters?.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        start,
        end: Math.min(end, this.size),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      (this.waiters ??= []).push(waiter);
    });
  }

  /**
   * Opens bytes [start, end) for reading (`end` exclusive; the range must be available). The part
   * may be renamed between the check and the open, so ENOENT on one path tries the other.
   */
  async openRange(start: number, end: number, opts: { highWaterMark?: number } = {}): Promise<ReadStream> {
    if (!(start >= 0 && start < end)) throw new RangeError(`empty or negative range ${start}-${end} of ${this.path}`);
    if (!this.has(start, end)) throw new RangeError(`bytes ${start}-${end} of ${this.path} are not written yet (the first ${this.available} are)`);
    const candidates = this.finished ? [this.path] : [this.partPath, this.path];
    let lastError: unknown;
    for (const p of candidates) {
      let fh: fs.FileHandle;
      try {
        fh = await fs.open(p, 'r');
      } catch (e) {
        lastError = e;
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      // createReadStream's `end` is inclusive.
      return createReadStream('', { fd: fh, start, end: end - 1, highWaterMark: opts.highWaterMark, autoClose: true });
    }
    throw lastError;
  }

  private wake(): void {
    if (!this.waiters?.length) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.has(w.start, w.end)) w.resolve();
      else still.push(w);
    }
    this.waiters = still.length ? still : undefined;
  }
}

/** A consumer may stop listening (e.g. it gave up earlier): no unhandled rejection. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
