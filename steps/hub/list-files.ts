// Step 2: the file tree at the pinned commit, listed once (recursive, following `Link` pagination
// inside @huggingface/hub's listFiles). Sizes and hashes here are what downloads are verified against.
import { listFiles } from '@huggingface/hub';
import { ExitCode, UserError } from '../common/errors';
import { toHubUserError } from './errors';
import { createHubFetch, type HubFetchOptions } from './hub-fetch';
import { filterByPatterns } from './patterns';

export interface RepoFile {
  /** Path in the repo, forward slashes (untrusted: check before using as a local path). */
  readonly path: string;
  readonly size: number;
  readonly lfs: boolean;
  /** Published sha256 (LFS `oid`), for LFS files. */
  readonly sha256?: string;
  /** Git blob sha1 (`oid`), for non-LFS files. */
  readonly gitBlobSha1?: string;
}

export interface ListRepoFilesOptions extends HubFetchOptions {
  readonly repo: string;
  /** Must be the resolved 40-hex commit sha. */
  readonly commitSha: string;
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export async function listRepoFiles(opts: ListRepoFilesOptions): Promise<RepoFile[]> {
  const ctx = { hubUrl: opts.hubUrl, repo: opts.repo, revision: opts.commitSha, hasToken: !!opts.accessToken, op: 'list' as const };
  const files: RepoFile[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type: 'model', name: opts.repo },
      revision: opts.commitSha,
      recursive: true,
      expand: false,
      hubUrl: opts.hubUrl,
      fetch: createHubFetch(opts),
    })) {
      if (entry.type !== 'file') continue;
      const lfs = !!entry.lfs;
      const size = lfs ? entry.lfs!.size : entry.size;
      const sha256 = lfs ? entry.lfs!.oid?.toLowerCase() : undefined;
      const gitBlobSha1 = lfs ? undefined : entry.oid?.toLowerCase();
      if (!Number.isSafeInteger(size) || size < 0 || (lfs && !HEX64.test(sha256 ?? '')) || (!lfs && !HEX40.test(gitBlobSha1 ?? ''))) {
        throw new UserError(`The Hub listed ${JSON.stringify(entry.path)} without a usable size/hash; cannot verify it`, { exitCode: ExitCode.Integrity });
      }
      files.push({ path: entry.path, size, lfs, sha256, gitBlobSha1 });
    }
  } catch (e) {
    throw toHubUserError(e, ctx);
  }
  return files;
}

export interface ListSelectedFilesOptions extends ListRepoFilesOptions {
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
}

/** The repo's files at a commit, filtered by the patterns; none matching is a usage error. */
export async function listSelectedFiles(opts: ListSelectedFilesOptions): Promise<RepoFile[]> {
  const all = await listRepoFiles(opts);
  const files = filterByPatterns(all, opts.allowPatterns, opts.ignorePatterns);
  if (files.length === 0) {
    throw new UserError(`No files of ${opts.repo}@${opts.commitSha.slice(0, 12)} match the patterns (${all.length} files in the repo)`, {
      exitCode: ExitCode.Usage,
      hint: 'Check --allow-patterns / --ignore-patterns (globs like *.safetensors or subdir/; `*` also matches `/`).',
    });
  }
  return files;
}
