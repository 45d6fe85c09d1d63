// steps/common/file-lanes.ts: big files keep `concurrency` workers; small files get as many again.
import { biggestFirst, forEachInLanes } from '../../steps/common/file-lanes';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runLanes(sizes: number[], concurrency: number, smallExtra?: number) {
  const order = biggestFirst(sizes);
  const isSmall = (i: number) => sizes[i] <= 10;
  let big = 0;
  let all = 0;
  const peak = { big: 0, all: 0 };
  const started: number[] = [];
  await forEachInLanes(order, isSmall, { concurrency, smallExtra }, async (i) => {
    started.push(i);
    all++;
    if (!isSmall(i)) big++;
    peak.big = Math.max(peak.big, big);
    peak.all = Math.max(peak.all, all);
    await sleep(isSmall(i) ? 2 : 20);
    all--;
    if (!isSmall(i)) big--;
  });
  return { peak, started };
}

test('at most `concurrency` big files at once; small files run beside them on workers of their own', async () => {
  const sizes = [100, 100, 100, 100, 100, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const { peak, started } = await runLanes(sizes, 2);
  expect(peak.big).toBe(2);
  expect(peak.all).toBe(4);
  expect([...started].sort((a, b) => a - b)).toEqual(sizes.map((_s, i) => i));
  // A small file started before the big ones were all started (it did not wait behind them).
  const firstSmall = started.findIndex((i) => sizes[i] <= 10);
  expect(firstSmall).toBeLessThan(6);
});

test('a repo of small files only gets both lanes: twice `concurrency` in flight', async () => {
  const { peak } = await runLanes(Array.from({ length: 20 }, () => 1), 3);
  expect(peak.all).toBe(6);
});

test('smallExtra 0 is the old behaviour: `concurrency` files in all, biggest first', async () => {
  const sizes = [5, 100, 1, 50];
  const { peak, started } = await runLanes(sizes, 1, 0);
  expect(peak.all).toBe(1);
  expect(started).toEqual([1, 3, 0, 2]);
});

test('the first failure stops every worker and is thrown', async () => {
  const ran: number[] = [];
  const p = forEachInLanes(Uint32Array.from({ length: 50 }, (_v, i) => i), () => true, { concurrency: 2 }, async (i, signal) => {
    ran.push(i);
    if (i === 3) throw new Error('file 3 failed');
    await sleep(5);
    signal.throwIfAborted();
  });
  await expect(p).rejects.toThrow('file 3 failed');
  expect(ran.length).toBeLessThan(50);
});
