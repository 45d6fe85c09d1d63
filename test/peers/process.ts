// Starting, watching and stopping the peer processes of one bench run.
//
// Every peer runs detached in its own process group (pgid == pid), so stopping it also stops the
// workers it forked (uvicorn workers, postgres backends). Each group is recorded in the run's
// pids file; a watchdog (reaper.sh) kills the recorded groups if the jest process dies without
// running globalTeardown, and a later run's setup kills whatever a dead run left behind.
import { spawn, spawnSync, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const REAPER = path.join(__dirname, 'reaper.sh');

/** Pids file of the current run (one line per group: `<pgid> <start time> <name>`). */
let pidsFile: string | undefined;
export function setPidsFile(file: string): void {
  pidsFile = file;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Thrown when a peer does not come up: names the peer, port and command, and quotes its log. */
export class PeerStartError extends Error {
  constructor(peer: string, port: number | undefined, command: string, logFile: string | undefined, reason: string) {
    const where = port ? ` on 127.0.0.1:${port}` : '';
    super([
      `Test bench: ${peer} failed to start${where}: ${reason}`,
      `  command: ${command}`,
      ...(logFile ? [`  log: ${logFile} (last 40 lines):`, indent(tailFile(logFile, 40))] : []),
    ].join('\n'));
    this.name = 'PeerStartError';
  }
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    | ${l}`).join('\n');
}

export function tailFile(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd() || '(empty)';
  } catch (e) {
    return `(cannot read: ${(e as Error).message})`;
  }
}

export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Start time of a pid (field 22 of /proc/<pid>/stat), to tell a recycled pid from ours. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces: split after the closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall; rest[0] is field 3
  } catch {
    return undefined;
  }
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM (or `signal`) to the whole group, then SIGKILL after `graceMs`. */
export async function stopGroup(pgid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10000): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return;
    await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(50);
}

export interface PidRecord { pgid: number; start: string; name: string }

export function readPidRecords(file: string): PidRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [pgid, start, ...name] = line.split(' ');
    return { pgid: Number(pgid), start, name: name.join(' ') };
  }).filter((r) => Number.isInteger(r.pgid) && r.pgid > 1);
}

function recordPid(pgid: number, name: string): void {
  if (!pidsFile) throw new Error('Test bench: setPidsFile() was not called before starting a peer');
  fs.appendFileSync(pidsFile, `${pgid} ${procStartTime(pgid) ?? '?'} ${name}\n`);
}

/** Clean-stop signal per peer (postgres: SIGINT = fast shutdown; SIGTERM waits for clients). */
export const stopSignalFor = (name: string): NodeJS.Signals => (name === 'postgres' ? 'SIGINT' : 'SIGTERM');

/**
 * Stops the groups recorded in `file` that are still ours (same leader start time), MLflow
 * first since it holds PostgreSQL connections, then the rest in parallel.
 */
export async function stopRecorded(file: string, graceMs = 10000): Promise<PidRecord[]> {
  const ours = readPidRecords(file).filter((r) => procStartTime(r.pgid) === r.start);
  for (const r of ours.filter((x) => x.name === 'mlflow')) await stopGroup(r.pgid, stopSignalFor(r.name), graceMs);
  await Promise.all(ours.filter((x) => x.name !== 'mlflow').map((r) => stopGroup(r.pgid, stopSignalFor(r.name), graceMs)));
  return ours;
}

/** Starts the watchdog that kills the groups in `file` once `watchPid` (jest) is gone. */
export function startReaper(watchPid: number, file: string, logFile: string): number {
  const out = fs.openSync(logFile, 'a');
  const child = spawn('bash', [REAPER, String(watchPid), file], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`Test bench: cannot start the watchdog (bash ${REAPER})`);
  return child.pid;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  readonly timeoutMs?: number;
}

/** Runs a short command to completion; throws with its output on failure. */
export function runOrThrow(peer: string, cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  const res = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    uid: opts.uid,
    gid: opts.gid,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60000,
  });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
  if (res.error || res.status !== 0) {
    const why = res.error ? res.error.message : `exit status ${res.status}${res.signal ? ` (signal ${res.signal})` : ''}`;
    throw new Error(`Test bench: ${peer}: \`${shellQuote([cmd, ...args])}\` failed: ${why}\n${indent(output.split('\n').slice(-40).join('\n'))}`);
  }
  return output;
}

export interface PeerProcessOptions extends RunOptions {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly logFile: string;
  /** The port a failure message names (the one clients use). */
  readonly port?: number;
  /** Signal for a clean stop (postgres: SIGINT = fast shutdown). @default SIGTERM */
  readonly stopSignal?: NodeJS.Signals;
}

export class PeerProcess {
  readonly pid: number;
  readonly command: string;
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly opts: PeerProcessOptions) {
    this.command = shellQuote([opts.cmd, ...opts.args]);
    fs.appendFileSync(opts.logFile, `# ${new Date().toISOString()} ${this.command}\n`);
    const out = fs.openSync(opts.logFile, 'a');
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      detached: true, // own session and process group
      stdio: ['ignore', out, out],
    };
    const child = spawn(opts.cmd, [...opts.args], spawnOpts);
    fs.closeSync(out);
    child.on('error', (e) => {
      this.exited = { code: null, signal: null };
      fs.appendFileSync(opts.logFile, `# spawn error: ${e.message}\n`);
    });
    child.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    child.unref();
    if (!child.pid) throw this.startError(`cannot spawn ${opts.cmd} (not found or not executable?)`);
    this.pid = child.pid;
    recordPid(this.pid, opts.name);
  }

  get name(): string {
    return this.opts.name;
  }

  startError(reason: string): PeerStartError {
    return new PeerStartError(this.opts.name, this.opts.port, this.command, this.opts.logFile, reason);
  }

  /** Polls `ready` until it returns true; fails early if the process exits. */
  async waitUntil(what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      if (this.exited) {
        const { code, signal } = this.exited;
        throw this.startError(`process exited (${signal ? `signal ${signal}` : `exit code ${code}`}) before ${what}`);
      }
      try {
        if (await ready()) return;
      } catch (e) {
        lastError = (e as Error).message;
      }
      if (Date.now() > deadline) {
        throw this.startError(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
      }
      await sleep(200);
    }
  }

  async stop(graceMs = 10000): Promise<void> {
    await stopGroup(this.pid, this.opts.stopSignal ?? 'SIGTERM', graceMs);
  }
}
