// Fetches one big file as several `Range: bytes=a-b` requests at once (one per chunk, see
// chunk-plan.ts), each written with positional writes into the same `<file>.part`:
//  - up to `streams` chunks in flight, each holding a slot of the process-wide StreamSlots;
//  - a dropped chunk resumes inside itself; failures share the file's budget (retries without
//    new bytes anywhere in the file, requests in all), with backoff; a fatal error or the
//    caller's abort stops every stream of the file;
//  - each answer is checked: type and length (file-answer.ts), and a 206 for other bytes than
//    asked is retried; a 200 (a CDN that ignores Range) stops the other streams and is handed
//    back, so the caller takes that body from byte 0 over one stream;
//  - the hash sees the contiguous prefix on disk, in order: a write at the hashed frontier is
//    hashed from memory, the rest is read back from the part (page cache) as the prefix grows, so
//    a finished file needs no second pass; the GrowingFile is told about the prefix and about
//    each chunk's written bytes (an upload part can go as soon as its bytes are on disk);
//  - `<file>.part.chunks` (chunk-state.ts) records what is on disk: at every chunk's end, every
//    second while bytes arrive, and when the transfer stops, so a rerun after SIGKILL keeps it.
// Memory: per stream at most MAX_QUEUED bytes wait for the disk (the socket pauses), plus one
// read-back buffer per file: with the default 16 Hub streams over 4 files, 8 + 4 MiB at most.
// (At 1 MiB and 2 MiB, the WAN bench's 4 x 256 MiB mirror peaked at 153-162 MB, over the 150 MB
// budget; at 512 KiB and 1 MiB, 141-144 MB, at the same CPU time and throughput.)
import { constants as fsConstants, promises as fs } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { GrowingFile } from '../common/growing-file';
import { ContentHasher, type Digests } from '../common/hash';
import { log } from '../common/log';
import { describeRetryError, isRetryableError, isRetryableStatus, retryDelay, RetryableError, sleep, type RetryOptions } from '../common/retry';
import type { Chunk } from './chunk-plan';
import { filledFromRanges, rangesFromFilled, readChunkRecord, removeChunkRecord, writeChunkRecord } from './chunk-state';
import { refuseFileAnswer } from './file-answer';
import { getFollowingRedirects, hubErrorFromMessage, retryableFromMessage, type HubResponse } from './http-get';
import { DEFAULT_IDLE_TIMEOUT_MS, describeTarget, IdleTimeoutError, IdleTimer } from './idle-timeout';
import type { RepoFile } from './list-files';
import { PartWriter, pumpBody } from './part-writer';
import type { StreamSlots } from './stream-slots';
import { GaveUp, localStorageError, NotTheFile } from './transfer-errors';

export interface RangedDownloadProps {
  readonly url: string;
  readonly hubUrl: string;
  readonly accessToken?: string;
  readonly file: RepoFile;
  readonly part: string;
  readonly chunks: readonly Chunk[];
  /** Chunks in flight at once for this file. */
  readonly streams: number;
  readonly slots: StreamSlots;
  readonly retry?: RetryOptions;
  readonly budget: { readonly retries: number; readonly requests: number };
  /** Requests this file made so far (all attempts); advanced here. */
  readonly requests: { count: number };
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (deltaBytes: number, transferred: boolean) => void;
  readonly growing?: GrowingFile;
  readonly signal?: AbortSignal;
}

export type RangedOutcome =
  | { readonly kind: 'complete'; readonly digests: Digests; readonly transferred: number; readonly resumed: boolean; readonly reported: number }
  /** A Range request was answered 200 with the whole body: the caller reads it from byte 0 (the part is as it was). */
  | { readonly kind: 'whole-body'; readonly answer: HubResponse; readonly transferred: number; readonly resumed: boolean; readonly reported: number };

