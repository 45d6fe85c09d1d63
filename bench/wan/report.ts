// Markdown of a WAN-profile run: one table per scenario, then the targets (issue #15).
import type { ShapingOptions } from '../../test/hub-fixture';
import { WAN_RSS_BUDGET_MB } from './scenarios';
import type { WanResult, WanRow } from './run-wan';

const f = (n: number | undefined, d = 0) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const mbs = (bytesPerSec: number) => (bytesPerSec > 0 ? `${f(bytesPerSec / 1e6, 1)} MB/s` : 'none');
const shapingText = (s: Required<ShapingOptions>) =>
  `per connection ${mbs(s.perConnectionBytesPerSec)}, total ${mbs(s.totalBytesPerSec)}, first-byte delay ${s.firstByteDelayMs} ms`;

const peers = (x: WanRow) => (x.peerCpuSeconds ? `${f(x.peerCpuSeconds.hub, 1)} / ${f(x.peerCpuSeconds.proxy, 1)} / ${f(x.peerCpuSeconds.seaweedfs, 1)}` : '–');

/** The Python path end to end: snapshot_download then boto3, one after the other. */
function pythonSeconds(rows: WanRow[]): number | undefined {
  const dl = rows.find((x) => x.tool === 'py-download' && x.ok);
  const up = rows.find((x) => x.tool === 'py-upload' && x.ok);
  return dl && up ? dl.seconds + up.seconds : undefined;
}

export function wanReport(r: WanResult & { scale: string; facts: Record<string, unknown>; minutes: number; logDir: string }): string {
  const L: string[] = [];
  L.push(`# model-mirror bench, WAN profile (--network wan --wan-size ${r.scale})`, '');
  L.push(`Machine: ${r.facts.cpus} cores (${r.facts.cpuModel}), ${r.facts.memGiB} GiB RAM, Node ${r.facts.node}, ${r.facts.rclone}. Run took ${r.minutes.toFixed(1)} min. Logs: \`${r.logDir}\`.`, '');
  L.push(`- Hub fixture (download side): ${shapingText(r.fixtureShaping)}.`);
  L.push(`- S3 through the shaped proxy (upload side): ${shapingText(r.proxyShaping)}.`);
  L.push('- "% of cap": MB/s over the total cap of that side (end to end: the smaller cap). "vs Python": Python wall time (snapshot_download + boto3) over this row\'s; rows of one side compare with the Python tool of that side.');
  L.push('- "peers CPU s": what the stand-ins for the remote side used during the row: Hub fixture / S3 proxy / SeaweedFS (each its own process). "box busy": the share of all cores busy meanwhile; near 100% means the row measured this machine\'s CPU, not the shaped links.', '');
  for (const sc of r.scenarios) {
    const rows = r.rows.filter((x) => x.scenario === sc.id);
    if (!rows.length) continue;
    const total = Object.values(sc.files).reduce((n, s) => n + s, 0);
    const py = pythonSeconds(rows);
    L.push(`## ${sc.key}) ${sc.label} (${f(total / 1e6)} MB, ${Object.keys(sc.files).length} files)`, '');
    L.push('| side | tool | wall s | MB/s | % of cap | peak RSS MB | tool CPU s | peers CPU s | box busy | vs Python |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const x of rows) {
      const sameSidePy = rows.find((y) => y.ok && y.side === x.side && y.tool.startsWith('py-'));
      let vs = '';
      if (x.side === 'end-to-end' && py && x.ok) vs = `${f(py / x.seconds, 2)}x (Python ${f(py, 1)} s)`;
      else if (sameSidePy && sameSidePy !== x && x.ok) vs = `${f(sameSidePy.seconds / x.seconds, 2)}x`;
      L.push(`| ${x.side} | ${x.label}${x.ok ? '' : ' **FAILED**'} | ${f(x.seconds, 1)} | ${f(x.mbps, 1)} | ${Number.isFinite(x.capMBps) ? `${f((100 * x.mbps) / x.capMBps)}%` : '–'} | ${f(x.peakRssMB)} | ${f(x.cpuSeconds, 1)} | ${peers(x)} | ${x.boxBusy === undefined ? '–' : `${f(100 * x.boxBusy)}%`} | ${vs} |`);
    }
    if (py) {
      const bytes = rows.find((x) => x.tool === 'py-upload')?.bytes ?? 0;
      L.push(`| end-to-end | Python: snapshot_download + boto3 (sum) | ${f(py, 1)} | ${f(bytes / 1e6 / py, 1)} | | | | | | 1.00x |`);
    }
    L.push('');
  }
  L.push(...wanTargets(r), '');
  return L.join('\n');
}

export function wanTargets(r: WanResult): string[] {
  const L = ['## Targets (WAN)', '', '| target | scenario | measured | met |', '|---|---|---|---|'];
  const yes = (b: boolean) => (b ? 'yes' : '**no**');
  for (const sc of r.scenarios) {
    const rows = r.rows.filter((x) => x.scenario === sc.id);
    if (!rows.length) continue;
    const mir = rows.find((x) => x.tool === 'mm-mirror');
    const name = `${sc.key}) ${sc.label}`;
    if (sc.targets.capShare !== undefined && mir) {
      const share = mir.ok ? mir.mbps / mir.capMBps : 0;
      L.push(`| mirror >= ${f(100 * sc.targets.capShare)}% of the total cap | ${name} | ${f(100 * share)}% (${f(mir.mbps, 1)} of ${f(mir.capMBps)} MB/s) | ${yes(share >= sc.targets.capShare)} |`);
    }
    const py = pythonSeconds(rows);
    if (sc.targets.vsPython !== undefined && mir && py) {
      const x = mir.ok ? py / mir.seconds : 0;
      L.push(`| mirror >= ${sc.targets.vsPython}x the Python path | ${name} | ${f(x, 2)}x (${f(mir.seconds, 1)} s vs ${f(py, 1)} s) | ${yes(x >= sc.targets.vsPython)} |`);
    }
    const mm = rows.filter((x) => x.tool.startsWith('mm-') && x.peakRssMB !== undefined);
    if (mm.length) {
      const peak = Math.max(...mm.map((x) => x.peakRssMB!));
      L.push(`| peak RSS <= ${WAN_RSS_BUDGET_MB} MB | ${name} | ${mm.map((x) => `${x.tool.replace('mm-', '')} ${f(x.peakRssMB)}`).join(', ')} MB | ${yes(peak <= WAN_RSS_BUDGET_MB)} |`);
    }
  }
  return L;
}
