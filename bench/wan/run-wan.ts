// `npm run bench -- --network wan`: the same tools as the loopback bench, but the Hub fixture is shaped
// like a WAN (per-connection cap, total cap, first-byte delay) and S3 is reached through a shaped TCP
// proxy. One scenario after the other; each one's local files and bucket objects go before the next.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_SHAPING, type ExtendedHubFixtureOptions, type ShapingOptions } from '../../test/hub-fixture';
import type { Peers } from '../../test/peers/peers';
import { stepEnv } from '../../test/support/step-env';
import { run, say, type RunResult } from '../lib/child';
import { deletePrefix, dirBytes, vacuum } from '../lib/storage';
import { RemotePeer } from './remote';
import type { RemoteFixtureInfo } from './remote-fixture';
import type { RemoteProxyInfo } from './remote-proxy';
import { PROXY_SHAPING_DEFAULTS, type ShapedProxyOptions } from './shaped-proxy';
import { wanScenarios, type WanScale, type WanScenario } from './scenarios';

const ROOT = path.resolve(__dirname, '..', '..');
const REPO = 'bench/large';

export type WanTool = 'mm-download' | 'mm-upload' | 'rclone' | 'py-download' | 'py-upload' | 'mm-mirror';
export const WAN_TOOLS: readonly WanTool[] = ['mm-download', 'mm-upload', 'rclone', 'py-download', 'py-upload', 'mm-mirror'];

export interface WanRow {
  readonly scenario: string;
  readonly tool: WanTool;
  readonly label: string;
  readonly side: 'download' | 'upload' | 'end-to-end';
  readonly bytes: number;
  readonly seconds: number;
  readonly mbps: number;
  /** The total cap on this side, MB/s (end to end: the smaller of the two). */
  readonly capMBps: number;
  readonly peakRssMB?: number;
  readonly cpuSeconds?: number;
  /** CPU seconds the stand-ins for the remote side used meanwhile: the Hub fixture, the S3 proxy, SeaweedFS. */
  readonly peerCpuSeconds?: { readonly hub: number; readonly proxy: number; readonly seaweedfs?: number };
  /** Share of the machine's CPU time that was busy meanwhile (all processes), 0-1. */
  readonly boxBusy?: number;
  readonly ok: boolean;
}

export interface WanRunProps {
  /** The bundled CLI (scripts/bundle.mjs output), executed through its #! line. */
  readonly bundle: string;
  readonly peers: Peers;
  readonly s3: S3Client;
  /** SeaweedFS master, to vacuum after deletes. @default none (no vacuum) */
  readonly weedMaster?: string;
  /** Scratch directory for downloads and work dirs. */
  readonly work: string;
  readonly logDir: string;
  readonly scale: WanScale;
  /** Scenario keys to run (`a`, `b`, `c`), in this order. @default all, a to c */
  readonly scenarios?: readonly string[];
  /** Tools to run. @default all (rclone only when `rclone` is set) */
  readonly tools?: readonly WanTool[];
  /** The Hub fixture's shaping. @default DEFAULT_SHAPING */
  readonly fixtureShaping?: ShapingOptions;
  /** The S3 proxy's shaping. @default PROXY_SHAPING_DEFAULTS (total cap and latency only) */
  readonly proxyShaping?: ShapingOptions;
  /** rclone binary for the upload comparison. @default none (skipped) */
  readonly rclone?: string;
  /**
   * Delete `artifacts/` after each `mirror` (only when the bench owns the peers; a shared test bench
   * keeps them). @default true
   */
  readonly cleanArtifacts?: boolean;
  /** Suffix of MLflow model names, so reruns do not collide. */
  readonly stamp: string;
}

export interface WanResult {
  readonly rows: WanRow[];
  readonly scenarios: WanScenario[];
  readonly fixtureShaping: Required<ShapingOptions>;
  readonly proxyShaping: Required<ShapingOptions>;
}

const mbps = (bytes: number, s: number) => (s > 0 ? bytes / 1e6 / s : 0);

/** Busy and total CPU ticks of the whole machine so far (/proc/stat). */
function boxTicks(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}
const defined = <T extends object>(o: T | undefined) => Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));

