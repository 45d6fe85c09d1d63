// Errors the user can act on. The CLI prints `message` (and `hint`) without a stack trace
// and exits with `exitCode`; anything that is not a UserError is a bug and keeps its stack.

/** Process exit codes, stable so Argo retry policies and scripts can branch on them. */
export const ExitCode = {
  /** Unexpected failure (a bug, or an error we did not classify). */
  Internal: 1,
  /** Bad command-line input or config (wrong model id format, bad URL, missing flag). */
  Usage: 2,
  /** Repo, revision, file, experiment or bucket does not exist. */
  NotFound: 3,
  /** Missing/invalid credentials, gated repo, forbidden (incl. MLflow Host-header 403). */
  Auth: 4,
  /** A remote server is unreachable or kept failing after retries. */
  Unavailable: 5,
  /** Downloaded bytes do not match the published size/hash after retries. */
  Integrity: 6,
  /** Not enough disk space, or a path that would escape the destination. */
  LocalStorage: 7,
  /** MLflow state conflicts with the request (e.g. version exists for another commit). */
  Conflict: 8,
  /** The mirroring policy refuses this repo (publisher, licence, pickle, remote code, gated, Hub scan). */
  Policy: 9,
} as const;
/** Exit codes a retry cannot fix: the same input fails the same way (the WorkflowTemplate's retry expression). */
export const PERMANENT_EXIT_CODES: readonly ExitCodeValue[] = [ExitCode.Usage, ExitCode.NotFound, ExitCode.Auth, ExitCode.LocalStorage, ExitCode.Conflict, ExitCode.Policy];

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class UserError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  constructor(message: string, opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UserError';
    this.exitCode = opts.exitCode ?? ExitCode.Usage;
    this.hint = opts.hint;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
