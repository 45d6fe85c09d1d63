// The model-mirror CLI as separate processes (the bundle of the current source), for tests that
// need real concurrency or a SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../peers/peers';

export function buildBundle(dir: string): string {
  const bundle = path.join(dir, 'cli', 'model-mirror.js');
  const b = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle, '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (b.status !== 0) throw new Error(`bundle failed (exit ${b.status}):\n${b.stdout}\n${b.stderr}`);
  return bundle;
}

export interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown>[];
  readonly ms: number;
}

export interface StartedChild {
  readonly child: ChildProcess;
  readonly done: Promise<ChildResult>;
}

export function startCli(bundle: string, args: string[], env: Record<string, string>): StartedChild {
  const started = Date.now();
  const child = spawn(process.execPath, [bundle, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TMPDIR: process.env.TMPDIR, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code, signal) => {
      const json = stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, signal, stdout, stderr, json, ms: Date.now() - started });
    });
  });
  return { child, done };
}