export async function runWan(p: WanRunProps): Promise<WanResult> {
  const fixtureShaping = { ...DEFAULT_SHAPING, ...defined(p.fixtureShaping) } as Required<ShapingOptions>;
  const proxyShaping = { ...PROXY_SHAPING_DEFAULTS, ...defined(p.proxyShaping) } as Required<ShapingOptions>;
  const tools = (p.tools ?? WAN_TOOLS).filter((t) => t !== 'rclone' || p.rclone);
  const has = (t: WanTool) => tools.includes(t);
  const all = wanScenarios(p.scale);
  // In the order asked for (e.g. `c,b`: the quick one first).
  const scenarios = p.scenarios ? p.scenarios.map((k) => all.find((s) => s.key === k)!).filter(Boolean) : all;
  const capOf = (r: Required<ShapingOptions>) => (r.totalBytesPerSec > 0 ? r.totalBytesPerSec / 1e6 : Infinity);
  const downCap = capOf(fixtureShaping);
  const upCap = capOf(proxyShaping);
  const rows: WanRow[] = [];
  const bucket = p.peers.s3.bucket;
  let mlflowWarm = false;

  // The fixture and the proxy run in processes of their own (remote.ts says why).
  const proxy = await RemotePeer.start<RemoteProxyInfo>('shaped S3 proxy', path.join(__dirname, 'remote-proxy.ts'),
    { upstream: p.peers.s3.endpoint, shaping: proxyShaping } satisfies ShapedProxyOptions);
  const proxyUrl = proxy.info.url;
  say(`WAN profile: Hub fixture ${JSON.stringify(fixtureShaping)}; S3 via shaped proxy ${proxyUrl} -> ${p.peers.s3.endpoint} ${JSON.stringify(proxyShaping)}`);
  // The tools see S3 only through the proxy; MLflow's own server still reaches SeaweedFS directly.
  const shapedPeers: Peers = { ...p.peers, s3: { ...p.peers.s3, endpoint: proxyUrl } };
  try {
    for (const sc of scenarios) {
      const total = Object.values(sc.files).reduce((n, s) => n + s, 0);
      say(`== WAN ${sc.key}: ${sc.label} (${(total / 1e6).toFixed(0)} MB); starting the shaped fixture (hashes cached)`);
      const fx = await RemotePeer.start<RemoteFixtureInfo>('Hub fixture', path.join(__dirname, 'remote-fixture.ts'),
        { largeFiles: sc.files, shaping: fixtureShaping, treePageSize: 1000 } satisfies ExtendedHubFixtureOptions);
      try {
        const served = () => fx.call<number>('bytesServed', REPO);
        const peerCpu = async () => ({ hub: await fx.cpuSeconds(), proxy: await proxy.cpuSeconds() });
        // Runs one tool and notes what the stand-ins and the whole machine spent meanwhile.
        const measured = async (go: () => Promise<RunResult>) => {
          const [c0, t0] = [await peerCpu(), boxTicks()];
          const r = await go();
          const [c1, t1] = [await peerCpu(), boxTicks()];
          return {
            r,
            peerCpuSeconds: { hub: c1.hub - c0.hub, proxy: c1.proxy - c0.proxy, seaweedfs: r.cpu.seaweedfs },
            boxBusy: t1.total > t0.total ? (t1.busy - t0.busy) / (t1.total - t0.total) : undefined,
          };
        };
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          HF_ENDPOINT: fx.info.url,
          HF_HUB_DISABLE_XET: '1',
          HF_HUB_DISABLE_TELEMETRY: '1',
          HF_HUB_DISABLE_PROGRESS_BARS: '1',
          HF_HOME: path.join(p.work, 'hf-home'),
          ...stepEnv(shapedPeers),
          AWS_DEFAULT_REGION: p.peers.s3.region,
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_ENDPOINT_URL_S3: proxyUrl,
          MODEL_MIRROR_LOG_FORMAT: 'json',
          NO_PROXY: '127.0.0.1,localhost',
          no_proxy: '127.0.0.1,localhost',
          RCLONE_CONFIG_SW_TYPE: 's3',
          RCLONE_CONFIG_SW_PROVIDER: 'SeaweedFS',
          RCLONE_CONFIG_SW_ENDPOINT: proxyUrl,
          RCLONE_CONFIG_SW_ACCESS_KEY_ID: p.peers.s3.accessKeyId,
          RCLONE_CONFIG_SW_SECRET_ACCESS_KEY: p.peers.s3.secretAccessKey,
          RCLONE_CONFIG_SW_REGION: p.peers.s3.region,
          RCLONE_CONFIG_SW_FORCE_PATH_STYLE: 'true',
        };
        delete env.AWS_CA_BUNDLE; // rclone refuses its plain-http transport when it is set
        const log = (name: string) => path.join(p.logDir, `${sc.id}-${name}.log`);
        const record = (tool: WanTool, label: string, side: WanRow['side'], bytes: number, m: Awaited<ReturnType<typeof measured>>) => {
          const { r } = m;
          const cap = side === 'download' ? downCap : side === 'upload' ? upCap : Math.min(downCap, upCap);
          const row: WanRow = {
            scenario: sc.id, tool, label, side, bytes, seconds: r.seconds, mbps: mbps(bytes, r.seconds), capMBps: cap, peakRssMB: r.peakRssMB,
            cpuSeconds: r.cpu.tool, peerCpuSeconds: m.peerCpuSeconds, boxBusy: m.boxBusy, ok: r.code === 0,
          };
          rows.push(row);
          say(`${sc.key} ${label.padEnd(40)} ${row.seconds.toFixed(1).padStart(7)} s ${row.mbps.toFixed(1).padStart(7)} MB/s`
            + ` (${Number.isFinite(cap) ? `${((100 * row.mbps) / cap).toFixed(0)}% of ${cap.toFixed(0)} MB/s cap` : 'no cap'})`
            + `${row.peakRssMB !== undefined ? ` RSS ${row.peakRssMB.toFixed(0)} MB` : ''}${row.boxBusy !== undefined ? ` box ${(100 * row.boxBusy).toFixed(0)}% busy` : ''}${row.ok ? '' : ` FAILED (see ${log(tool)})`}`);
          return row;
        };
        const cleanS3 = async (prefix: string) => {
          await deletePrefix(p.s3, bucket, prefix);
          await vacuum(p.weedMaster);
        };
        const rm = (d: string) => fs.rmSync(d, { recursive: true, force: true });
        // Through the bundle's #! line, as users run it: it carries node-flags.json's shebangArgs.
        const mm = (argv: string[], tool: WanTool) => measured(() => run(p.bundle, argv, { env, log: log(tool) }));

        // model-mirror download alone, then upload (and rclone) of the same directory.
        const mmDir = path.join(p.work, `mm-${sc.id}`);
        if (has('mm-download') || has('mm-upload') || has('rclone')) {
          const b0 = await served();
          const m = await mm(['download', '--model-id', REPO, '--dest', mmDir], 'mm-download');
          record('mm-download', 'model-mirror download', 'download', (await served()) - b0, m);
          if (m.r.code !== 0) throw new Error(`model-mirror download failed; see ${log('mm-download')}`);
        }
        if (has('mm-upload')) {
          const prefix = `bench/wan/mm-upload/${sc.id}`;
          const m = await mm(['upload', '--source', mmDir, '--dest', `s3://${bucket}/${prefix}`], 'mm-upload');
          record('mm-upload', 'model-mirror upload', 'upload', dirBytes(mmDir), m);
          await cleanS3(prefix);
        }
        if (has('rclone')) {
          const prefix = `bench/wan/rclone/${sc.id}`;
          const m = await measured(() => run(p.rclone!, ['copy', mmDir, `sw:${bucket}/${prefix}`], { env, log: log('rclone') }));
          record('rclone', 'rclone copy (defaults)', 'upload', dirBytes(mmDir), m);
          await cleanS3(prefix);
        }
        rm(mmDir);

        // The common Python path: snapshot_download, then boto3 upload_file per file.
        const pyDir = path.join(p.work, `py-${sc.id}`);
        if (has('py-download') || has('py-upload')) {
          const b0 = await served();
          const m = await measured(() => run(p.peers.tools.python, [path.join(ROOT, 'bench', 'py', 'hf_download.py'), REPO, pyDir], { env, log: log('py-download') }));
          record('py-download', 'huggingface_hub.snapshot_download', 'download', (await served()) - b0, m);
        }
        if (has('py-upload')) {
          const prefix = `bench/wan/boto3/${sc.id}`;
          const m = await measured(() => run(p.peers.tools.python, [path.join(ROOT, 'bench', 'py', 'boto3_upload.py'), proxyUrl, pyDir, bucket, prefix], { env, log: log('py-upload') }));
          const j = m.r.code === 0 ? JSON.parse(m.r.stdout.trim().split('\n').pop()!) as { bytes: number } : { bytes: 0 };
          record('py-upload', 'boto3 upload_file (default TransferConfig)', 'upload', j.bytes, m);
          await cleanS3(prefix);
        }
        rm(pyDir);
        rm(path.join(p.work, 'hf-home'));

        // model-mirror mirror end to end (download and upload overlapped, MLflow registration).
        if (has('mm-mirror')) {
          if (!mlflowWarm) {
            // MLflow answers the first call of each kind slowly (lazy imports; the first
            // artifacts/list builds its S3 client): 0.4 s for get-by-name, runs/search and
            // artifacts/list each on fresh peers. A platform's MLflow is long-running, and the Python
            // path never calls MLflow, so one unmeasured mirror of the tiny model warms it first.
            const warmDir = path.join(p.work, 'mirror-warmup');
            const w = await run(p.bundle, ['mirror', 'test/tiny-model', '--work-dir', warmDir, '--experiment', 'bench-wan',
              '--model-name', `bench-warmup-${p.stamp}`], { env, log: log('mm-mirror-warmup') });
            if (w.code !== 0) throw new Error(`the MLflow warm-up mirror failed; see ${log('mm-mirror-warmup')}`);
            rm(warmDir);
            mlflowWarm = true;
          }
          const wd = path.join(p.work, `mirror-${sc.id}`);
          const b0 = await served();
          const m = await mm(['mirror', REPO, '--work-dir', wd, '--experiment', 'bench-wan', '--model-name', `bench-${sc.id}-${p.stamp}`, '--task', 'text-generation'], 'mm-mirror');
          record('mm-mirror', 'model-mirror mirror', 'end-to-end', (await served()) - b0, m);
          rm(wd);
          if (p.cleanArtifacts ?? true) await cleanS3('artifacts');
        }
      } finally {
        await fx.close();
      }
    }
  } finally {
    await proxy.close();
  }
  return { rows, scenarios, fixtureShaping, proxyShaping };
}
