// Step 2: the file tree at the pinned commit, listed once (recursive, following the tree API's
// `Link: rel="next"` pagination). Sizes and hashes here are what downloads are verified against.
// The pages are fetched here rather than by @huggingface/hub's listFiles so that an answer that is
// not a tree, a `next` link that loops or leaves the Hub, or an endless listing fails clearly.
import { ExitCode, UserError } from '../common/errors';
import { toHubUserError } from './errors';
import { badHubAnswer, createHubFetch, readHubJson, type HubFetchOptions } from './hub-fetch';
import { FileTable } from '../common/file-table';
import { patternFilter } from './patterns';

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

/** The Hub pages recursive trees 1000 entries at a time: these allow ~10M entries, far beyond any model. */
export const MAX_TREE_PAGES = 10_000;
export const MAX_TREE_ENTRIES = 10_000_000;

export interface ListRepoFilesOptions extends HubFetchOptions {
  readonly repo: string;
  /** Must be the resolved 40-hex commit sha. */
  readonly commitSha: string;
  /** @default MAX_TREE_PAGES */
  readonly maxPages?: number;
  /** @default MAX_TREE_ENTRIES */
  readonly maxEntries?: number;
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** The `rel="next"` target of a `Link` header, resolved against the page it came with. */
export function nextPageUrl(link: string | null, pageUrl: string): string | undefined {
  if (!link) return undefined;
  for (const m of link.matchAll(/<([^>]*)>([^<]*)/g)) {
    const rel = /;\s*rel\s*=\s*"?([^";,]*)"?/i.exec(m[2])?.[1];
    if (!rel || !rel.toLowerCase().split(/\s+/).includes('next')) continue;
    try {
      return new URL(m[1], pageUrl).toString();
    } catch {
      throw badHubAnswer(pageUrl, `paginated with an invalid next link ${JSON.stringify(m[1])}`);
    }
  }
  return undefined;
}

/** One tree entry as a RepoFile (undefined for directories); anything not tree-shaped is a bad answer. */
function toRepoFile(item: unknown, pageUrl: string): RepoFile | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badHubAnswer(pageUrl, 'not a file listing (an entry is not an object)');
  const entry = item as { type?: unknown; path?: unknown; size?: unknown; oid?: unknown; lfs?: unknown };
  if (typeof entry.type !== 'string' || typeof entry.path !== 'string') throw badHubAnswer(pageUrl, 'not a file listing (an entry has no type and path)');
  if (entry.type !== 'file') return undefined;
  const lfs = !!entry.lfs;
  const lfsInfo = (typeof entry.lfs === 'object' ? entry.lfs : {}) as { size?: unknown; oid?: unknown };
  const size = lfs ? lfsInfo.size : entry.size;
  const sha256 = lfs && typeof lfsInfo.oid === 'string' ? lfsInfo.oid.toLowerCase() : undefined;
  const gitBlobSha1 = !lfs && typeof entry.oid === 'string' ? entry.oid.toLowerCase() : undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || (lfs && !HEX64.test(sha256 ?? '')) || (!lfs && !HEX40.test(gitBlobSha1 ?? ''))) {
    throw new UserError(`The Hub listed ${JSON.stringify(entry.path)} without a usable size/hash; cannot verify it`, { exitCode: ExitCode.Integrity });
  }
  return { path: entry.path, size, lfs, sha256, gitBlobSha1 };
}

/** Every file of the tree (directories left out), in tree order. */
export async function listRepoFiles(opts: ListRepoFilesOptions): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  await forEachRepoFile(opts, (f) => files.push(f));
  return files;
}

/** Calls `onFile` for each file of the tree as its page arrives; nothing of the listing is kept here. */
export async function forEachRepoFile(opts: ListRepoFilesOptions, onFile: (file: RepoFile) => void): Promise<void> {
  const ctx = { hubUrl: opts.hubUrl, repo: opts.repo, revision: opts.commitSha, hasToken: !!opts.accessToken, op: 'list' as const };
  const maxPages = opts.maxPages ?? MAX_TREE_PAGES;
  const maxEntries = opts.maxEntries ?? MAX_TREE_ENTRIES;
  const hubOrigin = new URL(opts.hubUrl).origin;
  const hubFetch = createHubFetch(opts);
  const unavailable = (message: string) => new UserError(message, { exitCode: ExitCode.Unavailable, hint: 'The Hub (or what --hub-url / HF_ENDPOINT points at) paginated the file tree in a way that cannot end well; rerun later or check the Hub URL.' });
  const seen = new Set<string>();
  let entries = 0;
  let url: string | undefined = `${opts.hubUrl}/api/models/${opts.repo}/tree/${encodeURIComponent(opts.commitSha)}?recursive=true&expand=false`;
  try {
    while (url) {
      if (seen.has(url)) throw unavailable(`The Hub's file listing of ${opts.repo} loops: its next page ${url} was already listed`);
      if (seen.size >= maxPages) throw unavailable(`The Hub's file listing of ${opts.repo} goes on for more than ${maxPages} pages; giving up`);
      seen.add(url);
      const res = await hubFetch(url, { headers: { accept: 'application/json' } });
      const page = await readHubJson(res, url);
      if (!Array.isArray(page)) throw badHubAnswer(url, 'not a file listing (expected a JSON array)');
      entries += page.length;
      if (entries > maxEntries) throw unavailable(`The Hub's file listing of ${opts.repo} has more than ${maxEntries} entries; giving up`);
      for (const item of page) {
        const file = toRepoFile(item, url);
        if (file) onFile(file);
      }
      url = nextPageUrl(res.headers.get('link'), url);
      // The token goes to the Hub's origin only, and a listing from elsewhere is not the Hub's.
      if (url && new URL(url).origin !== hubOrigin) {
        throw unavailable(`Refusing the next page of the ${opts.repo} file listing: it is on another origin (${new URL(url).origin}, the Hub is ${hubOrigin})`);
      }
    }
  } catch (e) {
    throw toHubUserError(e, ctx);
  }
}

export interface ListSelectedFilesOptions extends ListRepoFilesOptions {
  readonly allowPatterns?: readonly string[];
  readonly ignorePatterns?: readonly string[];
}

/**
 * The repo's files at a commit that the patterns select, as a table (filtered as the pages
 * arrive: no object is kept per file); none matching is a usage error.
 */
export async function listSelectedFiles(opts: ListSelectedFilesOptions): Promise<FileTable> {
  const selects = patternFilter(opts.allowPatterns, opts.ignorePatterns);
  const files = new FileTable();
  let listed = 0;
  await forEachRepoFile(opts, (f) => {
    listed++;
    if (selects(f.path)) files.add(f);
  });
  if (files.length === 0) {
    throw new UserError(`No files of ${opts.repo}@${opts.commitSha.slice(0, 12)} match the patterns (${listed} files in the repo)`, {
      exitCode: ExitCode.Usage,
      hint: 'Check --allow-patterns / --ignore-patterns (globs like *.safetensors or subdir/; `*` also matches `/`).',
    });
  }
  return files;
}
