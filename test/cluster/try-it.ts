// `npm run cluster:up`: the cluster the suite uses, left running for a person to try the product:
// Kubernetes + Argo (test/cluster/harness), the images, SeaweedFS, the product applied as the
// README says, and the Hub fixture on the cluster bridge (pods have no route to the real Hub).
// Then: `source ~/.cache/model-mirror/cluster/run/env` and `argo submit ...` as printed.
//   npm run cluster:up -- [--argo v3.7.18]      npm run cluster:down
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import versions from '../../versions.json';
import { CACHE, NODE_IP, REPO_ROOT, RUN_DIR, addClusterHosts, harness } from './suite/cluster';
import { imageArchives } from './suite/images';
import { NAMESPACE, applyAsUser, createArtifactBucket, deploySeaweedfs, synth, waitForProduct } from './suite/product';

const HUB_PORT = 8088;
const HUB_NAME = 'hub.test';
const LFS_NAME = 'cdn-lfs.hub.test';

async function main(): Promise<void> {
  const argi = process.argv.indexOf('--argo');
  const argoVersion = argi > 0 ? process.argv[argi + 1] : `v${versions.argoWorkflows}`;
  const say = (m: string) => process.stderr.write(`[cluster:up] ${m}\n`);

  say('building or reusing the images (model-mirror from the Dockerfile, MLflow, PostgreSQL, SeaweedFS)');
  const images = imageArchives(versions.mlflowPrevious);
  say(`starting Kubernetes ${versions.kubernetes} with Argo ${argoVersion}`);
  harness('up.sh', ['--argo', argoVersion]);
  addClusterHosts(NODE_IP, [HUB_NAME, LFS_NAME]);
  harness('import-image.sh', Object.values(images), {}, 10 * 60_000);

  // The Hub fixture, detached, so it outlives this script; cluster:down stops it by its pid file.
  const pidFile = path.join(RUN_DIR, 'pids', 'hub-fixture.pid');
  if (!fs.existsSync(pidFile)) {
    const log = fs.openSync(path.join(RUN_DIR, 'logs', 'hub-fixture.log'), 'a');
    const child = spawn(process.execPath, [
      path.join(REPO_ROOT, 'node_modules/.bin/ts-node'), '--transpile-only', path.join(REPO_ROOT, 'test/hub-fixture/cli.ts'),
      '--host', NODE_IP, '--port', String(HUB_PORT), '--hub-host-name', HUB_NAME, '--lfs-host-name', LFS_NAME,
    ], { detached: true, stdio: ['ignore', log, log] });
    fs.writeFileSync(pidFile, `${child.pid}\n`);
    child.unref();
  }

  const seaweed = Object.keys(images).find((n) => n.includes('seaweedfs'))!;
  deploySeaweedfs(seaweed);
  await createArtifactBucket();

  const s = synth({ workflow: { hfEndpoint: `http://${HUB_NAME}:${HUB_PORT}`, storageSize: '2Gi' } }, path.join(CACHE, 'cluster', 'try-dist'));
  applyAsUser(s);
  await waitForProduct();
  process.stdout.write([
    '',
    `The cluster is up (Kubernetes ${versions.kubernetes}, Argo ${argoVersion}) with model-mirror applied from ${s.dir}.`,
    `  source ${path.join(RUN_DIR, 'env')}            # kubectl and argo point at it`,
    `  argo submit -n ${NAMESPACE} --from workflowtemplate/model-mirror -p model_id=test/tiny-model -p alias=prod --watch`,
    `  kubectl -n ${NAMESPACE} port-forward svc/mlflow 5000   # the MLflow UI on http://localhost:5000`,
    'The Hub is the test fixture (pods have no route out): models test/tiny-model and test/gated-model.',
    'Stop it all: npm run cluster:down',
    '',
  ].join('\n'));
}

main().catch((e) => {
  process.stderr.write(`[cluster:up] failed: ${(e as Error).message}\n`);
  process.exit(1);
});
