// Hub failures -> UserErrors a person can act on (and stable exit codes for Argo).
import { ExitCode, isUserError, UserError } from '../common/errors';
import { isTransientNetworkError, RetryableError } from '../common/retry';
import { HubHttpError } from './hub-fetch';

export interface HubErrorContext {
  readonly hubUrl: string;
  readonly repo: string;
  readonly revision?: string;
  readonly path?: string;
  readonly hasToken: boolean;
  /** What was being done: resolving the revision, listing files, or fetching one file. */
  readonly op: 'revision' | 'list' | 'file';
}

function tokenHint(ctx: HubErrorContext): string {
  return ctx.hasToken
    ? 'The token was sent: check it has read access to this repo (fine-grained tokens need the repo in their scope).'
    : 'Private repos need a token: set HF_TOKEN, or mount one and pass --token-file (or HF_TOKEN_PATH).';
}

export function gatedRepoError(ctx: HubErrorContext, cause?: unknown): UserError {
  const page = `${ctx.hubUrl}/${ctx.repo}`;
  return new UserError(`${ctx.repo} is a gated model: ${ctx.hasToken ? 'the token\'s account has not been granted access' : 'downloading it needs a token of an account that accepted its terms'}`, {
    exitCode: ExitCode.Auth,
    cause,
    hint: ctx.hasToken
      ? `Log in to ${page} with the token's account, accept the terms (some repos also need the authors' approval), then rerun.`
      : `Log in to ${page}, accept the terms, create a read token at ${ctx.hubUrl}/settings/tokens, and pass it via HF_TOKEN or --token-file.`,
  });
}

/** Converts a failure of a Hub call into a UserError; returns other errors unchanged. */
export function toHubUserError(e: unknown, ctx: HubErrorContext): unknown {
  if (isUserError(e)) return e;
  if (e instanceof HubHttpError) {
    const code = e.errorCode;
    const server = e.serverMessage ? ` (Hub said: ${e.serverMessage})` : '';
    if (code === 'GatedRepo' || /gated/i.test(e.serverMessage ?? '')) return gatedRepoError(ctx, e);
    if (code === 'RepoNotFound' || (ctx.op !== 'file' && !code && (e.status === 404 || (e.status === 401 && !ctx.hasToken)))) {
      return new UserError(`Model repository ${ctx.repo} not found on ${ctx.hubUrl}${ctx.op === 'revision' && code !== 'RepoNotFound' && ctx.revision ? ` (or it has no revision ${JSON.stringify(ctx.revision)})` : ''}`, {
        exitCode: ExitCode.NotFound,
        cause: e,
        hint: `Check the id (it is case-sensitive, e.g. openai-community/gpt2). ${tokenHint(ctx)}`,
      });
    }
    if (code === 'RevisionNotFound' || (e.status === 400 && /rev/i.test(e.serverMessage ?? ''))) {
      return new UserError(`Revision ${JSON.stringify(ctx.revision)} not found in ${ctx.repo}${server}`, {
        exitCode: ExitCode.NotFound,
        cause: e,
        hint: `Use a branch, tag or full 40-hex commit sha that exists: see ${ctx.hubUrl}/${ctx.repo}/tree/main (branches/tags menu).`,
      });
    }
    if (code === 'EntryNotFound' || (ctx.op === 'file' && e.status === 404)) {
      return new UserError(`File ${JSON.stringify(ctx.path)} not found in ${ctx.repo} at ${ctx.revision}${server}`, {
        exitCode: ExitCode.NotFound,
        cause: e,
        hint: 'The file tree listed it but the Hub cannot serve it; rerun later, or exclude it with --ignore-patterns.',
      });
    }
    if (e.status === 401) {
      return new UserError(ctx.hasToken ? `The Hub rejected the token (invalid, expired or revoked)${server}` : `The Hub requires authentication for ${ctx.repo}${server}`, {
        exitCode: ExitCode.Auth,
        cause: e,
        hint: ctx.hasToken ? `Create a new read token at ${ctx.hubUrl}/settings/tokens and update HF_TOKEN / the token Secret.` : tokenHint(ctx),
      });
    }
    if (e.status === 403) {
      return new UserError(`Access to ${ctx.repo}${ctx.path ? `/${ctx.path}` : ''} is forbidden${server}`, { exitCode: ExitCode.Auth, cause: e, hint: tokenHint(ctx) });
    }
    return new UserError(`Unexpected Hub answer while ${opText(ctx)}: HTTP ${e.status}${code ? ` ${code}` : ''}${server}`, { exitCode: ExitCode.Unavailable, cause: e });
  }
  if (e instanceof RetryableError) {
    return new UserError(`The Hub at ${ctx.hubUrl} kept failing while ${opText(ctx)}: ${e.message}`, {
      exitCode: ExitCode.Unavailable,
      cause: e,
      hint: 'Retries were exhausted; rerun later (completed files are kept and verified, partial ones resume).',
    });
  }
  if (isTransientNetworkError(e)) {
    const cause = (e as Error).cause as Error | undefined;
    return new UserError(`Cannot reach the Hub at ${ctx.hubUrl} while ${opText(ctx)}: ${cause?.message ?? (e as Error).message}`, {
      exitCode: ExitCode.Unavailable,
      cause: e,
      hint: 'Check --hub-url / HF_ENDPOINT and the network (proxy, egress policy); rerun to resume.',
    });
  }
  return e;
}

function opText(ctx: HubErrorContext): string {
  switch (ctx.op) {
    case 'revision':
      return `resolving ${ctx.repo}@${ctx.revision}`;
    case 'list':
      return `listing the files of ${ctx.repo}`;
    case 'file':
      return `downloading ${ctx.path}`;
  }
}
