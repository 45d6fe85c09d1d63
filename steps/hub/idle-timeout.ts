// Every read from the Hub (and from the hosts it redirects to) is bounded: a server that accepts
// the connection and then sends nothing, or stops in the middle of a body, fails the attempt after
// `--idle-timeout` without a byte. The failure is transient (ETIMEDOUT), so it is retried, and a
// body resumes with Range after the bytes already on disk.

/** Default for --idle-timeout: a healthy Hub or CDN never goes this long without sending a byte. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export class IdleTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(what: string, ms: number) {
    super(`no data from ${what} for ${formatSeconds(ms)}`);
    this.name = 'IdleTimeoutError';
  }
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/**
 * A timer that fires `onIdle` once after `ms` without a `touch()`. `pause()` stops it while we
 * ourselves hold the stream (disk backpressure), `resume()` restarts the full interval.
 */
export class IdleTimer {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly ms: number, private readonly onIdle: () => void) {
    this.touch();
  }

  touch(): void {
    if (this.stopped) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.stopped = true;
        this.onIdle();
      }, this.ms);
      this.timer.unref?.();
    }
  }

  pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    this.touch();
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }
}

/** The host part of a URL for messages (origin + path, never the query: it may hold signatures). */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    const i = url.search(/[?#]/);
    return i < 0 ? url : url.slice(0, i);
  }
}
