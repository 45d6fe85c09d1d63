// Socket and file chunks live in Buffers outside the JS heap. V8 frees a dead Buffer's memory only
// after a GC has found it dead, and it starts one when the JS heap fills or when external memory
// has grown by tens of MB since the last full GC. Moving bytes allocates almost nothing on the JS
// heap, so during a transfer dead chunks pile up to that limit and the process's RSS with them
// (issues #15, #17: the 150 MB budget).
//
// While bytes move, a timer (every 25 ms: at loopback speed 100 ms let 20 MB pass between checks)
// watches Buffer memory and runs a GC once it has grown by `stepBytes` since the last one: a
// young-generation GC, and every `majorEvery`-th time a full one. Most dead chunks are still young
// and a scavenge frees them for about 1 ms; chunks that were queued at a scavenge get promoted, and
// only a full GC (25-35 ms on a 2-core box) frees those.
// Measured on a 1 GiB WAN download (same session, loaded box): no GC 204 MB peak RSS / 5.6 CPU s;
// full GC every time 151 MB / 8.5 s; young only 165 MB / 5.7 s; every 4th full 161 MB / 6.5 s.
// The GC function comes from a fresh context after `--expose-gc` is set at runtime (the documented
// `v8.setFlagsFromString` way); where that is refused, nothing runs and V8's own heuristics stay
// in charge.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

/** Growth of Buffer memory since the last collection that triggers the next. */
export const DEFAULT_RECLAIM_STEP_BYTES = 16 * 1024 * 1024;
/** Every this many collections, a full one (the others are young-generation GCs). */
export const DEFAULT_MAJOR_EVERY = 4;
const DEFAULT_INTERVAL_MS = 25;

let gc: GcFunction | null | undefined;
let users = 0;
let timer: NodeJS.Timeout | undefined;
let baseline = 0;
let collections = 0;
let majorCollections = 0;

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

/** How many collections this process asked for (for tests and debug logs). */
export function reclaimCollections(): number {
  return collections;
}

/** How many of them were full GCs. */
export function reclaimMajorCollections(): number {
  return majorCollections;
}

/**
 * Keeps dead Buffer memory low until the returned function is called (calls nest: the timer stops
 * when the last user stops). There is one timer per process: the options of the call that starts
 * it apply until it stops. The timer never keeps the process alive.
 */
export function startBufferReclaim(opts: { readonly stepBytes?: number; readonly intervalMs?: number; readonly majorEvery?: number } = {}): () => void {
  const collect = gcFunction();
  if (!collect) return () => undefined;
  const step = opts.stepBytes ?? DEFAULT_RECLAIM_STEP_BYTES;
  const majorEvery = Math.max(1, Math.floor(opts.majorEvery ?? DEFAULT_MAJOR_EVERY));
  users++;
  if (!timer) {
    baseline = externalBytes();
    timer = setInterval(() => {
      const now = externalBytes();
      if (now - baseline < step) {
        baseline = Math.min(baseline, now);
        return;
      }
      const major = ++collections % majorEvery === 0;
      collect({ type: major ? 'major' : 'minor' });
      if (major) majorCollections++;
      baseline = externalBytes();
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
    }
  };
}
