// One temporary directory per `jest` run: the root globalSetup points TMPDIR at it, so every
// os.tmpdir() in a test worker, and every peer or tool a test spawns (Python's tempfile, Go, cdk8s's
// Testing.app()), makes its temporary files inside it, and globalTeardown removes it whole. Before
// this, every run left cdk8s outdirs, test directories and MLflow downloads in /tmp.
// A run that is killed leaves its root; the next run removes every root whose jest is gone.
// Jest runs the projects' globalSetup hooks before the root one, so the integration project's
// hook (which starts MLflow and SeaweedFS: they write temporary files too) calls useRunTmpDir()
// first; the root hook then finds the directory made.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pidAlive } from '../../steps/mlflow/run-lease';

export const ROOT_PREFIX = 'mm-jest-';
const OWNER_FILE = '.owner-pid';

/**
 * Removes the roots under `parent` left by runs whose jest process is gone; returns their paths.
 * A root without an owner file is left alone (it is not ours, or its run is still creating it).
 */
export function removeStaleRoots(parent: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(ROOT_PREFIX)) continue;
    const dir = path.join(parent, name);
    const owner = readOwner(dir);
    if (owner === undefined || !Number.isInteger(owner) || owner <= 0 || pidAlive(owner)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Makes this run's root under `parent` (the machine's temporary directory by default). */
export function makeRoot(parent: string = os.tmpdir(), ownerPid: number = process.pid): string {
  const dir = fs.mkdtempSync(path.join(parent, ROOT_PREFIX));
  // It stands in for /tmp: peers that drop to another user (PostgreSQL runs as `postgres`) must
  // reach their directories in it.
  fs.chmodSync(dir, 0o1777);
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(ownerPid));
  return dir;
}

/**
 * Points TMPDIR of `env` at this run's root, making it (and removing stale ones) on the first call
 * of the run; later calls in the same jest process are no-ops. Returns the root.
 */
export function useRunTmpDir(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): string {
  const current = env.TMPDIR;
  if (current && isRunRoot(current) && readOwner(current) === pid) return current;
  const parent = current || os.tmpdir();
  removeStaleRoots(parent);
  const root = makeRoot(parent, pid);
  env.MODEL_MIRROR_TEST_TMP_PARENT = current ?? '';
  // Workers are forked after the globalSetup hooks and inherit this environment.
  env.TMPDIR = root;
  return root;
}

/**
 * The other half of useRunTmpDir: removes the root TMPDIR points at (unless `keep`) and points
 * TMPDIR back where it was. Returns the root, or undefined if TMPDIR is not a run's root.
 */
export function releaseRunTmpDir(env: NodeJS.ProcessEnv = process.env, keep = false): string | undefined {
  const root = env.TMPDIR;
  if (!root || !isRunRoot(root)) return undefined;
  if (!keep) fs.rmSync(root, { recursive: true, force: true });
  if (env.MODEL_MIRROR_TEST_TMP_PARENT) env.TMPDIR = env.MODEL_MIRROR_TEST_TMP_PARENT;
  else delete env.TMPDIR;
  return root;
}

function isRunRoot(dir: string): boolean {
  return path.basename(dir).startsWith(ROOT_PREFIX);
}

function readOwner(dir: string): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}
