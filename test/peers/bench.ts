// Start and stop the whole bench (used by global-setup.ts / global-teardown.ts).
//
// Each jest run owns `.peers/runs/<jest pid>/` (state.json, pids, peers.json) and a temp data
// dir, so several runs in one work tree (several engineers, or a run and a watch) do not touch
// each other's peers. A run directory whose owner process is gone belongs to a crashed run: the
// next setup stops its leftover processes and removes its data.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PEERS_ROOT, Peers, Tools, readTools, TOOLS_FILE } from './peers';
import {
  procStartTime, setPidsFile, startReaper, stopRecorded,
} from './process';
import { freePorts } from './ports';
import { startPostgres } from './postgres';
import { startSeaweedfs } from './seaweedfs';
import { startMlflow } from './mlflow';

const RUNS_ROOT = path.join(PEERS_ROOT, 'runs');
/** Kept between runs so a failed run can be inspected; older ones are pruned. */
export const LOGS_ROOT = path.join(PEERS_ROOT, 'logs');
/** Copy of the latest run's peers.json, for tools started outside jest. */
const LATEST_PEERS_FILE = path.join(PEERS_ROOT, 'peers.json');
const KEEP_LOG_RUNS = 10;

interface RunPaths { dir: string; state: string; pids: string; peers: string }

interface BenchState {
  readonly ownerPid: number;
  readonly ownerStart?: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly reaperPid?: number;
  readonly reaperStart?: string;
}

export const keepPeers = (): boolean => process.env.MODEL_MIRROR_KEEP_PEERS === '1';

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function runPaths(ownerPid: number): RunPaths {
  const dir = path.join(RUNS_ROOT, String(ownerPid));
  return { dir, state: path.join(dir, 'state.json'), pids: path.join(dir, 'pids'), peers: path.join(dir, 'peers.json') };
}

function readState(file: string): BenchState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as BenchState;
  } catch {
    return undefined;
  }
}

function checkTools(tools: Tools): void {
  const missing = [tools.python, tools.mlflow, tools.weed, path.join(tools.pgBin, 'initdb'), path.join(tools.pgBin, 'postgres')]
    .filter((p) => !fs.existsSync(p));
  if (missing.length) {
    throw new Error(`Test bench tools listed in ${TOOLS_FILE} are missing: ${missing.join(', ')}. Run: bash test/peers/install.sh`);
  }
}

function pruneLogs(): void {
  if (!fs.existsSync(LOGS_ROOT)) return;
  const runs = fs.readdirSync(LOGS_ROOT).filter((d) => d.startsWith('run-')).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - KEEP_LOG_RUNS))) {
    fs.rmSync(path.join(LOGS_ROOT, old), { recursive: true, force: true });
  }
}

/** Stops the peers of runs whose jest process is gone and removes their data. */
async function reapDeadRuns(): Promise<void> {
  if (!fs.existsSync(RUNS_ROOT)) return;
  for (const name of fs.readdirSync(RUNS_ROOT)) {
    const paths = runPaths(Number(name));
    const state = readState(paths.state);
    const ownerPid = state?.ownerPid ?? Number(name);
    const ownerAlive = Number.isInteger(ownerPid) && ownerPid > 1 && procStartTime(ownerPid) !== undefined
      && (state?.ownerStart === undefined || procStartTime(ownerPid) === state.ownerStart);
    if (ownerAlive) continue; // another jest run, still going
    const stopped = await stopRecorded(paths.pids, 5000);
    for (const r of stopped) log(`stopped leftover ${r.name} (pgid ${r.pgid}) of dead run ${name}`);
    if (state && !keepPeers()) fs.rmSync(state.dataDir, { recursive: true, force: true });
    fs.rmSync(paths.dir, { recursive: true, force: true });
  }
}

