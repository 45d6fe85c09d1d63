// S3 failures -> UserErrors naming the bucket/endpoint, with stable exit codes.
import { describeRetryError } from '../common/retry';
import { ExitCode, isUserError, UserError } from '../common/errors';
import { isTransientNetworkError } from '../common/retry';
import { NO_ENDPOINT_LABEL } from './client';

export interface S3ErrorContext {
  /** Endpoint URL or label (endpointLabel), or undefined for AWS S3. */
  readonly endpoint?: string;
  readonly bucket: string;
  readonly key?: string;
}

interface SdkError extends Error {
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

export function s3ErrorName(e: unknown): string | undefined {
  const err = e as SdkError | undefined;
  return err?.Code ?? err?.name;
}

/** For retry lines: the S3 error code with what failed (`SlowDown: Please reduce your request rate`), not just a class name. */
export function describeS3Error(e: unknown): string {
  const name = s3ErrorName(e);
  const status = s3Status(e);
  const detail = describeRetryError(e);
  const head = [name, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return head && !detail.startsWith(name ?? '\0') ? `${head}: ${detail}` : detail;
}

export function s3Status(e: unknown): number | undefined {
  return (e as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** Worth retrying a whole object upload (after the SDK's own per-request retries). */
export function isRetryableS3Error(e: unknown): boolean {
  if (isUserError(e)) return false;
  const status = s3Status(e);
  const name = s3ErrorName(e);
  if (name === 'AbortError') return false;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (name === 'SlowDown' || name === 'RequestTimeout' || name === 'InternalError' || name === 'ServiceUnavailable' || name === 'TimeoutError') return true;
  return isS3NetworkError(e);
}

/**
 * Connection-level failure. Also matches by message: the SDK's retry layer re-wraps errors it
 * does not recognise as `Error` (e.g. from another realm) and only the text survives.
 */
export function isS3NetworkError(e: unknown): boolean {
  if (isTransientNetworkError(e) || (e as SdkError)?.code === 'ENOTFOUND' || s3ErrorName(e) === 'TimeoutError') return true;
  return /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up)\b/.test((e as Error)?.message ?? '');
}

export function toS3UserError(e: unknown, ctx: S3ErrorContext): unknown {
  if (isUserError(e)) return e;
  const name = s3ErrorName(e);
  const status = s3Status(e);
  const where = ctx.endpoint ?? NO_ENDPOINT_LABEL;
  const msg = (e as Error)?.message;
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'InvalidToken' || name === 'ExpiredToken' || name === 'TokenRefreshRequired') {
    return new UserError(`S3 at ${where} rejected the credentials (${name})`, {
      exitCode: ExitCode.Auth,
      cause: e,
      hint: 'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the Secret mounted into the pod) match an identity on the S3 server.',
    });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(msg ?? '')) {
    return new UserError('No S3 credentials found', {
      exitCode: ExitCode.Auth,
      cause: e,
      hint: 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile / IRSA role).',
    });
  }
  if (name === 'AccessDenied' || name === 'AllAccessDisabled' || name === 'Forbidden' || status === 403) {
    return new UserError(`S3 at ${where} denied access to s3://${ctx.bucket}/${ctx.key ?? ''}`, {
      exitCode: ExitCode.Auth,
      cause: e,
      hint: 'The credentials are valid but lack permission: the identity needs s3:PutObject, s3:GetObject, s3:ListBucket and s3:AbortMultipartUpload on this bucket/prefix.',
    });
  }
  if (name === 'NoSuchBucket') {
    return new UserError(`S3 bucket ${JSON.stringify(ctx.bucket)} does not exist at ${where}`, {
      exitCode: ExitCode.NotFound,
      cause: e,
      hint: 'Create it first (it is MLflow\'s artifact bucket), or fix the bucket in --dest.',
    });
  }
  if (isS3NetworkError(e)) {
    const cause = (((e as Error).cause as Error | undefined)?.message ?? msg ?? '').replace(/^AWS SDK error wrapper for (Error: )?/, '');
    return new UserError(`Cannot reach S3 at ${where}: ${cause}`, {
      exitCode: ExitCode.Unavailable,
      cause: e,
      hint: 'Check --s3-endpoint / AWS_ENDPOINT_URL_S3 / MLFLOW_S3_ENDPOINT_URL and that the S3 service is up and reachable from this pod.',
    });
  }
  if (status !== undefined && status >= 500) {
    return new UserError(`S3 at ${where} kept failing (HTTP ${status}${name ? ` ${name}` : ''})`, { exitCode: ExitCode.Unavailable, cause: e, hint: 'Retries were exhausted; rerun later (objects already uploaded are skipped).' });
  }
  if (name === 'EntityTooLarge' || name === 'InvalidArgument' || name === 'InvalidRequest' || name === 'InvalidBucketName' || name === 'KeyTooLongError') {
    return new UserError(`S3 at ${where} refused s3://${ctx.bucket}/${ctx.key ?? ''}: ${name}: ${msg}`, { exitCode: ExitCode.Usage, cause: e });
  }
  return e;
}