/** Bytes gathered per positional write. */
const WRITE_BATCH = 256 * 1024;
/** Received-but-unwritten bytes at which one stream's socket is paused. */
const MAX_QUEUED = 512 * 1024;
/** Read-back size when hashing bytes that arrived ahead of the hashed prefix. */
const HASH_READ = 1024 * 1024;
/** The resume record is rewritten at most this often while bytes arrive (and at every chunk's end). */
const RECORD_INTERVAL_MS = 1000;

/** The part's bytes and how far each chunk got; the hash of the contiguous prefix. */
class PartProgress {
  readonly filled: number[];
  private hashed = 0;
  private prefixEnd = 0;
  private reading?: Promise<void>;
  private readError?: unknown;
  private readonly buf = Buffer.allocUnsafe(HASH_READ);

  constructor(
    readonly chunks: readonly Chunk[],
    filled: number[],
    /** The part, open for positional writes and read-back. */
    readonly fh: fs.FileHandle,
    private readonly hasher: ContentHasher,
    private readonly growing?: GrowingFile,
  ) {
    this.filled = filled;
    // A resumed part: what each chunk already holds can be read before the prefix gets there.
    filled.forEach((f, i) => { if (f > 0) this.growing?.filledRange(chunks[i].start, chunks[i].start + f); });
    this.advancePrefix();
  }

  get bytesOnDisk(): number {
    return this.filled.reduce((n, f) => n + f, 0);
  }

  isComplete(i: number): boolean {
    return this.filled[i] === this.chunks[i].end - this.chunks[i].start;
  }

  /** Called after a write of `buffers` at `position` (in chunk `i`) resolved. */
  written(i: number, position: number, buffers: readonly Buffer[], bytes: number): void {
    this.filled[i] += bytes;
    // Readable now, ahead of the prefix too (an upload part inside this chunk can go).
    this.growing?.filledRange(this.chunks[i].start, this.chunks[i].start + this.filled[i]);
    // At the hashed frontier with no read-back running: hash from memory, no read.
    if (position === this.hashed && !this.reading) {
      for (const b of buffers) this.hasher.update(b);
      this.hashed += bytes;
    }
    this.advancePrefix();
  }

  private advancePrefix(): void {
    let end = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      end = this.chunks[i].start + this.filled[i];
      if (!this.isComplete(i)) break;
    }
    if (end > this.prefixEnd) {
      this.prefixEnd = end;
      this.growing?.advanced(end);
    }
    this.kickReadBack();
  }

  private kickReadBack(): void {
    if (this.reading || this.readError || this.hashed >= this.prefixEnd) return;
    // Checked again when it ends: a write may have landed while it was finishing.
    this.reading = this.readBack().finally(() => {
      this.reading = undefined;
      this.kickReadBack();
    });
  }

  /** Hashes [hashed, prefixEnd) from the part, in order, until it catches up. */
  private async readBack(): Promise<void> {
    try {
      while (this.hashed < this.prefixEnd) {
        const n = Math.min(this.buf.length, this.prefixEnd - this.hashed);
        const { bytesRead } = await this.fh.read(this.buf, 0, n, this.hashed);
        if (bytesRead === 0) throw new Error(`${this.prefixEnd - this.hashed} bytes written at ${this.hashed} cannot be read back`);
        this.hasher.update(this.buf.subarray(0, bytesRead));
        this.hashed += bytesRead;
      }
    } catch (e) {
      this.readError ??= e;
    }
  }

  /** Waits for the hash to reach the prefix; throws a read-back failure. */
  async settled(): Promise<void> {
    while (this.reading) await this.reading;
    if (this.readError) throw this.readError;
  }
}

/** Writes the resume record when asked, one write at a time, never more than needed. */
class RecordKeeper {
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  private failure?: unknown;

  constructor(private readonly part: string, private readonly size: number, private readonly progress: PartProgress) {}

  /** Soon (throttled): bytes arrived. */
  touched(): void {
    if (this.timer || this.queued) return;
    const wait = Math.max(0, this.lastAt + RECORD_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, wait);
    this.timer.unref?.();
  }

