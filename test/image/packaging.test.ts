// package.json "bin" points at dist-cli/model-mirror.js, which only `npm run bundle` makes: the
// "prepare" script bundles on `npm ci`, so `npx model-mirror` works in a fresh checkout. Checked in
// a copy of the tracked files: npm ci (prepare bundles), npm ci --ignore-scripts (what the
// Dockerfile runs: no bundle, no failure), npm ci --omit=dev (no esbuild: prepare skips, no failure).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { commands } from '../../steps/commands';
import { REPO_ROOT } from '../argo-runner/synth';
import { must, sh } from './oci';
import NODE_FLAGS from '../../steps/common/node-flags.json';

let dir: string;
const npm = (...a: string[]) => sh('npm', a, { cwd: dir, timeout: 600_000 });
const bundle = () => path.join(dir, 'dist-cli', 'model-mirror.js');

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-mirror-fresh-'));
  for (const f of must('git', ['ls-files', '-z'], { cwd: REPO_ROOT }).split('\0').filter(Boolean)) {
    const src = path.join(REPO_ROOT, f);
    if (!fs.existsSync(src)) continue; // deleted in the work tree
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.cpSync(src, path.join(dir, f), { verbatimSymlinks: true });
  }
  expect(fs.existsSync(path.join(dir, 'dist-cli'))).toBe(false);
});
afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

test('npm ci bundles (prepare) and `npx model-mirror --help` works', () => {
  const ci = npm('ci', '--no-audit', '--no-fund', '--prefer-offline');
  expect(ci.status).toBe(0);
  const envAssignments = Object.entries(NODE_FLAGS.processEnv).map(([k, v]) => `${k}=${v}`);
  expect(fs.readFileSync(bundle(), 'utf8').split('\n')[0]).toBe(['#!/usr/bin/env -S', ...envAssignments, 'node', ...NODE_FLAGS.shebangArgs].join(' '));
  const r = sh('npx', ['--no-install', 'model-mirror', '--help'], { cwd: dir });
  expect(r.status).toBe(0);
  for (const c of commands) expect(r.stdout).toContain(`model-mirror ${String(Array.isArray(c.command) ? c.command[0] : c.command).split(/\s+/)[0]}`);
}, 900_000);

test('npm ci --ignore-scripts (the Dockerfile\'s install) skips prepare and succeeds', () => {
  fs.rmSync(path.join(dir, 'dist-cli'), { recursive: true, force: true });
  const ci = npm('ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline');
  expect(ci.status).toBe(0);
  expect(fs.existsSync(bundle())).toBe(false);
}, 900_000);

test('npm ci --omit=dev (no esbuild): prepare skips the bundle instead of failing', () => {
  const ci = npm('ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline');
  expect(ci.status).toBe(0);
  expect(fs.existsSync(path.join(dir, 'node_modules', 'esbuild'))).toBe(false);
  expect(ci.stdout + ci.stderr).toMatch(/prepare: esbuild is not installed/);
  expect(fs.existsSync(bundle())).toBe(false);
}, 900_000);
