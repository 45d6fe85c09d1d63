// Keeps what the product's pods printed after the pods are gone. Argo deletes a pod that
// succeeded (the template's podGC is OnPodSuccess) and the kubelet deletes its log files with it,
// so when a test fails on what a later step saw, the earlier step's log would be lost. A copier
// running beside the suite (its own process: the suite's spawnSync calls block the event loop)
// copies the namespace's container logs out of the kubelet's pod log dir twice a second; a test
// wrapped in `printPodLogsOnFailure` prints the end of each log of the pods that ran during it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RUN_DIR } from './cluster';

/** The kubelet's `podLogsDir` (harness config.sh): `<namespace>_<pod>_<uid>/<container>/<n>.log`. */
const KUBELET_POD_LOGS = path.join(RUN_DIR, 'pod-logs');
/** Lines kept from the end of each container's log when a test fails. */
const TAIL_LINES = 40;
/** Argo's own containers: their end says little about why a step failed. */
const ARGO_CONTAINERS = new Set(['init', 'wait']);
/** One copy of the namespace's pod log dirs ($1 kubelet dir, $2 namespace, $3 destination). */
const COPY = 'for d in "$1/$2"_*; do [ -d "$d" ] && cp -a "$d" "$3/" 2>/dev/null; done; true';

export class PodLogKeeper {
  private copier?: ChildProcess;

  constructor(private readonly namespace: string, readonly dir: string) {}

  start(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    // Stops by itself when the suite's process is gone; cp -a keeps dirs of deleted pods.
    this.copier = spawn('bash', ['-c', `while kill -0 "$4" 2>/dev/null; do ${COPY}; sleep 0.5; done`, ...this.copyArgs(), String(process.pid)], { stdio: 'ignore' });
  }

  /** One last copy, then stop the copier. */
  stop(): void {
    this.copier?.kill('SIGKILL');
    this.copier = undefined;
    this.copyNow();
  }

  copyNow(): void {
    spawnSync('bash', ['-c', COPY, ...this.copyArgs()], { stdio: 'ignore' });
  }

  /** The pod log dirs kept so far (one per pod). */
  pods(): Set<string> {
    try {
      return new Set(fs.readdirSync(this.dir));
    } catch {
      return new Set();
    }
  }

  /** The end of each kept container log of these pod dirs, as one text. */
  tails(podDirs: Iterable<string>): string {
    const out: string[] = [];
    for (const podDir of [...podDirs].sort()) {
      const pod = podDir.split('_')[1] ?? podDir;
      let containers: string[] = [];
      try {
        containers = fs.readdirSync(path.join(this.dir, podDir));
      } catch {
        continue;
      }
      for (const c of containers.filter((n) => !ARGO_CONTAINERS.has(n)).sort()) {
        const cdir = path.join(this.dir, podDir, c);
        for (const f of fs.readdirSync(cdir).sort()) {
          // CRI log lines: "<time> <stream> <F|P> <text>"; the text is what the step printed.
          const lines = fs.readFileSync(path.join(cdir, f), 'utf8').split('\n').filter(Boolean)
            .map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, ''));
          out.push(`--- ${pod} ${c} (${f}), last ${Math.min(TAIL_LINES, lines.length)} of ${lines.length} lines`, ...lines.slice(-TAIL_LINES));
        }
      }
    }
    return out.join('\n');
  }

  /** $0..$3 of COPY: the paths go in as arguments, never as shell text. */
  private copyArgs(): string[] {
    return ['bash', KUBELET_POD_LOGS, this.namespace, this.dir];
  }
}

let active: PodLogKeeper | undefined;

/** Starts keeping the logs of `namespace`'s pods in `dir` (once the cluster is up). */
export function startKeepingPodLogs(namespace: string, dir: string): void {
  active?.stop();
  active = new PodLogKeeper(namespace, dir);
  active.start();
}

export function stopKeepingPodLogs(): void {
  active?.stop();
  active = undefined;
}

/**
 * Wraps a test body: if it fails, the end of the logs of every pod that started during it goes to
 * stderr (CI keeps it), pods Argo already deleted included.
 */
export function printPodLogsOnFailure(body: () => Promise<void>): () => Promise<void> {
  return async () => {
    const before = active?.pods() ?? new Set<string>();
    try {
      await body();
    } catch (e) {
      const k = active;
      if (k) {
        k.copyNow();
        const started = [...k.pods()].filter((p) => !before.has(p));
        process.stderr.write(`pod logs of the ${started.length} pods that ran during the failed test (all kept in ${k.dir}):\n${k.tails(started)}\n`);
      }
      throw e;
    }
  };
}
