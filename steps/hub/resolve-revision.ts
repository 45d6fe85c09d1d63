// Step 1 of a download: pin the requested branch/tag/sha to the 40-hex commit it points at now.
// Every later call uses that sha, so a push during the download cannot mix two commits.
import { ExitCode, UserError } from '../common/errors';
import { toHubUserError } from './errors';
import { badHubAnswer, createHubFetch, readHubJson, type HubFetchOptions } from './hub-fetch';

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
  // The revision endpoint directly (not @huggingface/hub's modelInfo), so that an answer that is
  // not a model's info is a clear error rather than a TypeError inside the library.
  const fields = ['sha', 'gated', 'private', 'pipeline_tag', 'library_name'].map((f) => `expand=${f}`).join('&');
  const url = `${opts.hubUrl}/api/models/${opts.repo}/revision/${encodeURIComponent(revision)}?${fields}`;
  let info: unknown;
  try {
    // The token is added by createHubFetch (for the Hub origin only).
    info = await readHubJson(await createHubFetch(opts)(url, { headers: { accept: 'application/json' } }), url);
  } catch (e) {
    throw toHubUserError(e, ctx);
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw badHubAnswer(url, 'not a model\'s info (expected a JSON object)');
  const { sha, gated, private: isPrivate, pipeline_tag: pipelineTag, library_name: libraryName } = info as Record<string, unknown>;
  if (typeof sha !== 'string' || !COMMIT_SHA_RE.test(sha)) {
    throw new UserError(`The Hub did not return a commit sha for ${opts.repo}@${revision} (${url.slice(0, url.indexOf('?'))})`, { exitCode: ExitCode.Unavailable });
  }
  if (COMMIT_SHA_RE.test(revision) && revision !== sha) {
    throw new UserError(`The Hub resolved commit ${revision} of ${opts.repo} to ${sha}`, { exitCode: ExitCode.Integrity });
  }
  return {
    repo: opts.repo,
    requestedRevision: revision,
    commitSha: sha,
    // Any other truthy value is treated as gated: a token is then required, never silently skipped.
    gated: gated === 'auto' || gated === 'manual' ? gated : gated ? 'manual' : false,
    private: !!isPrivate,
    pipelineTag: typeof pipelineTag === 'string' ? pipelineTag : undefined,
    libraryName: typeof libraryName === 'string' ? libraryName : undefined,
  };
}
