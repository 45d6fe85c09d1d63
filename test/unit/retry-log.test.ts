// Retry warnings say what failed (the server's message, the socket error), not just `Error`.
import { describeS3Error } from '../../steps/s3/errors';
import { log } from '../../steps/common/log';
import { describeRetryError, RetryableError } from '../../steps/common/retry';
import { HubHttpError, logRetry } from '../../steps/hub/hub-fetch';

afterEach(() => jest.restoreAllMocks());

describe('describeRetryError', () => {
  it('gives the message and the cause, not the class name', () => {
    const e = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect(describeRetryError(e)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
  });
  it('falls back to the code when the message is empty', () => {
    expect(describeRetryError(Object.assign(new Error(''), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(describeRetryError(new Error(''))).toBe('Error without a message');
  });
  it('puts the status first when the message does not say it', () => {
    expect(describeRetryError(new RetryableError('server busy', { status: 503 }))).toBe('HTTP 503: server busy');
  });
});

describe('logRetry (Hub API calls)', () => {
  it('logs the Hub\'s own message for a retried 503', () => {
    const warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined);
    const cause = new HubHttpError('http://127.0.0.1:1/api/models/a/b/tree/x', 503, undefined, 'down for maintenance');
    const error = new RetryableError(cause.message, { status: 503, cause });
    logRetry('GET /api/models/a/b/tree/x')({ attempt: 1, retries: 5, delayMs: 500, error });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/503.*down for maintenance.*; retrying in 0\.5s \(retry 1\/5\)$/);
  });
  it('logs a plain error\'s message', () => {
    const warn = jest.spyOn(log, 'warn').mockImplementation(() => undefined);
    logRetry('GET x')({ attempt: 2, retries: 5, delayMs: 1000, error: new Error('socket hang up') });
    expect(warn.mock.calls[0][0]).toContain('socket hang up');
  });
});

describe('describeS3Error (upload retry lines)', () => {
  it('names the S3 code, the status and what the store said, not just the class', () => {
    const slowDown = Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    expect(describeS3Error(slowDown)).toBe('SlowDown, HTTP 503: Please reduce your request rate.');
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(describeS3Error(reset)).toMatch(/socket hang up/);
    expect(describeS3Error(reset)).not.toBe('Error');
  });
});
