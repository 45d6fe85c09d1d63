// Appends a response body to `<file>.part` without stopping the socket for every write: chunks
// are gathered into batches and each batch is written with one writev, one write at a time, in
// order, while the next batch is being received. The caller pauses the body while
// `queuedBytes` is high (the disk is behind), so memory stays bounded.
// `onWritten` runs after each write resolved, in order: it sees only bytes that are on disk (the
// hasher and the GrowingFile rely on that). Once it returns, the batch's chunks are freed
// (release-buffer.ts): the writer owns what is pushed to it, and nothing reads a chunk after that.
// Measured alternative: copying chunks into recycled 1 MiB buffers and writing those tripled the
// kernel time here, so the socket's own chunks are written as they are (writev, no copy).
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { releaseBuffers } from '../common/release-buffer';

export class PartWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private queued = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure?: { error: unknown };
  private belowWaiters: Array<() => void> = [];

  constructor(
    private readonly fh: FileHandle,
    /** Bytes gathered before a write is issued. */
    private readonly batchSize: number,
    /** Called in order after each write resolved, with the buffers written; they are freed when it returns. */
    private readonly onWritten: (buffers: readonly Buffer[], bytes: number) => void,
    /** Write at this offset and onwards (positional writes); undefined appends at the file's position. */
    private position?: number,
  ) {}

  /** Bytes received but not yet on disk (gathered + being written). */
  get queuedBytes(): number {
    return this.queued + this.batchBytes;
  }

  /** The first write error, if any (the caller stops receiving). */
  get error(): unknown {
    return this.failure?.error;
  }

  /** Hands `chunk` to the writer: the caller must not read it afterwards (its memory is freed once written). */
  push(chunk: Buffer): void {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= this.batchSize) this.flush();
  }

  /** Issues a write for what is gathered (no-op when empty or after a failure). */
  flush(): void {
    if (this.batchBytes === 0 || this.failure) return;
    const buffers = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.queued += bytes;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        // writev may write less than asked (like writev(2)): finish the rest.
        const at = this.position;
        let done = (await this.fh.writev(buffers, at)).bytesWritten;
        if (done < bytes) {
          const all = Buffer.concat(buffers, bytes);
          while (done < bytes) done += (await this.fh.write(all, done, bytes - done, at === undefined ? undefined : at + done)).bytesWritten;
        }
        if (at !== undefined) this.position = at + bytes;
      } catch (e) {
        this.failure = { error: e };
        return;
      } finally {
        this.queued -= bytes;
        this.wakeBelow();
      }
      try {
        this.onWritten(buffers, bytes);
      } finally {
        releaseBuffers(buffers);
      }
    });
  }

  /** Resolves once fewer than `limit` bytes are queued (or a write failed). */
  whenBelow(limit: number): Promise<void> {
    if (this.queuedBytes < limit || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.queuedBytes < limit || this.failure) resolve();
        else this.belowWaiters.push(check);
      };
      this.belowWaiters.push(check);
    });
  }

  /** Writes everything gathered and waits for it; throws the first write error. */
  async drain(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure.error;
  }

  private wakeBelow(): void {
    const waiters = this.belowWaiters;
    this.belowWaiters = [];
    for (const w of waiters) w();
  }
}

/** What `pumpBody` needs of an idle timer (idle-timeout.ts's IdleTimer). */
interface IdleClock {
  touch(): void;
  pause(): void;
  resume(): void;
}

/**
 * Feeds `res`'s body to `writer` until it ends. The socket pauses while `maxQueued` bytes wait for
 * the disk, and so does `idle` (holding the socket is not the server's silence). `accept` sees each
 * chunk before it is queued and returns an error to stop receiving with (too many bytes…). Rejects
 * on a write error, a socket error, or a socket closed mid-body; what was queued is the caller's
 * to `drain()`.
 */
export function pumpBody(
  res: IncomingMessage, writer: PartWriter, opts: { readonly idle: IdleClock; readonly maxQueued: number; readonly accept: (chunk: Buffer) => Error | undefined },
): Promise<void> {
  const { idle, maxQueued } = opts;
  const closedMidBody = () => Object.assign(new Error('connection closed mid-body'), { code: 'ECONNRESET' });
  return new Promise<void>((resolve, reject) => {
    // Destroyed before we listen (an abort while the caller opened the part file): its 'close'
    // has been and gone, so waiting for events would wait for ever.
    if (res.destroyed) {
      reject(res.errored ?? closedMidBody());
      return;
    }
    res.on('data', (chunk: Buffer) => {
      idle.touch();
      if (writer.error) {
        res.destroy(writer.error as Error); // disk full or similar: stop receiving
        return;
      }
      const refused = opts.accept(chunk);
      if (refused) {
        res.destroy(refused);
        return;
      }
      writer.push(chunk);
      if (writer.queuedBytes >= maxQueued && !res.isPaused()) {
        res.pause();
        idle.pause();
        void writer.whenBelow(maxQueued / 2).then(() => {
          if (writer.error) res.destroy(writer.error as Error);
          else {
            idle.resume();
            res.resume();
          }
        });
      }
    });
    res.on('end', resolve);
    res.on('error', reject);
    // A socket closed mid-body without an error event still must not hang.
    res.on('close', () => (res.complete ? resolve() : reject(closedMidBody())));
  });
}
