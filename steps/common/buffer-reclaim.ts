// Socket and file chunks live in Buffers outside the JS heap. V8 frees a dead Buffer's memory only
// after a GC has found it dead, and it starts one when the JS heap fills or when external memory
// has grown by tens of MB since the last full GC. Moving bytes allocates almost nothing on the JS
// heap, so during a transfer dead chunks pile up to that limit and the process's RSS with them
// (issues #15, #17: the 150 MB budget).
//
// While bytes move, a timer (every 25 ms: at loopback speed 100 ms let 20 MB pass between checks)
// watches Buffer memory and runs a young-generation GC once it has grown by `stepBytes` since the
// last one. Most dead chunks are still young and a scavenge frees them for about 1 ms. Chunks that
// were queued at a scavenge get promoted, and only a full GC (25-35 ms on an idle 2-core box, far
// more on a busy one) frees those, so a full GC runs only when they add up: when Buffer memory
// after a scavenge exceeds what the last full GC left by `majorStepBytes`, or by `stepBytes` once
// the process's RSS is past `rssSoftLimitBytes` (the RSS is read once per scavenge, not per tick).
// Measured on a 1 GiB WAN download (loaded box): no GC 204 MB peak RSS / 5.6 CPU s; full GC every
// time 151 MB / 8.5 s; young only 165 MB / 5.7 s. On full-size WAN mirrors (issue #15: 10 GiB,
// 4 x 2.5 GiB) this rule ran about 50 full GCs where a full GC after every 4th scavenge ran about
// 250, and peaked at 143-154 MB against 151-165 MB; the wall time stayed within the run-to-run
// noise (bench/reference/2026-12-03-wan-b-gc.md).
// Since 2026-12-05 the download frees each socket chunk itself once it is written and hashed
// (release-buffer.ts), so what is left for these GCs is mostly the upload's file reads, whose
// memory a socket write may still be reading when the stream lets go of them.
// The GC function comes from a fresh context after `--expose-gc` is set at runtime (the documented
// `v8.setFlagsFromString` way); where that is refused, nothing runs and V8's own heuristics stay
// in charge.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { log } from './log';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

/** Growth of Buffer memory since the last collection that triggers the next. */
export const DEFAULT_RECLAIM_STEP_BYTES = 16 * 1024 * 1024;
/** Buffer memory left after a scavenge, above what the last full GC left, that triggers a full GC. */
export const DEFAULT_MAJOR_STEP_BYTES = 32 * 1024 * 1024;
/** Above this RSS, a full GC already comes once `stepBytes` of Buffer memory outlived a scavenge. */
// 120 MB until 2026-12-05. Since V8 marks less often (node-flags.json's marking trigger), the
// 10 GiB WAN `mirror` peaked at 140-148 MB with 120 and at 134-141 MB with 110, for ~5% more CPU.
export const DEFAULT_RSS_SOFT_LIMIT_BYTES = 110 * 1024 * 1024;
const DEFAULT_INTERVAL_MS = 25;

let gc: GcFunction | null | undefined;
let users = 0;
let timer: NodeJS.Timeout | undefined;
let baseline = 0;
let afterMajor = 0;
let collections = 0;
let majorCollections = 0;
let peakExternal = 0;

function gcFunction(): GcFunction | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const fn = vm.runInNewContext('gc') as unknown;
      gc = typeof fn === 'function' ? (fn as GcFunction) : null;
    } catch {
      gc = null;
    }
  }
  return gc;
}

// Buffer memory is V8's external memory. process.memoryUsage() would also read the RSS from /proc
// on every tick (a few syscalls, 40 times a second); the heap statistics do not.
const externalBytes = (): number => v8.getHeapStatistics().external_memory;

/** How many young-generation GCs this process asked for (for tests and debug logs). */
export function reclaimCollections(): number {
  return collections;
}

/** How many full GCs ran after them (a full GC follows a scavenge that left too much). */
export function reclaimMajorCollections(): number {
  return majorCollections;
}

/**
 * Keeps dead Buffer memory low until the returned function is called (calls nest: the timer stops
 * when the last user stops). There is one timer per process: the options of the call that starts
 * it apply until it stops. The timer never keeps the process alive.
 */
export function startBufferReclaim(opts: { readonly stepBytes?: number; readonly intervalMs?: number; readonly majorStepBytes?: number; readonly rssSoftLimitBytes?: number } = {}): () => void {
  const collect = gcFunction();
  if (!collect) return () => undefined;
  const step = opts.stepBytes ?? DEFAULT_RECLAIM_STEP_BYTES;
  const majorStep = opts.majorStepBytes ?? DEFAULT_MAJOR_STEP_BYTES;
  const rssSoft = opts.rssSoftLimitBytes ?? DEFAULT_RSS_SOFT_LIMIT_BYTES;
  users++;
  if (!timer) {
    baseline = afterMajor = externalBytes();
    timer = setInterval(() => {
      const now = externalBytes();
      peakExternal = Math.max(peakExternal, now);
      if (now - baseline < step) {
        baseline = Math.min(baseline, now);
        afterMajor = Math.min(afterMajor, now);
        return;
      }
      collections++;
      collect({ type: 'minor' });
      baseline = externalBytes();
      const promoted = baseline - afterMajor;
      if (promoted < step || (promoted < majorStep && process.memoryUsage.rss() < rssSoft)) return;
      majorCollections++;
      collect({ type: 'major' });
      baseline = afterMajor = externalBytes();
    }, opts.intervalMs ?? DEFAULT_INTERVAL_MS);
    timer.unref();
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    if (--users === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
      log.debug('buffer reclaim stopped', { youngGcs: collections, fullGcs: majorCollections, peakBufferMB: Math.round(peakExternal / 1048576), rssMB: Math.round(process.memoryUsage.rss() / 1048576) });
    }
  };
}
