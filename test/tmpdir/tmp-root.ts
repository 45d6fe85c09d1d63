// One temporary directory per `jest` run: the root globalSetup points TMPDIR at it, so every
// os.tmpdir() in a test worker, and every peer or tool a test spawns (Python's tempfile, Go, cdk8s's
// Testing.app()), makes its temporary files inside it, and globalTeardown removes it whole. Before
// this, a run left ~100 directories (and ~15 MB of MLflow downloads) in /tmp that no test removed.
// A run that is killed leaves its root; the next run removes every root whose jest is gone.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT_PREFIX = 'mm-jest-';
const OWNER_FILE = '.owner-pid';

/** Whether a process with this PID exists (EPERM: it exists, owned by another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the roots under `parent` left by runs whose jest process is gone; returns their paths.
 * A root without an owner file is left alone (it is not ours, or its run is still creating it).
 */
export function removeStaleRoots(parent: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(ROOT_PREFIX)) continue;
    const dir = path.join(parent, name);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Makes this run's root under `parent` (the machine's temporary directory by default). */
export function makeRoot(parent: string = os.tmpdir(), ownerPid: number = process.pid): string {
  const dir = fs.mkdtempSync(path.join(parent, ROOT_PREFIX));
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(ownerPid));
  return dir;
}
