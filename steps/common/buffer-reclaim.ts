// Socket and file chunks live in Buffers outside the JS heap. V8 frees a dead Buffer's memory only
// after a GC has found it dead, and it starts one when the JS heap fills or when external memory
// has grown by tens of MB since the last full GC. Moving bytes allocates almost nothing on the JS
// heap, so during a transfer dead chunks pile up to that limit and the process's RSS with them
// (issues #15, #17: the 150 MB budget).
//
// While bytes move, a timer (every 25 ms: at loopback speed 100 ms let 20 MB pass between checks)
// watches `arrayBuffers` and runs a full GC once it has grown by `stepBytes` since the last one.
// Measured on a 1 GiB `mirror` (bench, same session): peak RSS 222 -> 178 MB with a full GC, for
// about 2 s more CPU per GiB; a young-generation GC alone did not help (chunks still queued at a
// scavenge are promoted, and then only a full GC frees them).
// The GC function comes from a fresh context after `--expose-gc` is set at runtime (the documented
// `v8.setFlagsFromString` way); where that is refused, nothing runs and V8's own heuristics stay
// in charge.
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

/** Growth of Buffer memory since the last collection that triggers the next. */
export const DEFAULT_RECLAIM_STEP_BYTES = 16 * 1024 * 1024;
const DEFAULT_INTERVAL_MS = 25;

let gc: GcFunction | null | undefined;
let users = 0;
let timer: NodeJS.Timeout | undefined;
let baseline = 0;
let collections = 0;

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

/** How many collections this process asked for (for tests and debug logs). */
export function reclaimCollections(): number {
  return collections;
}

/**
 * Keeps dead Buffer memory low until the returned function is called (calls nest: the timer stops
 * when the last user stops). There is one timer per process: the options of the call that starts
 * it apply until it stops. The timer never keeps the process alive.
 */
export function startBufferReclaim(opts: { readonly stepBytes?: number; readonly intervalMs?: number } = {}): () => void {
  const collect = gcFunction();
  if (!collect) return () => undefined;
  const step = opts.stepBytes ?? DEFAULT_RECLAIM_STEP_BYTES;
  users++;
  if (!timer) {
    baseline = process.memoryUsage().arrayBuffers;
    timer = setInterval(() => {
      const now = process.memoryUsage().arrayBuffers;
      if (now - baseline < step) {
        baseline = Math.min(baseline, now);
        return;
      }
      collect({ type: 'major' });
      collections++;
      baseline = process.memoryUsage().arrayBuffers;
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
