import {
  backoffDelay, isRetryableError, isRetryableStatus, mapLimit, parseRateLimitReset, parseRetryAfter,
  retryDelay, RetryableError, serverRequestedDelay, withRetry,
} from '../../steps/common/retry';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
  });
  it('reads an HTTP date relative to now', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
  });
  it('never returns a negative wait for a past date', () => {
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores absent or garbage values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('parseRateLimitReset', () => {
  it('reads the IETF structured form the Hub sends', () => {
    expect(parseRateLimitReset('"api";r=0;t=55')).toBe(55_000);
  });
  it('reads the older limit/remaining/reset form', () => {
    expect(parseRateLimitReset('limit=100, remaining=0, reset=7')).toBe(7_000);
  });
  it('returns undefined without a reset', () => {
    expect(parseRateLimitReset('"api";r=3')).toBeUndefined();
    expect(parseRateLimitReset(null)).toBeUndefined();
  });
  it('serverRequestedDelay takes the longer of the two headers', () => {
    const h = new Headers({ 'retry-after': '2', ratelimit: '"api";r=0;t=9' });
    expect(serverRequestedDelay(h)).toBe(9_000);
    expect(serverRequestedDelay(new Headers({ 'retry-after': '3' }))).toBe(3_000);
    expect(serverRequestedDelay(new Headers())).toBeUndefined();
  });
});

describe('backoff', () => {
  it('grows exponentially with equal jitter and is capped', () => {
    expect(backoffDelay(1, 500, 30_000, () => 0)).toBe(250);
    expect(backoffDelay(1, 500, 30_000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(2000);
    expect(backoffDelay(20, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(20, 500, 30_000, () => 0)).toBe(15_000);
  });
  it('honours a server-requested wait longer than the backoff', () => {
    const e = new RetryableError('429', { status: 429, retryAfterMs: 7_000 });
    expect(retryDelay(1, e, { random: () => 0 })).toBe(7_000);
  });
  it('caps a server-requested wait', () => {
    const e = new RetryableError('429', { status: 429, retryAfterMs: 3_600_000 });
    expect(retryDelay(1, e, { random: () => 0, maxServerDelayMs: 60_000 })).toBe(60_000);
  });
});

describe('classification', () => {
  it('retries 408/429/5xx but not other statuses', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 416, 501]) expect(isRetryableStatus(s)).toBe(false);
  });
  it('recognises socket drops as undici reports them', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isRetryableError(new TypeError('fetch failed', { cause: reset }))).toBe(true);
    const sock = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
    expect(isRetryableError(new TypeError('terminated', { cause: sock }))).toBe(true);
    expect(isRetryableError(new Error('boom'))).toBe(false);
    expect(isRetryableError(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(false);
  });
});

describe('withRetry', () => {
  const noSleep = { sleep: async () => undefined, random: () => 0 };
  it('retries retryable failures then succeeds', async () => {
    let n = 0;
    const waits: number[] = [];
    const out = await withRetry(async () => {
      if (++n < 3) throw new RetryableError('503', { status: 503 });
      return 'ok';
    }, { ...noSleep, onRetry: (i) => waits.push(i.delayMs) });
    expect(out).toBe('ok');
    expect(n).toBe(3);
    expect(waits).toEqual([250, 500]);
  });
  it('gives up after the retry budget and throws the last error', async () => {
    let n = 0;
    await expect(withRetry(async () => {
      n++;
      throw new RetryableError(`fail ${n}`);
    }, { ...noSleep, retries: 2 })).rejects.toThrow('fail 3');
    expect(n).toBe(3);
  });
  it('does not retry other errors', async () => {
    let n = 0;
    await expect(withRetry(async () => {
      n++;
      throw new Error('bad input');
    }, noSleep)).rejects.toThrow('bad input');
    expect(n).toBe(1);
  });
  it('waits what the server asked for', async () => {
    const slept: number[] = [];
    let n = 0;
    await withRetry(async () => {
      if (n++ === 0) throw new RetryableError('429', { retryAfterMs: 4_000 });
    }, { random: () => 0, sleep: async (ms) => void slept.push(ms) });
    expect(slept).toEqual([4_000]);
  });
});

describe('mapLimit', () => {
  it('bounds parallelism and keeps order', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, x * 2));
      active--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0]);
    expect(peak).toBe(2);
  });
  it('stops starting work after the first failure and aborts the rest', async () => {
    const started: number[] = [];
    let abortedSeen = false;
    await expect(mapLimit([0, 1, 2, 3, 4, 5], 2, async (x, _i, signal) => {
      started.push(x);
      if (x === 1) throw new Error('one failed');
      await new Promise((r) => setTimeout(r, 20));
      abortedSeen ||= signal.aborted;
      return x;
    })).rejects.toThrow('one failed');
    expect(started).toEqual([0, 1]);
    expect(abortedSeen).toBe(true);
  });
});
