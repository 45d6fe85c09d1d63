// Transfer progress for download/upload: a redrawn bar on a TTY (stderr), a log line every few
// seconds otherwise (bytes, %, MB/s, ETA; JSON fields with --json), and Argo's progress file
// (`N/M`, at $ARGO_PROGRESS_FILE) so the Argo UI shows how far a step is.
import { renameSync, writeFileSync } from 'node:fs';
import { isJsonLogs, log } from './log';

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** Bytes/second as MB/s (decimal megabytes, like the bytes above). */
export function formatRate(bytesPerSecond: number): string {
  return `${(Math.max(0, bytesPerSecond) / 1e6).toFixed(1)} MB/s`;
}

/** Seconds as `42s`, `3m05s`, `1h02m`; `--` when unknown. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatPercent(done: number, total: number): string {
  if (total <= 0) return '100%';
  return `${Math.min(100, Math.floor((Math.max(0, done) / total) * 100))}%`;
}

/** `[#######.............]` for a fraction in [0, 1]. */
export function renderBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** Argo's progress format `N/M` (M > 0, 0 <= N <= M). Units are bytes here. */
export function formatArgoProgress(done: number, total: number): string {
  if (total <= 0) return done > 0 ? '1/1' : '0/1';
  const n = Math.min(total, Math.max(0, Math.floor(done)));
  return `${n}/${Math.floor(total)}`;
}

export interface ProgressSnapshot {
  readonly label: string;
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly doneFiles: number;
  readonly totalFiles: number;
  /** Bytes actually moved over the network (excludes files skipped/verified locally). */
  readonly transferredBytes: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds?: number;
  readonly elapsedSeconds: number;
}

export function formatProgressLine(s: ProgressSnapshot): string {
  return `${s.label}: ${formatPercent(s.doneBytes, s.totalBytes)} ${formatBytes(s.doneBytes)}/${formatBytes(s.totalBytes)} `
    + `${formatRate(s.bytesPerSecond)} ETA ${formatEta(s.etaSeconds)} (${s.doneFiles}/${s.totalFiles} files)`;
}

export type ProgressMode = 'bar' | 'log' | 'none';

export interface ProgressOptions {
  readonly label: string;
  readonly totalBytes: number;
  readonly totalFiles: number;
  /** @default process.stderr */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** @default 'bar' on a TTY without --json, else 'log' */
  readonly mode?: ProgressMode;
  /** Interval of log lines (and of progress-file writes). @default 5000 */
  readonly intervalMs?: number;
  /** @default process.env.ARGO_PROGRESS_FILE; null disables */
  readonly argoProgressFile?: string | null;
  readonly now?: () => number;
}

