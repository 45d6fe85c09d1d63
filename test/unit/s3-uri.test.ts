import { ExitCode } from '../../steps/common/errors';
import { createS3Client, endpointLabel, endpointLabelOf, resolveS3Config } from '../../steps/s3/client';
import { toS3UserError } from '../../steps/s3/errors';
import { joinKey, parseS3Uri } from '../../steps/s3/s3-uri';
import { choosePartSize, MiB, MIN_PART_SIZE, partCount, S3_MAX_PARTS } from '../../steps/s3/upload-file';

describe('parseS3Uri', () => {
  it('splits bucket and prefix, trimming slashes', () => {
    expect(parseS3Uri('s3://mlflow/artifacts/mirror/gpt2/')).toEqual({ bucket: 'mlflow', prefix: 'artifacts/mirror/gpt2' });
    expect(parseS3Uri('s3://my.bucket-1')).toEqual({ bucket: 'my.bucket-1', prefix: '' });
    expect(parseS3Uri('s3://b01/')).toEqual({ bucket: 'b01', prefix: '' });
  });
  it.each([
    ['https://mlflow/x'],
    ['s3:/mlflow/x'],
    ['s3:///x'],
    ['s3://UPPER/x'],
    ['s3://ab/x'],
    ['s3://bad_bucket/x'],
    ['s3://192.168.1.1/x'],
    ['s3://b..b/x'],
    ['s3://mlflow/a//b'],
    ['s3://mlflow/a/../b'],
  ])('rejects %j with a Usage error', (uri) => {
    expect(() => parseS3Uri(uri)).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
  });
  it('joins keys', () => {
    expect(joinKey('a/b', 'c/d.bin')).toBe('a/b/c/d.bin');
    expect(joinKey('', 'x')).toBe('x');
  });
});

describe('resolveS3Config', () => {
  it('prefers the flag, then AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, MLFLOW_S3_ENDPOINT_URL', () => {
    const env = { AWS_ENDPOINT_URL_S3: 'http://a:1', AWS_ENDPOINT_URL: 'http://b:2', MLFLOW_S3_ENDPOINT_URL: 'http://c:3' };
    expect(resolveS3Config({ endpoint: 'http://flag:9', env }).endpoint).toBe('http://flag:9');
    expect(resolveS3Config({ env }).endpoint).toBe('http://a:1');
    expect(resolveS3Config({ env: { AWS_ENDPOINT_URL: 'http://b:2', MLFLOW_S3_ENDPOINT_URL: 'http://c:3' } }).endpoint).toBe('http://b:2');
    expect(resolveS3Config({ env: { MLFLOW_S3_ENDPOINT_URL: 'http://c:3/' } })).toEqual({ endpoint: 'http://c:3', region: 'us-east-1', forcePathStyle: true, endpointSource: 'MLFLOW_S3_ENDPOINT_URL' });
  });
  it('labels the endpoint actually used, with the variable it came from, for logs and errors', () => {
    expect(endpointLabel(resolveS3Config({ env: { AWS_ENDPOINT_URL_S3: 'http://a:1', MLFLOW_S3_ENDPOINT_URL: 'http://c:3' } }))).toBe('http://a:1 (AWS_ENDPOINT_URL_S3)');
    expect(endpointLabel(resolveS3Config({ env: { MLFLOW_S3_ENDPOINT_URL: 'http://c:3' } }))).toBe('http://c:3 (MLFLOW_S3_ENDPOINT_URL)');
    expect(endpointLabel(resolveS3Config({ endpoint: 'http://f:9', env: {} }))).toBe('http://f:9 (--s3-endpoint)');
    expect(endpointLabel(resolveS3Config({ env: {} }))).toMatch(/^AWS S3 \(no AWS_ENDPOINT_URL_S3/);
    const client = createS3Client({ ...resolveS3Config({ env: { MLFLOW_S3_ENDPOINT_URL: 'http://127.0.0.1:1' } }) });
    expect(endpointLabelOf(client)).toBe('http://127.0.0.1:1 (MLFLOW_S3_ENDPOINT_URL)');
    client.destroy();
  });
  it('names that endpoint in S3 errors instead of "AWS S3"', () => {
    const err = toS3UserError(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), { endpoint: 'http://c:3 (MLFLOW_S3_ENDPOINT_URL)', bucket: 'b', key: 'k' }) as Error;
    expect(err.message).toContain('http://c:3 (MLFLOW_S3_ENDPOINT_URL)');
    expect(err.message).not.toMatch(/at AWS S3/);
  });
  it('uses AWS S3 virtual-host style without an endpoint; region falls back to us-east-1', () => {
    expect(resolveS3Config({ env: {} })).toEqual({ endpoint: undefined, region: 'us-east-1', forcePathStyle: false });
    expect(resolveS3Config({ env: { AWS_REGION: 'eu-west-1' } }).region).toBe('eu-west-1');
    expect(resolveS3Config({ env: { AWS_DEFAULT_REGION: 'ap-south-1' } }).region).toBe('ap-south-1');
  });
  it('rejects bad endpoints', () => {
    expect(() => resolveS3Config({ endpoint: 'not a url', env: {} })).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
    expect(() => resolveS3Config({ endpoint: 'ftp://x', env: {} })).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
    expect(() => resolveS3Config({ endpoint: 'http://k:s@x', env: {} })).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
  });
});

describe('part size', () => {
  it('is 16 MiB for small and medium files', () => {
    expect(choosePartSize(0)).toBe(MIN_PART_SIZE);
    expect(choosePartSize(1024 ** 3)).toBe(16 * MiB);
    expect(choosePartSize(100 * 1024 ** 3)).toBe(16 * MiB);
  });
  it.each([5 * 1024 ** 3 + 1, 150 * 1024 ** 3, 200 * 1024 ** 3, 1024 ** 4, 5 * 1024 ** 4])('keeps a %d-byte file under 10,000 parts', (size) => {
    const ps = choosePartSize(size);
    expect(ps % MiB).toBe(0);
    expect(ps).toBeGreaterThanOrEqual(MIN_PART_SIZE);
    expect(partCount(size, ps)).toBeLessThanOrEqual(S3_MAX_PARTS);
    expect(ps).toBeLessThanOrEqual(5 * 1024 ** 3);
  });
  it('grows past 16 MiB when needed', () => {
    const size = 500 * 1024 ** 3;
    expect(choosePartSize(size)).toBe(Math.ceil(size / 9000 / MiB) * MiB);
  });
  it('refuses objects over 5 TiB', () => {
    expect(() => choosePartSize(5 * 1024 ** 4 + 1)).toThrow(/5 TiB/);
  });
});
