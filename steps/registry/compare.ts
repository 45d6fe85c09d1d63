// `models compare`: what changed between two versions, file by file (by sha256).
import type { Manifest } from '../common/manifest';
import { type VersionSummary } from './version-details';

export interface FileChange {
  readonly path: string;
  readonly size_before?: number;
  readonly size_after?: number;
}

export interface VersionComparison {
  readonly model: string;
  readonly from: Pick<VersionSummary, 'version' | 'commit_sha' | 'source_repo' | 'total_bytes'>;
  readonly to: Pick<VersionSummary, 'version' | 'commit_sha' | 'source_repo' | 'total_bytes'>;
  readonly added: readonly FileChange[];
  readonly removed: readonly FileChange[];
  readonly changed: readonly FileChange[];
  readonly unchanged: number;
  /** to.total_bytes - from.total_bytes */
  readonly size_delta: number;
}

export function compareManifests(model: string, a: VersionSummary, ma: Manifest, b: VersionSummary, mb: Manifest): VersionComparison {
  const before = new Map(Array.from(ma.files, (f) => [f.path, f]));
  const after = new Map(Array.from(mb.files, (f) => [f.path, f]));
  const added: FileChange[] = [];
  const removed: FileChange[] = [];
  const changed: FileChange[] = [];
  let unchanged = 0;
  for (const [p, f] of after) {
    const old = before.get(p);
    if (!old) added.push({ path: p, size_after: f.size });
    else if (old.sha256 !== f.sha256) changed.push({ path: p, size_before: old.size, size_after: f.size });
    else unchanged++;
  }
  for (const [p, f] of before) if (!after.has(p)) removed.push({ path: p, size_before: f.size });
  const byPath = (x: FileChange, y: FileChange) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0);
  const pick = (v: VersionSummary, m: Manifest) => ({ version: v.version, commit_sha: v.commit_sha, source_repo: v.source_repo, total_bytes: m.totalBytes });
  return {
    model,
    from: pick(a, ma),
    to: pick(b, mb),
    added: added.sort(byPath),
    removed: removed.sort(byPath),
    changed: changed.sort(byPath),
    unchanged,
    size_delta: mb.totalBytes - ma.totalBytes,
  };
}
