// Which file a download or upload worker takes next. Small files cost a request round trip or
// two each (the resolve, the LFS redirect; a PUT) and little bandwidth, so with only
// `concurrency` files in flight a repo of many small files waits on latency, not on the link.
// Small files therefore get `smallExtra` workers of their own on top of the `concurrency` that
// take the big files, biggest first, and then help with the small ones. At most `concurrency` big files are ever in flight,
// so memory and streams for big files are as before; a small file holds at most its own size.
import { mapLimit } from './retry';

/** Files up to this size count as small. */
export const SMALL_FILE_BYTES = 4 * 1024 * 1024;

export interface FileLanes {
  /** Workers that take big files first (then small ones). */
  readonly concurrency: number;
  /** Workers that take only small files. @default concurrency */
  readonly smallExtra?: number;
}

/** Indexes of `sizes`, biggest first (ties in their given order): the order forEachInLanes takes. */
export function biggestFirst(sizes: ArrayLike<number>): Uint32Array {
  const order = new Uint32Array(sizes.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => sizes[b] - sizes[a] || a - b);
}

/**
 * Runs `fn` for every index of `order` (already biggest first, see biggestFirst); `isSmall(i)` says which lane an
 * index is in. The first failure stops the rest and is thrown, as with mapLimit.
 */
export async function forEachInLanes(
  order: Uint32Array,
  isSmall: (i: number) => boolean,
  lanes: FileLanes,
  fn: (i: number, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const big = order.filter((i) => !isSmall(i));
  const small = order.filter((i) => isSmall(i));
  const bigWorkers = Math.max(1, Math.floor(lanes.concurrency));
  const smallWorkers = Math.max(0, Math.floor(lanes.smallExtra ?? bigWorkers));
  let nextBig = 0;
  let nextSmall = 0;
  const workers = Array.from({ length: bigWorkers + smallWorkers }, (_v, w) => w);
  await mapLimit(workers, workers.length, async (w, _j, stop) => {
    while (!stop.aborted) {
      let i: number;
      if (w < bigWorkers && nextBig < big.length) i = big[nextBig++];
      else if (nextSmall < small.length) i = small[nextSmall++];
      else return;
      await fn(i, stop);
    }
  }, signal);
}
