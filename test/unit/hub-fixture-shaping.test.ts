// WAN shaping of the Hub fixture (test/hub-fixture/shaping.ts): measured on the real fixture over 127.0.0.1.
import { NetworkShaper, startHubFixture, TokenBucket, type ShapingOptions, type StartedHubFixture } from '../hub-fixture';

const FILE = 'weights.bin';
const SIZE = 2_000_000;
// One fixture per shaping profile, all started at once (building the repos takes a few seconds each).
const PROFILES = {
  perConnection: { perConnectionBytesPerSec: 4_000_000, totalBytesPerSec: 0, firstByteDelayMs: 0 },
  total: { perConnectionBytesPerSec: 0, totalBytesPerSec: 8_000_000, firstByteDelayMs: 0 },
  both: { perConnectionBytesPerSec: 2_000_000, totalBytesPerSec: 100_000_000, firstByteDelayMs: 0 },
  delay: { perConnectionBytesPerSec: 0, totalBytesPerSec: 0, firstByteDelayMs: 150 },
  none: undefined,
} satisfies Record<string, ShapingOptions | undefined>;
const started = new Map<keyof typeof PROFILES, StartedHubFixture>();
beforeAll(async () => {
  await Promise.all(Object.entries(PROFILES).map(async ([name, shaping]) => {
    started.set(name as keyof typeof PROFILES, await startHubFixture({ largeFiles: { [FILE]: SIZE }, shaping }));
  }));
});
afterAll(async () => {
  await Promise.all([...started.values()].map((fx) => fx.close()));
});
const fixture = (name: keyof typeof PROFILES) => started.get(name)!;

/** Downloads the file (following the LFS redirect) on a fresh connection; returns bytes and seconds. */
async function download(fx: StartedHubFixture, range?: string): Promise<{ bytes: number; seconds: number }> {
  const t0 = performance.now();
  const res = await fetch(`${fx.url}/bench/large/resolve/main/${FILE}`, { headers: { connection: 'close', ...(range ? { range } : {}) } });
  expect(res.status).toBe(range ? 206 : 200);
  const bytes = (await res.arrayBuffer()).byteLength;
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

describe('TokenBucket', () => {
  test('hands out the burst at once, then makes callers wait for the rate, in order', () => {
    let now = 1000;
    const clock = jest.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const b = new TokenBucket(1_000_000, 100_000);
      expect(b.reserve(100_000)).toBe(0);
      // The next 50 kB are owed at 1 MB/s: 50 ms; the 50 kB after them queue behind: 100 ms.
      expect(b.reserve(50_000)).toBeCloseTo(50);
      expect(b.reserve(50_000)).toBeCloseTo(100);
      // 100 ms later the debt is paid; an idle second saves up only the burst.
      now += 100 + 1000;
      expect(b.reserve(100_000)).toBeCloseTo(0);
      expect(b.reserve(10_000)).toBeCloseTo(10);
    } finally {
      clock.mockRestore();
    }
  });

  test('refuses a rate of 0', () => {
    expect(() => new TokenBucket(0)).toThrow(/rate/);
  });
});

describe('Hub fixture shaping', () => {
  test('one connection is held to the per-connection cap (2 MB at 4 MB/s takes about 0.5 s)', async () => {
    const fx = fixture('perConnection');
    const { bytes, seconds } = await download(fx);
    expect(bytes).toBe(SIZE);
    const rate = bytes / seconds;
    // The burst (50 ms of the rate) comes on top of the cap once: 2 MB take >= (2 MB - 200 kB) / 4 MB/s.
    expect(seconds).toBeGreaterThanOrEqual(0.44);
    expect(rate).toBeLessThan(4_000_000 * 1.15);
    expect(rate).toBeGreaterThan(4_000_000 * 0.25); // a sanity floor only: on a loaded 2-core box the client and fixture get little CPU (0.37x seen)
  });

  test('parallel connections share the total cap (4 x 2 MB at 8 MB/s total takes about 1 s)', async () => {
    const fx = fixture('total');
    const t0 = performance.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => download(fx)));
    const seconds = (performance.now() - t0) / 1000;
    const bytes = results.reduce((n, r) => n + r.bytes, 0);
    expect(bytes).toBe(4 * SIZE);
    const rate = bytes / seconds;
    expect(rate).toBeLessThan(8_000_000 * 1.1); // 8 MB take >= (8 MB - 400 kB burst) / 8 MB/s
    expect(rate).toBeGreaterThan(8_000_000 * 0.25); // a sanity floor only: on a loaded 2-core box the client and fixture get little CPU (0.37x seen)
    // Fair share: no connection finished much before the others.
    const times = results.map((r) => r.seconds);
    expect(Math.min(...times)).toBeGreaterThan(0.5 * Math.max(...times));
  });

  test('with both caps, the smaller one wins per connection; Range requests are shaped too', async () => {
    const fx = fixture('both');
    const { bytes, seconds } = await download(fx, 'bytes=0-999999');
    expect(bytes).toBe(1_000_000);
    expect(seconds).toBeGreaterThan(0.45);
    expect(bytes / seconds).toBeGreaterThan(2_000_000 * 0.25); // a sanity floor only: on a loaded 2-core box the client and fixture get little CPU (0.37x seen)
  });

  test('every request waits the first-byte delay (the LFS redirect and the CDN answer: two of them)', async () => {
    const fx = fixture('delay');
    const t0 = performance.now();
    const res = await fetch(`${fx.url}/api/models/bench/large`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    const { seconds } = await download(fx);
    expect(seconds).toBeGreaterThanOrEqual(0.29);
  });

  test('without shaping a download is not paced (the control)', async () => {
    // Side by side with a 2 MB/s shaped fixture (>= 0.95 s for these 2 MB): absolute speeds say little on a busy box.
    const free = await download(fixture('none'));
    const paced = await download(fixture('both'));
    expect(free.bytes).toBe(SIZE);
    expect(paced.seconds).toBeGreaterThanOrEqual(0.94);
    expect(free.seconds).toBeLessThan(paced.seconds);
  });

  test('rejects negative options', () => {
    expect(() => new NetworkShaper({ totalBytesPerSec: -1 })).toThrow(/>= 0/);
  });
});
