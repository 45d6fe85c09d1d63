// steps/common/buffer-reclaim.ts: while a transfer runs, dead Buffer memory is collected once it
// has grown by the step, and the timer stops with its last user.
import { reclaimCollections, reclaimMajorCollections, startBufferReclaim } from '../../steps/common/buffer-reclaim';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Allocates and drops `mb` MiB of 64 KiB Buffers, as socket reads do. */
function churn(mb: number): void {
  let keep = 0;
  for (let i = 0; i < mb * 16; i++) keep += Buffer.alloc(64 * 1024, i).length;
  if (keep === 0) throw new Error('unreachable');
}

test('while a transfer-like stream of dead Buffers runs, memory stays near the step instead of piling up', async () => {
  const stop = startBufferReclaim({ stepBytes: 8 * 1024 * 1024, intervalMs: 10 });
  try {
    const before = reclaimCollections();
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    // 64 MiB received in 2 MiB chunks, none kept, as a socket feeding a disk writer: V8 alone
    // lets such garbage reach its external-memory trigger (tens of MB) before collecting.
    for (let i = 0; i < 32; i++) {
      churn(2);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
      await sleep(15);
    }
    expect(reclaimCollections()).toBeGreaterThan(before);
    expect(peak).toBeLessThan(24 * 1024 * 1024);
  } finally {
    stop();
  }
});

test('nested users share one timer; after the last stops, nothing is collected', async () => {
  const a = startBufferReclaim({ stepBytes: 4 * 1024 * 1024, intervalMs: 20 });
  const b = startBufferReclaim({ stepBytes: 4 * 1024 * 1024, intervalMs: 20 });
  a();
  a(); // a second call of the same stop does not stop b's use
  const start = reclaimCollections();
  churn(32);
  await sleep(150);
  const whileB = reclaimCollections();
  expect(whileB).toBeGreaterThan(start);
  b();
  churn(32);
  await sleep(150);
  expect(reclaimCollections()).toBe(whileB);
});

test('most collections are young-generation GCs; every majorEvery-th is a full one', async () => {
  const stop = startBufferReclaim({ stepBytes: 2 * 1024 * 1024, intervalMs: 5, majorEvery: 3 });
  try {
    const [all0, major0] = [reclaimCollections(), reclaimMajorCollections()];
    for (let i = 0; i < 40 && reclaimCollections() - all0 < 9; i++) {
      churn(4);
      await sleep(12);
    }
    const all = reclaimCollections() - all0;
    const major = reclaimMajorCollections() - major0;
    expect(all).toBeGreaterThanOrEqual(9);
    // Counted from the process's first collection: floor(all / 3) give or take one.
    expect(Math.abs(major - all / 3)).toBeLessThanOrEqual(1);
  } finally {
    stop();
  }
});
