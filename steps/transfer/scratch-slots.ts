// A bounded scratch disk: at most `size` files are on disk at once. A file takes a slot before its
// download starts and gives it back once its local copy is deleted (it is in S3, verified), so the
// volume needs room for the largest files in flight, not for the whole model.
import { promises as fs } from 'node:fs';
import { abortReason } from '../common/abort';

export class ScratchSlots {
  private readonly held = new Set<string>();
  private waiters: Array<{ readonly grant: () => void }> = [];
  /** Most files on disk at once (for logs and tests). */
  peak = 0;

  constructor(readonly size: number) {}

  /** Resolves once `destPath` may be written; rejects when `signal` aborts first. */
  acquire(destPath: string, signal: AbortSignal): Promise<void> {
    if (this.held.has(destPath)) return Promise.resolve();
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (this.held.size < this.size) {
      this.take(destPath);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          this.take(destPath);
          resolve();
        },
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Deletes the local copy (and any `.part`) of `destPath`, then frees its slot if it held one.
   * `keepFile`: a small file a later step reads locally stays, and its slot is freed all the same.
   */
  async release(destPath: string, opts: { keepFile?: boolean } = {}): Promise<void> {
    if (!opts.keepFile) {
      await fs.rm(destPath, { force: true });
      await fs.rm(`${destPath}.part`, { force: true });
    }
    if (!this.held.delete(destPath)) return;
    this.waiters.shift()?.grant();
  }

  private take(destPath: string): void {
    this.held.add(destPath);
    this.peak = Math.max(this.peak, this.held.size);
  }
}
