// One budget of S3 requests with a body in flight (UploadPart / PutObject), shared by every file
// of an upload: memory and sockets stay bounded by the budget, not by files x parts.
// First come, first served, so files started together share it fairly.

import { abortReason } from '../common/abort';

export type Release = () => void;

export class PartBudget {
  private inUse = 0;
  private peakInUse = 0;
  private readonly queue: Array<{ grant: () => void; reject: (e: unknown) => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`part budget must be a positive integer, got ${limit}`);
  }

  /** Slots taken now. */
  get active(): number {
    return this.inUse;
  }

  /** Most slots ever taken at once (for tests and logs). */
  get peak(): number {
    return this.peakInUse;
  }

  /** Waits for a slot. The returned function gives it back (calling it twice is harmless). */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.inUse < this.limit && this.queue.length === 0) return Promise.resolve(this.take());
    return new Promise<Release>((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take());
        },
        reject,
      };
      const onAbort = () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }

  /** Runs `fn` holding one slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private take(): Release {
    this.inUse++;
    this.peakInUse = Math.max(this.peakInUse, this.inUse);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      const next = this.queue.shift();
      if (next) next.grant();
    };
  }
}

