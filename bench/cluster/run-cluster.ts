// `npm run bench -- --cluster [--rounds N]`: the WorkflowTemplate's overlapped transfer step
// against `model-mirror mirror` on the real single-node cluster (issue #15: "within 15% of
// mirror"). Each round moves the same 128 MiB model (2 x 64 MiB shards) both ways under a new
// model name, so both move every byte; the order alternates between rounds so neither path
// always meets a warmer page cache or SeaweedFS. The ratio is of the medians.
//
// Brings the cluster up with the test harness (test/cluster/harness), deploys the product as the
// cluster suite does (test/cluster/suite), and brings it down at the end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHubFixture, type StartedHubFixture } from '../../test/hub-fixture';
import versions from '../../versions.json';
import { NODE_IP, acquireClusterLock, addClusterHosts, harness, releaseClusterLock } from '../../test/cluster/suite/cluster';
import { HUB_NAME, LFS_NAME, baseConfig, imageName } from '../../test/cluster/suite/config';
import { imageArchives } from '../../test/cluster/suite/images';
import { applyAsUser, createArtifactBucket, deploySeaweedfs, synth, waitForProduct } from '../../test/cluster/suite/product';
import { mirrorPodTransfer, templateTransfer, type TransferTiming } from '../../test/cluster/suite/transfer-compare';
import { versionsOf } from '../../test/cluster/suite/workflows';
import { say } from '../lib/child';

const REPO = 'bench/large';
const MiB = 1024 * 1024;
const FILES = { 'model-00001-of-00002.safetensors': 64 * MiB, 'model-00002-of-00002.safetensors': 64 * MiB };
/** The target: the template's transfer within 15% of mirror's. */
const TARGET_RATIO = 1.15;

export interface ClusterRound {
  readonly round: number;
  readonly order: 'template-first' | 'mirror-first';
  readonly template: TransferTiming;
  readonly mirror: TransferTiming;
  readonly ratio: number;
}

export interface ClusterResult {
  readonly repo: string;
  readonly bytes: number;
  readonly argo: string;
  readonly rounds: ClusterRound[];
  readonly medianTemplateSeconds: number;
  readonly medianMirrorSeconds: number;
  readonly ratio: number;
  readonly targetMet: boolean;
  readonly setupSeconds: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function expectOneReady(modelName: string): Promise<void> {
  const statuses = (await versionsOf(modelName)).map((v) => v.status);
  if (statuses.length !== 1 || statuses[0] !== 'READY') throw new Error(`${modelName}: expected one READY version, got ${JSON.stringify(statuses)}`);
}

export async function runClusterBench(opts: { rounds: number }): Promise<ClusterResult> {
  const argoVersion = `v${versions.argoWorkflows}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-cluster-bench-'));
  const t0 = Date.now();
  say('building/caching the images (model-mirror from the Dockerfile, MLflow, PostgreSQL, SeaweedFS)');
  const images = imageArchives();
  await acquireClusterLock();
  let hub: StartedHubFixture | undefined;
  try {
    say(`bringing the cluster up (Argo ${argoVersion})`);
    harness('up.sh', ['--argo', argoVersion]);
    hub = await startHubFixture({ host: NODE_IP, hubHostName: HUB_NAME, lfsHostName: LFS_NAME, largeFiles: FILES });
    addClusterHosts(NODE_IP, [HUB_NAME, LFS_NAME]);
    harness('import-image.sh', Object.values(images), {}, 10 * 60_000);
    deploySeaweedfs(imageName(images, 'seaweedfs'));
    await createArtifactBucket();
    applyAsUser(synth(baseConfig(hub.url), path.join(tmp, 'dist')));
    await waitForProduct();
    const setupSeconds = (Date.now() - t0) / 1000;
    say(`product up after ${setupSeconds.toFixed(0)} s; ${opts.rounds} rounds of ${REPO} (128 MiB)`);

    const rounds: ClusterRound[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 ? 'template-first' : 'mirror-first';
      const viaTemplate = async () => { const t = await templateTransfer(REPO, `bench-template-${round}`); await expectOneReady(`bench-template-${round}`); return t; };
      const viaMirror = async () => { const t = await mirrorPodTransfer(REPO, `bench-mirror-${round}`); await expectOneReady(`bench-mirror-${round}`); return t; };
      let template: TransferTiming;
      let mirror: TransferTiming;
      if (order === 'template-first') {
        template = await viaTemplate();
        mirror = await viaMirror();
      } else {
        mirror = await viaMirror();
        template = await viaTemplate();
      }
      const ratio = template.seconds / mirror.seconds;
      rounds.push({ round, order, template, mirror, ratio });
      say(`round ${round} (${order}): template transfer ${template.seconds} s, mirror ${mirror.seconds} s, ratio ${ratio.toFixed(3)}`);
    }
    const medianTemplateSeconds = median(rounds.map((r) => r.template.seconds));
    const medianMirrorSeconds = median(rounds.map((r) => r.mirror.seconds));
    const ratio = medianTemplateSeconds / medianMirrorSeconds;
    return {
      repo: REPO, bytes: Object.values(FILES).reduce((a, b) => a + b, 0), argo: argoVersion, rounds,
      medianTemplateSeconds, medianMirrorSeconds, ratio, targetMet: ratio <= TARGET_RATIO, setupSeconds,
    };
  } finally {
    await hub?.close();
    try {
      if (process.env.MODEL_MIRROR_KEEP_CLUSTER !== '1') harness('down.sh');
    } finally {
      releaseClusterLock();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

export function clusterReport(r: ClusterResult, facts: object, minutes: number): string {
  const lines = [
    `# Cluster bench: the template's transfer step vs \`mirror\` (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: \`${JSON.stringify(facts)}\`. Argo ${r.argo}, Kubernetes ${versions.kubernetes}; ${r.repo}, ${(r.bytes / MiB).toFixed(0)} MiB; `
      + `setup ${r.setupSeconds.toFixed(0)} s, whole run ${minutes.toFixed(1)} min.`,
    '',
    'transfer_seconds is each path\'s own download + upload wall time (Hub check to the last object in S3); the pod times include start-up.',
    '',
    '| round | order | template transfer s | template pod s | mirror transfer s | mirror pod s | template / mirror |',
    '|---|---|---|---|---|---|---|',
    ...r.rounds.map((x) => `| ${x.round} | ${x.order} | ${x.template.seconds} | ${x.template.podSeconds} | ${x.mirror.seconds} | ${x.mirror.podSeconds} | ${x.ratio.toFixed(3)} |`),
    '',
    `Median: template ${r.medianTemplateSeconds} s, mirror ${r.medianMirrorSeconds} s, **ratio ${r.ratio.toFixed(3)}** `
      + `(target <= ${TARGET_RATIO}: ${r.targetMet ? 'met' : 'missed'}).`,
  ];
  return `${lines.join('\n')}\n`;
}
