// Before any MLflow state is created (`prepare`, `mirror`): check on the Hub that the repo and
// revision exist, pin the revision to its commit, list the files the patterns select, and check
// that the token may read them (gated repos publish their info and tree to anyone, but answer
// 401/403 GatedRepo on file contents). The file selection's hash is part of a version's identity
// (see steps/mlflow/identity.ts), so a full mirror never reuses a version made from fewer files.
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { fileSetHash } from '../common/file-set';
import { FileTable } from '../common/file-table';
import { resolveUrl } from './download-file';
import { gatedRepoError, toHubUserError } from './errors';
import { hubHeaders, readHubError } from './hub-fetch';
import { DEFAULT_HUB_URL, normalizeHubUrl, validateModelId } from './hub-config';
import { listSelectedFiles, type RepoFile } from './list-files';
import { mlflowPathProblem } from './mlflow-paths';
import { DEFAULT_IDLE_TIMEOUT_MS } from './idle-timeout';
import { resolveRevision } from './resolve-revision';
import type { RetryOptions } from '../common/retry';
import type { PolicyDecision } from '../policy/decide';
import { admitRepo, enforcePolicy } from '../policy/enforce';
import type { Policy } from '../policy/policy';
import { withRetry, isRetryableStatus, RetryableError, serverRequestedDelay } from '../common/retry';

export interface CheckSourceOptions {
  readonly modelId: string;
  /** @default 'main' */
  readonly revision?: string;
  readonly hubUrl?: string;
  readonly accessToken?: string;
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
  readonly retry?: RetryOptions;
  readonly fetchImpl?: typeof fetch;
  /** The mirroring policy: a repo it refuses fails here (exit 9), before any byte or MLflow state. */
  readonly policy?: Policy;
}

export interface CheckedSource {
  readonly repo: string;
  readonly requestedRevision: string;
  readonly commitSha: string;
  readonly hubUrl: string;
  /** The files the patterns (and the policy) select, in tree order. */
  readonly files: FileTable;
  readonly totalBytes: number;
  /** fileSetHash of the selected files (paths and sizes at this commit). */
  readonly fileSet: string;
  readonly pipelineTag?: string;
  readonly gated: false | 'auto' | 'manual';
  /** The policy's decision (its files are `files`); undefined without a policy. */
  readonly policy?: PolicyDecision;
}

/** HEAD of one file's resolve URL, redirects not followed: proves the token may read file contents. */
async function checkReadable(hubUrl: string, repo: string, commitSha: string, file: RepoFile, accessToken: string | undefined, opts: CheckSourceOptions): Promise<void> {
  const url = resolveUrl(hubUrl, repo, commitSha, file.path);
  const doFetch = opts.fetchImpl ?? fetch;
  const once = async () => {
    // A HEAD has no body: its answer must come within the idle timeout (TimeoutError is retried).
    const res = await doFetch(url, { method: 'HEAD', redirect: 'manual', headers: hubHeaders(url, { hubUrl, accessToken }), signal: AbortSignal.timeout(DEFAULT_IDLE_TIMEOUT_MS) });
    if (res.status < 400) return;
    if (isRetryableStatus(res.status)) throw new RetryableError(`HEAD ${url}: HTTP ${res.status}`, { status: res.status, retryAfterMs: serverRequestedDelay(res.headers) });
    throw await readHubError(res, url);
  };
  try {
    await withRetry(once, { ...opts.retry });
  } catch (e) {
    throw toHubUserError(e, { hubUrl, repo, revision: commitSha, path: file.path, hasToken: !!accessToken, op: 'file' });
  }
}

/** Files MLflow could store but not list or serve (mlflow-paths.ts): refused before any byte moves. */
function refuseUnaddressable(repo: string, files: FileTable): void {
  const bad: Array<{ path: string; rule: string }> = [];
  for (let i = 0; i < files.length; i++) {
    const p = files.path(i);
    const rule = mlflowPathProblem(p);
    if (rule) bad.push({ path: p, rule });
  }
  if (!bad.length) return;
  const first = bad[0];
  const shown = bad.slice(0, 5).map((b) => JSON.stringify(b.path)).join(', ');
  // The smallest pattern that leaves the first one out: its folder (with the offending part), else the file.
  const parts = first.path.split('/');
  const i = parts.findIndex((p) => mlflowPathProblem(p));
  const pattern = i >= 0 && i < parts.length - 1 ? `${parts.slice(0, i + 1).join('/')}/` : first.path;
  throw new UserError(`${repo} has ${bad.length} file(s) whose path MLflow cannot address as a run artifact: ${shown}${bad.length > 5 ? ', …' : ''}. ${JSON.stringify(first.path)} ${first.rule}`, {
    exitCode: ExitCode.Usage,
    hint: `Leave them out with --ignore-patterns ${JSON.stringify(pattern)} (and the like), or mirror another revision. Nothing was downloaded.`,
  });
}

export async function checkSource(opts: CheckSourceOptions): Promise<CheckedSource> {
  const repo = validateModelId(opts.modelId);
  const hubUrl = normalizeHubUrl(opts.hubUrl || DEFAULT_HUB_URL);
  const hub = { hubUrl, accessToken: opts.accessToken, retry: opts.retry, fetchImpl: opts.fetchImpl };
  const resolved = await resolveRevision({ ...hub, repo, revision: opts.revision });
  // Publisher and gating first: no point asking for a token for a repo the policy refuses.
  if (opts.policy) admitRepo(opts.policy, repo, resolved.gated);
  if (resolved.gated && !opts.accessToken) throw gatedRepoError({ hubUrl, repo, hasToken: false, op: 'revision' });
  const selected = await listSelectedFiles({
    ...hub, repo, commitSha: resolved.commitSha, allowPatterns: opts.allowPatterns, ignorePatterns: opts.ignorePatterns,
  });
  // The policy may skip files (pickle duplicates): the file set, and so the version's identity,
  // is what remains; download applies the same policy and gets the same files.
  // The policy looks at the files as a list (made only for it).
  const decision = opts.policy
    ? await enforcePolicy(opts.policy, { ...hub, repo, commitSha: resolved.commitSha, gated: resolved.gated, files: Array.from(selected.entries()) })
    : undefined;
  const files = decision ? FileTable.of(decision.files) : selected;
  refuseUnaddressable(repo, files);
  // The smallest selected file: a gated repo refuses it like any other.
  let probe = 0;
  for (let i = 1; i < files.length; i++) if (files.size(i) < files.size(probe)) probe = i;
  await checkReadable(hubUrl, repo, resolved.commitSha, files.entry(probe), opts.accessToken, opts);
  const totalBytes = files.totalBytes;
  log.info(`Hub: ${repo}@${resolved.requestedRevision} is commit ${resolved.commitSha}; ${files.length} files selected (${totalBytes} bytes)`);
  return {
    repo,
    requestedRevision: resolved.requestedRevision,
    commitSha: resolved.commitSha,
    hubUrl,
    files,
    totalBytes,
    fileSet: fileSetHash(files),
    pipelineTag: resolved.pipelineTag,
    gated: resolved.gated,
    policy: decision,
  };
}
