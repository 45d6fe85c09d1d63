// Abort-signal helpers shared by the transfer code.
import { ExitCode, UserError } from './errors';

/** What to throw once `signal` aborted: the reason the aborter gave, else an AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

/** Settles like `p`, or rejects with the abort reason as soon as `signal` aborts (`p` runs on). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The abort reason of a run whose --deadline passed. */
export class DeadlinePassed extends Error {
  constructor(readonly deadline: string) {
    super(`the deadline (--deadline ${deadline}) passed`);
    this.name = 'DeadlinePassed';
  }
}

/** What a command reports when its --deadline passed (exit 5: a later run with more time can finish). */
export class DeadlineError extends UserError {
  constructor(deadline: string, progress: string, hint: string) {
    super(`The deadline (--deadline ${deadline}) passed ${progress}`, { exitCode: ExitCode.Unavailable, hint });
  }
}

/** True when `signal` was aborted because a --deadline passed. */
export function deadlinePassed(signal: AbortSignal | undefined): signal is AbortSignal & { reason: DeadlinePassed } {
  return !!signal?.aborted && signal.reason instanceof DeadlinePassed;
}

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a duration such as `90` or `90s` (seconds), `15m`, `2h`, `1h30m`, `1.5h` into
 * milliseconds. Anything else, zero or negative is a usage error naming `flag`.
 */
export function parseDuration(text: unknown, flag: string): number {
  const s = String(text ?? '').trim().toLowerCase();
  let seconds = 0;
  let rest = s;
  if (/^\d+(\.\d+)?$/.test(s)) {
    seconds = Number(s);
    rest = '';
  }
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)([smhd])/.exec(rest);
    if (!m) {
      seconds = NaN;
      break;
    }
    seconds += Number(m[1]) * DURATION_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  if (!s || !Number.isFinite(seconds) || seconds <= 0 || seconds > 30 * 86400) {
    throw new UserError(`${flag} must be a duration such as 90s, 15m, 2h or 1h30m (plain numbers are seconds; at most 30d), got ${JSON.stringify(text)}`, { exitCode: ExitCode.Usage });
  }
  return Math.round(seconds * 1000);
}

const RERUN_HINT = 'Rerun the same command (same --dest / --work-dir): complete files are verified and kept, partial ones resume.';

/** A running --deadline: its signal aborts with DeadlinePassed when the time is up. */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, readonly label: string) {
    this.timer = setTimeout(() => this.controller.abort(new DeadlinePassed(label)), ms);
    this.timer.unref?.();
  }

  /** `--deadline` parsed and started, or undefined when the flag was not given. */
  static start(text: string | undefined): Deadline | undefined {
    return text === undefined ? undefined : new Deadline(parseDuration(text, '--deadline'), String(text));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Drops the timer (when the command ends, so the process exits at once). */
  clear(): void {
    clearTimeout(this.timer);
  }

  /** Throws the DeadlineError for `what` (e.g. `before register`) once the deadline passed. */
  check(what: string): void {
    if (this.controller.signal.aborted) throw new DeadlineError(this.label, what, RERUN_HINT);
  }

  /** `error` as the DeadlineError it is when the deadline passed (a DeadlineError already says how far it got). */
  explain(error: unknown, what: string): unknown {
    if (!this.controller.signal.aborted || error instanceof DeadlineError) return error;
    return new DeadlineError(this.label, what, RERUN_HINT);
  }

  /** Settles like `p`, or fails with the DeadlineError as soon as the deadline passes (`p` runs on). */
  async bound<T>(p: Promise<T>, what: string): Promise<T> {
    try {
      return await untilAborted(p, this.controller.signal);
    } catch (e) {
      throw this.explain(e, what);
    }
  }
}
