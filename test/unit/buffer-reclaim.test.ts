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

test('dead Buffers that die young cost scavenges only; Buffers that outlive scavenges bring a full GC once they add up', async () => {
  // Below the RSS soft limit (jest's own RSS is past the default one).
  const stop = startBufferReclaim({ stepBytes: 2 * 1024 * 1024, intervalMs: 5, majorStepBytes: 16 * 1024 * 1024, rssSoftLimitBytes: Number.MAX_SAFE_INTEGER });
  try {
    const [young0, major0] = [reclaimCollections(), reclaimMajorCollections()];
    // A socket feeding a disk writer: every chunk is dead by the next scavenge.
    for (let i = 0; i < 16; i++) {
      churn(4);
      await sleep(12);
    }
    expect(reclaimCollections() - young0).toBeGreaterThanOrEqual(8);
    // At most one full GC (one CI run on a busy box made one, cause not known); the old rule, a
    // full GC every 4th scavenge, makes at least two here.
    expect(reclaimMajorCollections() - major0).toBeLessThanOrEqual(1);
    const major1 = reclaimMajorCollections();

    // Chunks still queued at a scavenge: kept across several of them, 32 MiB in all, then let go.
    const queued: Buffer[] = [];
    for (let i = 0; i < 16 && reclaimMajorCollections() === major1; i++) {
      for (let j = 0; j < 32; j++) queued.push(Buffer.alloc(64 * 1024, j));
      churn(2);
      await sleep(12);
    }
    expect(reclaimMajorCollections()).toBeGreaterThan(major1);
    queued.length = 0;
  } finally {
    stop();
  }
});

test('past the RSS soft limit, a smaller survival brings the full GC', async () => {
  // Chunks kept across scavenges, 4 MiB at a time: a full GC once 8 MiB outlived them when the
  // process is past the soft limit (0: always), never below the 1 GiB major step otherwise.
  const kept = async (opts: { rssSoftLimitBytes: number }): Promise<number> => {
    const stop = startBufferReclaim({ stepBytes: 2 * 1024 * 1024, intervalMs: 5, majorStepBytes: 1024 * 1024 * 1024, ...opts });
    const major0 = reclaimMajorCollections();
    const queued: Buffer[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 64; j++) queued.push(Buffer.alloc(64 * 1024, j));
        await sleep(15);
      }
      return reclaimMajorCollections() - major0;
    } finally {
      queued.length = 0;
      stop();
    }
  };
  expect(await kept({ rssSoftLimitBytes: Number.MAX_SAFE_INTEGER })).toBe(0);
  expect(await kept({ rssSoftLimitBytes: 0 })).toBeGreaterThan(0);
});
