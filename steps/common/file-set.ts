// The identity of a file selection: which files of one commit a mirror holds. Two mirrors of the
// same (repo, commit) with different --allow-patterns / --ignore-patterns get different hashes,
// so a full mirror never reuses a version that holds only some of the files.
import { createHash } from 'node:crypto';

/** `sha256:<hex>` of the sorted `path\tsize` lines of the selected files (the commit pins contents). */
export function fileSetHash(files: Iterable<{ readonly path: string; readonly size: number }>): string {
  const lines = Array.from(files, (f) => `${f.path}\t${f.size}`).sort();
  // Line by line: the joined text of 100,000 files would be one more multi-MB string.
  const h = createHash('sha256');
  for (const [i, line] of lines.entries()) h.update(i ? `\n${line}` : line);
  return `sha256:${h.digest('hex')}`;
}
