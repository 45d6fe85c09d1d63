import { PartBudget } from '../../steps/s3/part-budget';

const tick = () => new Promise((r) => setImmediate(r));

describe('PartBudget', () => {
  it('never grants more than its limit, and grants in arrival order', async () => {
    const budget = new PartBudget(2);
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const waiters = [1, 2, 3, 4].map((i) => budget.acquire().then((release) => {
      order.push(i);
      releases.push(release);
    }));
    await tick();
    expect(order).toEqual([1, 2]);
    expect(budget.active).toBe(2);
    releases[0]();
    releases[0](); // twice is harmless
    await tick();
    expect(order).toEqual([1, 2, 3]);
    releases[1]();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(budget.peak).toBe(2);
  });

  it('drops a waiter whose signal aborts, without losing the slot', async () => {
    const budget = new PartBudget(1);
    const first = await budget.acquire();
    const ac = new AbortController();
    const aborted = budget.acquire(ac.signal);
    const next = budget.acquire();
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    first();
    const release = await next;
    expect(budget.active).toBe(1);
    release();
    expect(budget.active).toBe(0);
    await expect(budget.acquire(ac.signal)).rejects.toThrow('stop');
  });

  it('run() releases its slot when the work throws', async () => {
    const budget = new PartBudget(1);
    await expect(budget.run(async () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(budget.active).toBe(0);
    expect(() => new PartBudget(0)).toThrow(RangeError);
  });
});
