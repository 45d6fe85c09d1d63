// Failures of one file transfer, shared by the single-stream path (download-file.ts) and the
// ranged one (ranged-download.ts).
import { ExitCode, UserError } from '../common/errors';
import { RetryableError } from '../common/retry';

/** The bytes cannot be the file's (too many, or the hash does not match). */
export class IntegrityMismatch extends Error {}

/** A 2xx answer that is not the file (see file-answer.ts); `kind: 'type'` is never retried. */
export class NotTheFile extends RetryableError {
  constructor(message: string, readonly kind: 'type' | 'length') {
    super(message);
    this.name = 'NotTheFile';
  }
}

/** The file's attempt budget ran out; `error` is the last failure. */
export class GaveUp extends Error {
  constructor(readonly error: unknown, readonly requests: number, readonly stalls: number, readonly onDisk: number) {
    super('gave up');
  }
}

/** Disk full / not writable as a UserError; anything else unchanged. */
export function localStorageError(e: unknown, file: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new UserError(`Disk full while writing ${file}`, { exitCode: ExitCode.LocalStorage, cause: e, hint: 'Give the download volume more space; rerun resumes where it stopped.' });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UserError(`Cannot write ${file}: ${code}`, { exitCode: ExitCode.LocalStorage, cause: e, hint: 'Check --dest is writable by this user.' });
  }
  return e;
}
