// Child processes of the bench: wall time measured here, peak RSS and CPU seconds from /usr/bin/time
// (getrusage ru_maxrss), and the CPU the bench process (Hub fixture) and SeaweedFS used meanwhile.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PEERS_ROOT } from '../../test/peers/peers';

const ROOT = path.resolve(__dirname, '..', '..');

export const say = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

export interface RunResult { code: number | null; seconds: number; peakRssMB?: number; stdout: string; cpu: { tool?: number; fixture: number; seaweedfs?: number } }

// CPU seconds of the other processes on the box during a phase: the bench process itself (on
// loopback it hosts the Hub fixture, which generates the bytes; the WAN profile runs the fixture
// in a process of its own) and SeaweedFS (the peer's process group).
let seaweedPid: number | undefined;
function findSeaweedPid(): number | undefined {
  const pidsFile = path.join(PEERS_ROOT, 'runs', String(process.pid), 'pids');
  try {
    const line = fs.readFileSync(pidsFile, 'utf8').split('\n').find((l) => l.endsWith(' seaweedfs'));
    return line ? Number(line.split(' ')[0]) : undefined;
  } catch {
    return undefined;
  }
}
function processGroupCpuSeconds(pgid: number | undefined): number | undefined {
  if (!pgid) return undefined;
  let ticks = 0;
  let found = false;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm) ": state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    if (Number(f[2]) !== pgid) continue;
    found = true;
    ticks += Number(f[11]) + Number(f[12]);
  }
  return found ? ticks / 100 : undefined; // USER_HZ is 100 on Linux
}

export function run(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; log: string; cwd?: string }): Promise<RunResult> {
  const tfile = `${opts.log}.time`;
  const out = fs.openSync(opts.log, 'a');
  fs.writeSync(out, `\n$ ${cmd} ${argv.join(' ')}\n`);
  const t0 = process.hrtime.bigint();
  seaweedPid ??= findSeaweedPid();
  const cpu0 = process.cpuUsage();
  const weed0 = processGroupCpuSeconds(seaweedPid);
  const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', tfile, cmd, ...argv], {
    env: opts.env ?? process.env, cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', out],
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    fs.writeSync(out, d);
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      fs.closeSync(out);
      let peakRssMB: number | undefined;
      let toolCpu: number | undefined;
      try {
        const lines = fs.readFileSync(tfile, 'utf8').trim().split('\n');
        const [rssKb, user, sys] = lines[lines.length - 1].split(' ').map(Number);
        peakRssMB = rssKb / 1024;
        toolCpu = user + sys;
        fs.rmSync(tfile);
      } catch { /* no rusage */ }
      const c = process.cpuUsage(cpu0);
      const weed1 = processGroupCpuSeconds(seaweedPid);
      const cpu = { tool: toolCpu, fixture: (c.user + c.system) / 1e6, seaweedfs: weed0 !== undefined && weed1 !== undefined ? weed1 - weed0 : undefined };
      resolve({ code, seconds, peakRssMB, stdout, cpu });
    });
  });
}
