// The real single-node cluster (test/cluster/harness) as the cluster suite drives it: bring it up
// with one Argo version or the other, import images, and run kubectl / argo as a user would.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const HARNESS = path.join(REPO_ROOT, 'test/cluster/harness');
export const CACHE = process.env.MODEL_MIRROR_CACHE
  ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'model-mirror');
export const RUN_DIR = path.join(CACHE, 'cluster/run');
export const KUBECONFIG = path.join(RUN_DIR, 'kubeconfig');
/** The bridge address: pods reach the host (the Hub fixture) here. */
export const NODE_IP = '10.244.0.1';
/** The Argo controller's metrics endpoint (custom workflow metrics included). */
export const ARGO_METRICS_URL = 'http://127.0.0.1:9090/metrics';

export interface Run { readonly status: number; readonly stdout: string; readonly stderr: string }

/** Runs a harness script; throws with the tail of its output when it fails. */
export function harness(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 30 * 60_000): Run {
  return check(`${script} ${args.join(' ')}`, spawnSync('bash', [path.join(HARNESS, script), ...args], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20,
  }));
}

function check(what: string, r: SpawnSyncReturns<string>): Run {
  const out = { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (r.error || out.status !== 0) {
    const tail = (out.stderr + out.stdout).split('\n').slice(-40).join('\n');
    throw new Error(`${what} failed (${r.error ? r.error.message : `exit ${out.status}`}):\n${tail}`);
  }
  return out;
}

/** PATH with the cluster's kubectl and the argo CLI of the running Argo version first. */
export function clusterEnv(): NodeJS.ProcessEnv {
  const envFile = path.join(RUN_DIR, 'env');
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG };
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2].replace(/^["']|["']$/g, '').replace(/\$PATH|\$\{PATH\}/g, process.env.PATH ?? '');
    env[m[1]] = value;
  }
  return env;
}

/** A command a user would type (kubectl, argo, bash -c "kubectl create secret ..."). */
export function sh(cmd: string, args: string[], opts: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8', env: clusterEnv(), input: opts.input, timeout: opts.timeoutMs ?? 10 * 60_000, maxBuffer: 64 << 20,
  });
  if (opts.allowFail) return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  return check(`${cmd} ${args.join(' ')}`, r);
}

export const kubectl = (...args: string[]): string => sh('kubectl', args).stdout;
export const kubectlJson = <T = any>(...args: string[]): T => JSON.parse(kubectl(...args, '-o', 'json')) as T; // eslint-disable-line @typescript-eslint/no-explicit-any
/**
 * A command run without blocking: the Hub fixture the pods download from is served by this same
 * process, so its event loop must keep running while `argo submit --wait` (minutes) or a polling
 * kubectl runs. Resolves with the exit status; never rejects on a non-zero exit.
 */
export function shAsync(cmd: string, args: string[], timeoutMs = 15 * 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: clusterEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ status: code ?? -1, stdout, stderr }); });
  });
}

export const argo = (...args: string[]): Promise<Run> => shAsync('argo', args);

/** `kubectl ... -o json` without blocking the event loop (for polling while pods talk to the Hub fixture). */
export async function kubectlJsonAsync<T = any>(...args: string[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await shAsync('kubectl', [...args, '-o', 'json'], 60_000);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Adds `ip name...` to the cluster DNS (CoreDNS re-reads its hosts file every second). */
export function addClusterHosts(ip: string, names: string[]): void {
  const file = path.join(RUN_DIR, 'coredns/hosts');
  const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const line = `${ip} ${names.join(' ')}`;
  if (!have.split('\n').includes(line)) fs.appendFileSync(file, `${line}\n`);
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const LOCK_DIR = path.join(CACHE, 'cluster/suite.lock');

/**
 * There is one cluster per machine and each suite file brings it up and down. When jest runs
 * the files in parallel workers, the second waits here until the first has brought it down.
 * A lock left by a process that no longer exists is taken over.
 */
export async function acquireClusterLock(timeoutMs = 60 * 60_000): Promise<void> {
  fs.mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
    let alive = false;
    if (holder > 0) {
      try { process.kill(holder, 0); alive = true; } catch { alive = false; }
    }
    if (!alive || holder === process.pid) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the cluster is held by process ${holder} (${LOCK_DIR}) for more than ${timeoutMs / 60_000} min`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export function releaseClusterLock(): void {
  const holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
  if (holder === process.pid) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
}