export async function startBench(): Promise<Peers> {
  const t0 = Date.now();
  const tools = readTools();
  checkTools(tools);
  await reapDeadRuns();

  const run = runPaths(process.pid);
  fs.rmSync(run.dir, { recursive: true, force: true });
  fs.mkdirSync(run.dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const logDir = path.join(LOGS_ROOT, `run-${stamp}-${process.pid}`);
  fs.mkdirSync(logDir, { recursive: true });
  pruneLogs();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-mirror-peers-'));
  fs.chmodSync(dataDir, 0o755); // postgres runs as an unprivileged user under root

  fs.writeFileSync(run.pids, ''); // the watchdog exits once this file is gone
  setPidsFile(run.pids);
  const reaperPid = startReaper(process.pid, run.pids, path.join(logDir, 'reaper.log'));
  const state: BenchState = {
    ownerPid: process.pid,
    ownerStart: procStartTime(process.pid),
    dataDir,
    logDir,
    reaperPid,
    reaperStart: procStartTime(reaperPid),
  };
  fs.writeFileSync(run.state, JSON.stringify(state, null, 2));

  try {
    const [pgPort, mlflowPort] = await freePorts(2);
    const mkdir = (name: string) => {
      const d = path.join(dataDir, name);
      fs.mkdirSync(d, { recursive: true });
      return d;
    };
    const [pgResult, weedResult] = await Promise.allSettled([
      startPostgres(tools, { dir: mkdir('postgres'), logDir, port: pgPort }),
      startSeaweedfs(tools, { dir: mkdir('seaweedfs'), logDir }),
    ]);
    const failures = [pgResult, weedResult].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length || pgResult.status !== 'fulfilled' || weedResult.status !== 'fulfilled') {
      throw new Error(failures.map((f) => (f.reason as Error).message).join('\n\n'));
    }
    const pg = pgResult.value;
    const weed = weedResult.value;
    log(`postgres on 127.0.0.1:${pg.port}, seaweedfs S3 on ${weed.s3.endpoint} (${Date.now() - t0} ms)`);

    const mlflow = await startMlflow(tools, {
      dir: mkdir('mlflow'), logDir, port: mlflowPort, backendStoreUri: pg.sqlalchemyUrl, s3: weed.s3,
    });
    log(`mlflow ${mlflow.version} on ${mlflow.url}; bench up in ${Date.now() - t0} ms; logs in ${logDir}`);

    const peers: Peers = {
      tools,
      postgres: { url: pg.url, port: pg.port },
      s3: weed.s3,
      mlflow: { url: mlflow.url, version: mlflow.version, artifactRoot: mlflow.artifactRoot, allowedHosts: mlflow.allowedHosts },
      logDir,
    };
    const json = JSON.stringify(peers, null, 2);
    fs.writeFileSync(run.peers, json, { mode: 0o600 });
    fs.writeFileSync(`${LATEST_PEERS_FILE}.${process.pid}.tmp`, json, { mode: 0o600 });
    fs.renameSync(`${LATEST_PEERS_FILE}.${process.pid}.tmp`, LATEST_PEERS_FILE);
    // Inherited by jest's test workers (forked after globalSetup): getPeers() reads this run's file.
    process.env.MODEL_MIRROR_PEERS_FILE = run.peers;
    return peers;
  } catch (e) {
    await stopBench({ quiet: true });
    throw e;
  }
}

/** Stops this run's peers (SIGTERM/SIGINT, then SIGKILL) and removes its data unless kept. */
export async function stopBench(opts: { quiet?: boolean } = {}): Promise<void> {
  const run = runPaths(process.pid);
  const state = readState(run.state);
  await stopRecorded(run.pids, 10000);
  fs.rmSync(run.pids, { force: true }); // also tells the watchdog to exit
  if (state?.reaperPid && procStartTime(state.reaperPid) === state.reaperStart) {
    try { process.kill(state.reaperPid, 'SIGTERM'); } catch { /* gone */ }
  }
  // Drop the "latest" copy only if it is ours.
  try {
    if (fs.existsSync(run.peers) && fs.readFileSync(LATEST_PEERS_FILE, 'utf8') === fs.readFileSync(run.peers, 'utf8')) {
      fs.rmSync(LATEST_PEERS_FILE, { force: true });
    }
  } catch { /* no latest copy */ }
  fs.rmSync(run.dir, { recursive: true, force: true });
  if (process.env.MODEL_MIRROR_PEERS_FILE === run.peers) delete process.env.MODEL_MIRROR_PEERS_FILE;
  if (!state) return;
  if (keepPeers()) {
    if (!opts.quiet) log(`MODEL_MIRROR_KEEP_PEERS=1: kept the peers' data in ${state.dataDir}`);
  } else {
    fs.rmSync(state.dataDir, { recursive: true, force: true });
  }
  if (!opts.quiet) log(`peers stopped; logs in ${state.logDir}`);
}
