import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeRoot, releaseRunTmpDir, removeStaleRoots, ROOT_PREFIX, useRunTmpDir } from '../tmpdir/tmp-root';

describe('the per-run temporary directory (test/tmpdir)', () => {
  test('this worker runs with TMPDIR set to the run\'s root, and child processes inherit it', () => {
    expect(path.basename(os.tmpdir())).toMatch(new RegExp(`^${ROOT_PREFIX}`));
    const child = spawnSync('sh', ['-c', 'mktemp -d'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(path.dirname(child.stdout.trim())).toBe(os.tmpdir());
  });

  test('a root whose jest is gone is removed; a live one, one with no owner file and other directories are kept', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'parent-'));
    const deadPid = spawnSync('true').pid!;
    const stale = makeRoot(parent, deadPid);
    fs.writeFileSync(path.join(stale, 'left-over'), 'x');
    const live = makeRoot(parent, process.pid);
    // like /tmp, so that PostgreSQL (user postgres) reaches its data directory inside
    expect(fs.statSync(live).mode & 0o7777).toBe(0o1777);
    const noOwner = fs.mkdtempSync(path.join(parent, ROOT_PREFIX));
    const other = fs.mkdtempSync(path.join(parent, 'mm-config-'));
    expect(removeStaleRoots(parent)).toEqual([stale]);
    expect(fs.existsSync(stale)).toBe(false);
    for (const kept of [live, noOwner, other]) expect(fs.existsSync(kept)).toBe(true);
  });

  test('useRunTmpDir makes the root once per jest process: the projects\' hooks and the root hook share it', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'parent-'));
    const env: NodeJS.ProcessEnv = { TMPDIR: parent };
    const first = useRunTmpDir(env, process.pid);
    expect(path.dirname(first)).toBe(parent);
    expect(env.TMPDIR).toBe(first);
    expect(useRunTmpDir(env, process.pid)).toBe(first);
    expect(fs.readdirSync(parent)).toEqual([path.basename(first)]);
    // another jest process (its root is not ours): a root of its own
    const other = useRunTmpDir({ TMPDIR: first }, process.pid + 1);
    expect(path.dirname(other)).toBe(first);
    // the teardown's half: the root goes, TMPDIR points where it pointed before
    expect(releaseRunTmpDir(env)).toBe(first);
    expect(fs.existsSync(first)).toBe(false);
    expect(env.TMPDIR).toBe(parent);
    expect(releaseRunTmpDir(env)).toBeUndefined();
  });
});
