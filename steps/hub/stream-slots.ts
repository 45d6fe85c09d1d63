// A cap on the Hub streams (open file GETs) of one process, shared by every file: with
// `--concurrency 4` and 8 streams per file, 16 slots keep it at 16 connections, not 32.
// First come, first served; a waiter that is aborted leaves the queue.

export class StreamSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    this.free = Math.max(1, Math.floor(limit));
  }

  /** Waits for a slot; call the returned function (once) to give it back. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.free > 0) this.free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(grant);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(grant);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.free++;
    };
  }
}
