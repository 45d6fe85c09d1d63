// `s3://bucket/prefix` parsing/validation and key joining.
import { ExitCode, UserError } from '../common/errors';

export interface S3Location {
  readonly bucket: string;
  /** No leading/trailing slash; '' for the bucket root. */
  readonly prefix: string;
}

/** Bucket names as S3 (and SeaweedFS) accept them: 3-63 chars, lowercase, digits, `.`, `-`. */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function bucketNameProblem(bucket: string): string | undefined {
  if (!BUCKET_RE.test(bucket)) return 'bucket names are 3-63 characters of lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit';
  if (bucket.includes('..')) return 'bucket names cannot contain `..`';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return 'bucket names cannot look like an IP address';
  return undefined;
}

export function parseS3Uri(uri: string): S3Location {
  const usage = (why: string) =>
    new UserError(`Invalid S3 destination ${JSON.stringify(uri)}: ${why}`, { exitCode: ExitCode.Usage, hint: 'Use s3://BUCKET/PREFIX, e.g. s3://mlflow/artifacts/mirror/gpt2' });
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec((uri ?? '').trim());
  if (!m) throw usage('it must start with s3://');
  const bucket = m[1];
  if (!bucket) throw usage('the bucket is missing');
  const problem = bucketNameProblem(bucket);
  if (problem) throw usage(problem);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix) {
    for (const seg of prefix.split('/')) {
      if (seg === '') throw usage('the prefix has an empty segment (`//`)');
      if (seg === '.' || seg === '..') throw usage(`the prefix has a \`${seg}\` segment`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f\\]/.test(prefix)) throw usage('the prefix contains control characters or backslashes');
    if (Buffer.byteLength(prefix) > 900) throw usage('the prefix is too long');
  }
  return { bucket, prefix };
}

export function joinKey(prefix: string, rel: string): string {
  return prefix ? `${prefix}/${rel}` : rel;
}

export function formatS3Uri(loc: S3Location, key?: string): string {
  return `s3://${loc.bucket}/${key ?? loc.prefix}`;
}
