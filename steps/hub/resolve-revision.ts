// Step 1 of a download: pin the requested branch/tag/sha to the 40-hex commit it points at now.
// Every later call uses that sha, so a push during the download cannot mix two commits.
import { modelInfo } from '@huggingface/hub';
import { ExitCode, UserError } from '../common/errors';
import { toHubUserError } from './errors';
import { createHubFetch, type HubFetchOptions } from './hub-fetch';

export interface ResolvedRevision {
  readonly repo: string;
  readonly requestedRevision: string;
  /** 40-hex commit sha. */
  readonly commitSha: string;
  readonly gated: false | 'auto' | 'manual';
  readonly private: boolean;
  readonly pipelineTag?: string;
  readonly libraryName?: string;
}

export const COMMIT_SHA_RE = /^[0-9a-f]{40}$/;

export interface ResolveRevisionOptions extends HubFetchOptions {
  readonly repo: string;
  /** Branch, tag or commit sha. @default 'main' */
  readonly revision?: string;
}

export async function resolveRevision(opts: ResolveRevisionOptions): Promise<ResolvedRevision> {
  const revision = opts.revision || 'main';
  const ctx = { hubUrl: opts.hubUrl, repo: opts.repo, revision, hasToken: !!opts.accessToken, op: 'revision' as const };
  let info;
  try {
    info = await modelInfo({
      name: opts.repo,
      revision,
      hubUrl: opts.hubUrl,
      additionalFields: ['sha', 'library_name'],
      // The token is added by createHubFetch (for the Hub origin only).
      fetch: createHubFetch(opts),
    });
  } catch (e) {
    throw toHubUserError(e, ctx);
  }
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !COMMIT_SHA_RE.test(sha)) {
    throw new UserError(`The Hub did not return a commit sha for ${opts.repo}@${revision}`, { exitCode: ExitCode.Unavailable });
  }
  if (COMMIT_SHA_RE.test(revision) && revision !== sha) {
    throw new UserError(`The Hub resolved commit ${revision} of ${opts.repo} to ${sha}`, { exitCode: ExitCode.Integrity });
  }
  const libraryName = (info as { library_name?: unknown }).library_name;
  return {
    repo: opts.repo,
    requestedRevision: revision,
    commitSha: sha,
    gated: info.gated ?? false,
    private: !!info.private,
    pipelineTag: typeof info.task === 'string' ? info.task : undefined,
    libraryName: typeof libraryName === 'string' ? libraryName : undefined,
  };
}