/** Tracks bytes/files done; reports on its own timer until finish(). */
export class Progress {
  private doneBytes = 0;
  private doneFiles = 0;
  private transferred = 0;
  private readonly started: number;
  private readonly samples: Array<{ t: number; bytes: number }> = [];
  private timer?: NodeJS.Timeout;
  private lastDraw = 0;
  private finished = false;
  private progressFileFailed = false;
  readonly mode: ProgressMode;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  private readonly now: () => number;
  private readonly progressFile?: string;
  private totalBytes: number;
  private totalFiles: number;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.totalBytes = opts.totalBytes;
    this.totalFiles = opts.totalFiles;
    this.mode = opts.mode ?? (this.stream.isTTY && !isJsonLogs() ? 'bar' : 'log');
    const file = opts.argoProgressFile === undefined ? process.env.ARGO_PROGRESS_FILE : opts.argoProgressFile;
    this.progressFile = file || undefined;
    this.samples.push({ t: this.started, bytes: 0 });
    const interval = this.mode === 'bar' ? 1000 : (opts.intervalMs ?? 5000);
    if (this.mode !== 'none' || this.progressFile) {
      this.timer = setInterval(() => this.report(), interval);
      this.timer.unref();
    }
    this.writeProgressFile();
  }

  setTotals(totalBytes: number, totalFiles: number): void {
    this.totalBytes = totalBytes;
    this.totalFiles = totalFiles;
  }

  /**
   * Counts `bytes` as done. `transferred: false` for bytes that were already on disk (verified
   * or resumed) so they do not inflate the rate. Negative bytes undo (a discarded corrupt part).
   */
  advance(bytes: number, opts: { transferred?: boolean } = {}): void {
    this.doneBytes += bytes;
    if (opts.transferred !== false) this.transferred += bytes;
    if (this.mode === 'bar' && this.now() - this.lastDraw >= 200) this.draw();
  }

  fileDone(): void {
    this.doneFiles++;
  }

  snapshot(): ProgressSnapshot {
    const t = this.now();
    // Rate over a sliding window of the last ~10 s.
    this.samples.push({ t, bytes: this.transferred });
    while (this.samples.length > 2 && t - this.samples[1].t >= 10_000) this.samples.shift();
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    const rate = dt > 0 ? Math.max(0, (this.transferred - first.bytes) / dt) : 0;
    const remaining = Math.max(0, this.totalBytes - this.doneBytes);
    return {
      label: this.opts.label,
      doneBytes: this.doneBytes,
      totalBytes: this.totalBytes,
      doneFiles: this.doneFiles,
      totalFiles: this.totalFiles,
      transferredBytes: this.transferred,
      bytesPerSecond: rate,
      etaSeconds: remaining === 0 ? 0 : rate > 0 ? remaining / rate : undefined,
      elapsedSeconds: (t - this.started) / 1000,
    };
  }

  private report(): void {
    if (this.finished) return;
    this.writeProgressFile();
    if (this.mode === 'bar') this.draw();
    else if (this.mode === 'log') this.logLine();
  }

  private logLine(): void {
    const s = this.snapshot();
    if (isJsonLogs()) {
      log.info(`${s.label} progress`, {
        doneBytes: s.doneBytes,
        totalBytes: s.totalBytes,
        percent: Number(((s.totalBytes > 0 ? s.doneBytes / s.totalBytes : 1) * 100).toFixed(1)),
        mbPerSecond: Number((s.bytesPerSecond / 1e6).toFixed(2)),
        etaSeconds: s.etaSeconds === undefined ? null : Math.round(s.etaSeconds),
        doneFiles: s.doneFiles,
        totalFiles: s.totalFiles,
      });
    } else {
      log.info(formatProgressLine(s));
    }
  }

  private draw(): void {
    this.lastDraw = this.now();
    const s = this.snapshot();
    const cols = this.stream.columns ?? 100;
    let line = `${renderBar(s.totalBytes > 0 ? s.doneBytes / s.totalBytes : 1)} ${formatProgressLine(s)}`;
    if (line.length > cols - 1) line = line.slice(0, Math.max(10, cols - 1));
    this.stream.write(`\r${line}\x1b[K`);
  }

  private writeProgressFile(): void {
    if (!this.progressFile || this.progressFileFailed) return;
    try {
      const tmp = `${this.progressFile}.tmp`;
      writeFileSync(tmp, formatArgoProgress(this.doneBytes, this.totalBytes));
      renameSync(tmp, this.progressFile);
    } catch (e) {
      this.progressFileFailed = true;
      log.warn('cannot write ARGO_PROGRESS_FILE; progress will not show in Argo', { file: this.progressFile, error: (e as Error).message });
    }
  }

  /** Stops the timer, writes the final progress, returns the last snapshot. */
  finish(opts: { success?: boolean } = {}): ProgressSnapshot {
    if (this.timer) clearInterval(this.timer);
    const s = this.snapshot();
    if (this.finished) return s;
    if (opts.success !== false) this.writeProgressFile();
    if (this.mode === 'bar') {
      this.draw();
      this.stream.write('\n');
    }
    this.finished = true;
    return s;
  }
}
