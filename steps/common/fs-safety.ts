// Paths that come from a remote (Hub tree, manifest) are untrusted: a hostile repo could list
// `../../etc/cron.d/x`. Every such path is checked here before anything is written.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ExitCode, UserError } from './errors';

/** Why `p` is not a safe relative path (forward slashes, no escape), or undefined if it is safe. */
export function unsafePathReason(p: string): string | undefined {
  if (typeof p !== 'string' || p.length === 0) return 'empty path';
  if (p.includes('\0')) return 'contains a NUL byte';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(p)) return 'contains a control character';
  if (p.includes('\\')) return 'contains a backslash';
  if (p.startsWith('/')) return 'is absolute';
  if (/^[A-Za-z]:/.test(p)) return 'starts with a drive letter';
  if (Buffer.byteLength(p) > 4096) return 'is longer than 4096 bytes';
  const segs = p.split('/');
  for (const [i, seg] of segs.entries()) {
    if (seg === '') return 'has an empty segment (`//` or a trailing `/`)';
    if (seg === '.' || seg === '..') return `has a \`${seg}\` segment`;
    if (Buffer.byteLength(seg) > 255) return 'has a segment longer than 255 bytes';
    // Tool state, not model files: writing them into a work dir that is a git checkout (or holds
    // a HF cache) would rewrite that checkout's config/hooks. Case-insensitive for macOS/Windows volumes.
    const lower = seg.toLowerCase();
    if (lower === '.git') return 'has a `.git` segment';
    if (lower === '.cache' && segs[i + 1]?.toLowerCase() === 'huggingface') return 'has a `.cache/huggingface` segment';
  }
  return undefined;
}

/** Throws a LocalStorage UserError unless `p` is a safe relative path. */
export function assertSafeRelativePath(p: string, what = 'path'): void {
  const reason = unsafePathReason(p);
  if (reason) {
    throw new UserError(`Refusing ${what} ${JSON.stringify(p)}: it ${reason}, so it could escape the destination directory or overwrite tool state`, {
      exitCode: ExitCode.LocalStorage,
      hint: 'The remote listed a path that is not a plain relative path; nothing was written. Use --ignore-patterns to skip it if the rest of the repo is wanted.',
    });
  }
}

/**
 * Joins a checked relative path under `root` and makes sure the result stays inside it
 * (belt and braces after assertSafeRelativePath).
 */
export function safeJoin(root: string, rel: string, what = 'path'): string {
  assertSafeRelativePath(rel, what);
  const absRoot = path.resolve(root);
  const full = path.resolve(absRoot, ...rel.split('/'));
  const relBack = path.relative(absRoot, full);
  if (relBack === '' || relBack.startsWith('..') || path.isAbsolute(relBack)) {
    throw new UserError(`Refusing ${what} ${JSON.stringify(rel)}: it resolves outside ${absRoot}`, { exitCode: ExitCode.LocalStorage });
  }
  return full;
}

/**
 * Refuses when a directory component between `root` (exclusive) and `rel` (inclusive) already
 * exists as a symlink (or a non-directory for intermediate parts): writing through it could land
 * outside `root`. Missing components are fine (they will be created as real directories).
 */
export async function assertNoSymlinkComponents(root: string, rel: string): Promise<void> {
  const segs = rel.split('/');
  let cur = path.resolve(root);
  for (let i = 0; i < segs.length; i++) {
    cur = path.join(cur, segs[i]);
    let st;
    try {
      st = await fs.lstat(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const last = i === segs.length - 1;
    if (st.isSymbolicLink()) {
      throw new UserError(`Refusing to write ${JSON.stringify(rel)}: ${cur} is a symbolic link`, {
        exitCode: ExitCode.LocalStorage,
        hint: 'Symlinks inside the destination could redirect writes elsewhere; remove them or use an empty --dest.',
      });
    }
    if (!last && !st.isDirectory()) {
      throw new UserError(`Cannot write ${JSON.stringify(rel)}: ${cur} exists and is not a directory`, { exitCode: ExitCode.LocalStorage });
    }
    if (last && st.isDirectory()) {
      throw new UserError(`Cannot write ${JSON.stringify(rel)}: ${cur} is a directory`, { exitCode: ExitCode.LocalStorage });
    }
  }
}
