// WAN-like network shaping for the Hub fixture (and the bench's shaped S3 proxy): token buckets per
// connection and one shared by all connections, plus a first-byte delay per request. Bytes are paced
// in small slices as they are written, so nothing beyond one slice is ever held.
import type { Writable } from 'node:stream';

export interface ShapingOptions {
  /** Rate cap of each TCP connection, bytes/s (0 = none). @default 12_500_000 (100 Mbit/s) */
  readonly perConnectionBytesPerSec?: number;
  /** Delay before the first byte of every response (a WAN round trip plus server think time). @default 30 */
  readonly firstByteDelayMs?: number;
  /** Rate cap shared by all connections, bytes/s (0 = none). @default 100_000_000 (800 Mbit/s) */
  readonly totalBytesPerSec?: number;
}

export const DEFAULT_SHAPING: Required<ShapingOptions> = {
  perConnectionBytesPerSec: 12_500_000,
  firstByteDelayMs: 30,
  totalBytesPerSec: 100_000_000,
};

/** Bytes paced at once: small enough that connections interleave on the shared bucket. */
const SLICE = 64 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A token bucket that hands out reservations: `reserve(n)` takes n tokens at once (the balance may go
 * negative) and says how long the caller must wait before sending them. Waiters are therefore served in
 * the order they asked, with no polling. When idle, the balance refills up to `burstBytes`.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  /** @param burstBytes what an idle bucket saves up @default one slice or 50 ms of the rate, the larger (timer overshoot on a busy box must not lose tokens) */
  constructor(readonly bytesPerSec: number, readonly burstBytes = Math.max(SLICE, bytesPerSec / 20)) {
    if (!(bytesPerSec > 0)) throw new Error(`token bucket rate must be > 0, got ${bytesPerSec}`);
    this.tokens = burstBytes;
  }

  /** Takes `n` tokens; returns the milliseconds to wait before the n bytes may go. */
  reserve(n: number): number {
    const now = performance.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) * this.bytesPerSec) / 1000);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSec;
  }
}

/** Shaping state of one server (or proxy): the shared bucket and one bucket per connection. */
export class NetworkShaper {
  readonly options: Required<ShapingOptions>;
  private readonly total?: TokenBucket;
  private readonly perConnection = new WeakMap<object, TokenBucket>();

  constructor(opts: ShapingOptions = {}) {
    this.options = { ...DEFAULT_SHAPING, ...stripUndefined(opts) };
    const { perConnectionBytesPerSec: c, totalBytesPerSec: t, firstByteDelayMs: d } = this.options;
    if (!(c >= 0) || !(t >= 0) || !(d >= 0)) throw new Error(`shaping options must be >= 0: ${JSON.stringify(this.options)}`);
    if (t > 0) this.total = new TokenBucket(t);
  }

  /** The per-request latency; resolves at once when it is 0. */
  firstByte(): Promise<void> {
    return this.options.firstByteDelayMs > 0 ? sleep(this.options.firstByteDelayMs) : Promise.resolve();
  }

  /** Waits until `n` bytes may leave on `connection` (any object standing for one TCP connection). */
  async pace(connection: object, n: number): Promise<void> {
    let wait = this.total ? this.total.reserve(n) : 0;
    const rate = this.options.perConnectionBytesPerSec;
    if (rate > 0) {
      let b = this.perConnection.get(connection);
      if (!b) this.perConnection.set(connection, (b = new TokenBucket(rate)));
      wait = Math.max(wait, b.reserve(n));
    }
    if (wait >= 1) await sleep(wait);
  }

  /**
   * Writes `chunk` to `out` in paced slices, honouring back-pressure; resolves when the last slice is
   * handed to `out` (or `out` is gone).
   */
  async write(out: Writable, connection: object, chunk: Buffer): Promise<void> {
    for (let p = 0; p < chunk.length; p += SLICE) {
      if (out.destroyed) return;
      const slice = chunk.subarray(p, Math.min(chunk.length, p + SLICE));
      await this.pace(connection, slice.length);
      if (out.destroyed) return;
      if (!out.write(slice)) await drained(out);
    }
  }
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