  /** Now: a chunk completed or the transfer stops. */
  save(): Promise<void> {
    if (this.queued) return this.chain;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      this.lastAt = Date.now();
      // A snapshot of what is on disk now: every write it counts has resolved.
      const ranges = rangesFromFilled(this.progress.chunks, this.progress.filled);
      try {
        await writeChunkRecord(this.part, this.size, ranges);
      } catch (e) {
        this.failure ??= e;
      }
    });
    return this.chain;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
    if (this.failure) throw localStorageError(this.failure, `${this.part}.chunks`);
  }
}

/** Loads what a previous run left: a record (holes allowed), a legacy contiguous part, or nothing. */
async function loadFilled(part: string, file: RepoFile, chunks: readonly Chunk[]): Promise<number[]> {
  let partSize = 0;
  try {
    partSize = (await fs.lstat(part)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const record = await readChunkRecord(part, file.size, partSize);
  if (record.kind === 'ranges') return filledFromRanges(chunks, record.ranges);
  if (record.kind === 'invalid' || partSize > file.size) {
    // Holes of unknown extent: nothing in the part can be trusted. The part goes first, so a
    // kill in between leaves a record without a part (read as empty), never the reverse.
    log.warn(`${file.path}: discarding the partial download (${record.kind === 'invalid' ? `its chunk record is unusable: ${record.reason}` : 'the part is larger than the file'})`);
    await fs.rm(part, { force: true });
    await removeChunkRecord(part);
    return chunks.map(() => 0);
  }
  // No record: the part is a contiguous prefix (single-stream path, older versions).
  return filledFromRanges(chunks, partSize > 0 ? [[0, partSize]] : []);
}

/** Pulls one chunk's missing bytes with a Range GET. Throws on any failure (bytes written stay counted). */
async function fetchChunk(
  props: RangedDownloadProps, progress: PartProgress, records: RecordKeeper, chunk: Chunk, signal: AbortSignal,
  counters: { transferred: number; reported: number }, onWhole: (answer: HubResponse) => boolean, onRangeHonoured: () => void,
): Promise<void> {
  const { file } = props;
  const size = file.size;
  const idleMs = props.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const start = chunk.start + progress.filled[chunk.index];
  const end = chunk.end;
  const range = `bytes=${start}-${end - 1}`;
  const answer = await getFollowingRedirects(props.url, { hubUrl: props.hubUrl, accessToken: props.accessToken, signal, idleTimeoutMs: props.idleTimeoutMs, headers: { range } });
  const { res, url: answeredBy, redirected } = answer;
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    if (isRetryableStatus(status) || status === 416) throw await retryableFromMessage(res, answeredBy, idleMs);
    throw await hubErrorFromMessage(res, answeredBy, idleMs);
  }
  const refused = refuseFileAnswer({ status, headers: res.headers, offset: status === 206 ? start : 0, end: status === 206 ? end : size, path: file.path, size });
  if (refused) {
    res.destroy();
    const from = redirected ? `the redirect target ${describeTarget(answeredBy)}` : describeTarget(answeredBy);
    throw new NotTheFile(`${from} answered ${file.path} (${range}) with ${refused.reason}; nothing of that answer was kept`, refused.kind);
  }
  if (status !== 206) {
    // Range ignored: the whole body is here. One stream takes it; the others stop.
    if (!onWhole(answer)) res.destroy();
    return;
  }
  const contentRange = res.headers['content-range'] ?? '';
  const m = /^bytes\s+(\d+)-(\d+)\//i.exec(contentRange);
  if (!m || Number(m[1]) !== start || Number(m[2]) !== end - 1) {
    res.destroy();
    throw new RetryableError(`${describeTarget(answeredBy)} answered ${range} of ${file.path} with Content-Range ${JSON.stringify(contentRange)}`);
  }
  onRangeHonoured();
  await receiveChunk(res, answeredBy, props, progress, records, chunk, start, counters);
  const missing = end - (chunk.start + progress.filled[chunk.index]);
  if (missing > 0) throw new RetryableError(`${describeTarget(answeredBy)} closed the connection ${missing} bytes short of the end of ${range} of ${file.path}`);
}

/** Writes `res`'s body at `start`.., pausing the socket while the disk is behind. */
async function receiveChunk(
  res: IncomingMessage, target: string, props: RangedDownloadProps, progress: PartProgress, records: RecordKeeper,
  chunk: Chunk, start: number, counters: { transferred: number; reported: number },
): Promise<void> {
  const idleMs = props.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let at = start;
  const writer = new PartWriter(progress.fh, WRITE_BATCH, (buffers, bytes) => {
    // Runs after the write resolved: the hash, the record and readers see bytes on disk only.
    const position = at;
    at += bytes;
    progress.written(chunk.index, position, buffers, bytes);
    counters.reported += bytes;
    props.onProgress?.(bytes, true);
    if (progress.isComplete(chunk.index)) void records.save();
    else records.touched();
  }, start);
  let received = start;
  const idle = new IdleTimer(idleMs, () => res.destroy(new IdleTimeoutError(`${describeTarget(target)} (${props.file.path} stalled at byte ${received} of chunk ${chunk.start}-${chunk.end - 1})`, idleMs)));
  try {
    await pumpBody(res, writer, {
      idle,
      maxQueued: MAX_QUEUED,
      accept: (data) => {
        counters.transferred += data.length;
        received += data.length;
        return received > chunk.end ? new RetryableError(`${describeTarget(target)} sent more than the bytes ${start}-${chunk.end - 1} asked for of ${props.file.path}`) : undefined;
      },
    });
  } finally {
    idle.stop();
    // Keep what arrived before a drop: the chunk resumes after it.
    try {
      await writer.drain();
    } catch (e) {
      // eslint-disable-next-line no-unsafe-finally
      throw localStorageError(e, props.part);
    }
  }
}

/**
 * Downloads the missing chunks of `props.file` into `props.part`. Resolves with the digests of
 * the whole part (the caller verifies them), or with a 200 answer to take over one stream.
 */
export async function rangedDownload(props: RangedDownloadProps): Promise<RangedOutcome> {
  const { file, part, chunks } = props;
  const filled = await loadFilled(part, file, chunks);
  // The record exists before the part gets any out-of-order byte (see chunk-state.ts).
  await writeChunkRecord(part, file.size, rangesFromFilled(chunks, filled)).catch((e) => {
    throw localStorageError(e, `${part}.chunks`);
  });
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(part, fsConstants.O_RDWR | fsConstants.O_CREAT);
  } catch (e) {
    throw localStorageError(e, part);
  }
  const hasher = new ContentHasher({ gitBlobSize: file.lfs ? undefined : file.size });
  const progress = new PartProgress(chunks, filled, fh, hasher, props.growing);
  const records = new RecordKeeper(part, file.size, progress);
  const resumedBytes = progress.bytesOnDisk;
  const counters = { transferred: 0, reported: resumedBytes };
  if (resumedBytes > 0) {
    props.onProgress?.(resumedBytes, false);
    log.debug(`resuming ${file.path}: ${resumedBytes} of ${file.size} bytes on disk in ${chunks.filter((c) => progress.isComplete(c.index)).length} complete chunks`);
  }

  // Stops every stream of this file: a fatal error, or one stream took the whole body. Each
  // request has its own controller so the one whose body is taken over keeps going.
  const stop = new AbortController();
  const signal = props.signal ? AbortSignal.any([props.signal, stop.signal]) : stop.signal;
  const inflight = new Set<AbortController>();
  let fatal: { error: unknown } | undefined;
  let whole: HubResponse | undefined;
  const stopAll = (reason: unknown, except?: AbortController) => {
    stop.abort(reason);
    for (const c of inflight) if (c !== except) c.abort(reason);
  };
  const fail = (error: unknown) => {
    fatal ??= { error };
    stopAll(error);
  };

  const pending = chunks.filter((c) => !progress.isComplete(c.index));
  // The first request goes alone: only once an answer honours Range do the other streams open
  // (a server that ignores Range then costs one stream, not `streams` whole bodies).
  let openOthers!: () => void;
  const othersMayOpen = new Promise<void>((resolve) => (openOthers = resolve));
  let stalls = 0;
  let highWater = progress.bytesOnDisk;
  const worker = async (first: boolean): Promise<void> => {
    if (!first) await othersMayOpen;
    try {
      await streamChunks(first);
    } finally {
      // Stopped before its first request (an abort while the part was being opened): the others
      // must not wait for a request that will never be made.
      if (first) openOthers();
    }
  };
  const streamChunks = async (first: boolean): Promise<void> => {
    for (let chunk = pending.shift(); chunk && !signal.aborted; chunk = pending.shift()) {
      while (!progress.isComplete(chunk.index) && !signal.aborted) {
        let release: (() => void) | undefined;
        const own = new AbortController();
        try {
          release = await props.slots.acquire(signal);
          props.requests.count++;
          inflight.add(own);
          const requestSignal = props.signal ? AbortSignal.any([props.signal, own.signal]) : own.signal;
          let tookOver = false;
          await fetchChunk(props, progress, records, chunk, requestSignal, counters, (answer) => {
            if (whole || fatal) return false;
            whole = answer;
            tookOver = true;
            log.info(`${describeTarget(answer.url)} ignores Range for ${file.path} (200 with the whole body): taking it over one stream`);
            stopAll(new Error('another stream took the whole body'), own);
            return true;
          }, openOthers);
          if (tookOver) return;
        } catch (e) {
          if (signal.aborted) {
            // Stopped by another stream, or by the caller (whose reason wins).
            if (props.signal?.aborted) fail(e);
            return;
          }
          if (!isRetryableError(e) || (e instanceof NotTheFile && e.kind === 'type')) {
            fail(e);
            return;
          }
          const onDisk = progress.bytesOnDisk;
          if (onDisk > highWater) {
            highWater = onDisk;
            stalls = 0;
          } else stalls++;
          if (stalls > props.budget.retries || props.requests.count >= props.budget.requests) {
            fail(new GaveUp(e, props.requests.count, stalls, onDisk));
            return;
          }
          release?.();
          release = undefined;
          const delayMs = retryDelay(Math.max(1, stalls), e, props.retry);
          log.warn(`${file.path} bytes ${chunk.start}-${chunk.end - 1}: ${describeRetryError(e)}; retrying in ${(delayMs / 1000).toFixed(1)}s (request ${props.requests.count}/${props.budget.requests}, ${stalls}/${props.budget.retries} without progress, ${onDisk}/${file.size} bytes on disk)`);
          try {
            await sleep(delayMs, signal);
          } catch {
            if (props.signal?.aborted) fail(props.signal.reason);
            return;
          }
        } finally {
          inflight.delete(own);
          release?.();
          if (first) openOthers(); // after a failure too: the others retry on their own
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(props.streams, pending.length)) }, (_, i) => worker(i === 0)));
    await progress.settled();
  } finally {
    // What is on disk now is what a rerun keeps (also after a deadline or a failure).
    const closing = records.close();
    await fh.close().catch(() => undefined);
    await closing.catch((e) => fail(e));
  }
  if (fatal) {
    if (whole) whole.res.destroy();
    throw fatal.error;
  }
  const resumed = resumedBytes > 0;
  if (whole) return { kind: 'whole-body', answer: whole, transferred: counters.transferred, resumed, reported: counters.reported };
  if (props.signal?.aborted) throw props.signal.reason;
  return { kind: 'complete', digests: hasher.digest(), transferred: counters.transferred, resumed, reported: counters.reported };
}
