// The product exactly as a user runs it, on a real Kubernetes v1.34 API server, kubelet and
// containerd with a real Argo workflow-controller (both supported lines, one after the other; the
// catalog CronWorkflow, catalog-checks.ts, on the default line):
// `npm run synth`, the namespace, the `kubectl create secret` commands synth prints,
// `kubectl apply -f dist/`, then `argo submit --from workflowtemplate/model-mirror` with the real
// argo CLI. The images are the ones the manifests name: model-mirror built from the Dockerfile,
// MLflow, PostgreSQL and SeaweedFS built from Debian and PyPI packages (test/images).
//
// The Hub fixture runs on this machine, bound to the cluster bridge; its LFS redirect goes to a
// second host name that the cluster's CoreDNS resolves. Pods have no route beyond the bridge.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startHubFixture, type StartedHubFixture } from '../../hub-fixture';
import versions from '../../../versions.json';
import {
  ARGO_METRICS_URL, NODE_IP, acquireClusterLock, addClusterHosts, harness, kubectl, kubectlJson, releaseClusterLock, waitFor,
} from './cluster';
import { NAMESPACE, applyAsUser, createArtifactBucket, deploySeaweedfs, mlflowApi, seaweedfsClient, synth, waitForProduct } from './product';
import { imageArchives } from './images';
import { CATALOG, catalogTests } from './catalog-checks';
import { mirrorPodTransfer, templateTransfer } from './transfer-compare';
import { explain, nodes, podNodes, submitFrom, versionsOf, waitDone, type Obj } from './workflows';
import { HUB_NAME, LFS_NAME, baseConfig as sharedBaseConfig, imageName } from './config';
import { printPodLogsOnFailure as keptLogs, startKeepingPodLogs, stopKeepingPodLogs } from './pod-logs';

const ARGO_VERSIONS = [`v${versions.argoWorkflows}`, `v${versions.argoWorkflowsPrevious}`];
/** The MLflow minor before the pin: the upgrade path a platform team takes. */
const PREVIOUS_MLFLOW = versions.mlflowPrevious;
const MODEL = 'test/tiny-model';
/** For the transfer comparison: big enough that the seconds are the transfer's, small enough for CI. */
const COMPARE_REPO = 'bench/large';
const COMPARE_FILES = { 'model-00001-of-00002.safetensors': 64 * 1024 * 1024, 'model-00002-of-00002.safetensors': 64 * 1024 * 1024 };

let hub: StartedHubFixture;
let tmp: string;
let images: Record<string, string>;
const timings: Record<string, number> = {};

function baseConfig(mlflowImage?: string): Obj {
  return sharedBaseConfig(hub.url, mlflowImage);
}

/** `argo submit --from workflowtemplate/model-mirror ... --wait`, as the README shows. */
const submit = (params: Record<string, string>, wait = true): Promise<string> => submitFrom('workflowtemplate/model-mirror', params, wait);

async function artifactFiles(runId: string, dir: string): Promise<Map<string, number>> {
  const r = await mlflowApi('GET', 'artifacts/list', { run_id: runId, path: dir });
  return new Map((r.files ?? []).filter((f: Obj) => !f.is_dir).map((f: Obj) => [f.path, Number(f.file_size)]));
}

/** The version is READY, holds the alias, and MLflow lists every file the fixture has. */
async function expectMirrored(modelName: string, alias: string): Promise<Obj> {
  const byAlias = (await mlflowApi('GET', 'registered-models/alias', { name: modelName, alias })).model_version;
  expect(byAlias.status).toBe('READY');
  const run = (await mlflowApi('GET', 'runs/get', { run_id: byAlias.run_id })).run;
  const weights = await artifactFiles(byAlias.run_id, 'model/model');
  const repo = hub.repos.get(MODEL)!;
  const safetensors = repo.files.find((f) => f.path === 'model.safetensors')!;
  expect(weights.get('model/model/model.safetensors')).toBe(safetensors.size);
  expect(weights.get('model/model/config.json')).toBe(repo.files.find((f) => f.path === 'config.json')!.size);
  const top = await artifactFiles(byAlias.run_id, 'model');
  expect([...top.keys()]).toEqual(expect.arrayContaining(['model/MLmodel', 'model/mirror-manifest.json']));
  return { version: byAlias, run };
}

function pvcsOf(workflowName: string): string[] {
  return kubectl('get', 'pvc', '-n', NAMESPACE, '-l', `workflows.argoproj.io/workflow=${workflowName}`, '-o', 'name')
    .split('\n').filter(Boolean);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-cluster-'));
  images = imageArchives(PREVIOUS_MLFLOW);
  await acquireClusterLock();
  let t = Date.now();
  harness('up.sh', ['--argo', ARGO_VERSIONS[0]]);
  timings.clusterUpMs = Date.now() - t;
  startKeepingPodLogs(NAMESPACE, path.join(tmp, 'pod-logs'));
  // On the bridge, which exists once the cluster is up.
  hub = await startHubFixture({ host: NODE_IP, hubHostName: HUB_NAME, lfsHostName: LFS_NAME, largeFiles: COMPARE_FILES });
  addClusterHosts(NODE_IP, [HUB_NAME, LFS_NAME]);
  t = Date.now();
  harness('import-image.sh', Object.values(images), {}, 10 * 60_000);
  timings.imageImportMs = Date.now() - t;
  t = Date.now();
  deploySeaweedfs(imageName(images, 'seaweedfs'));
  timings.seaweedfsReadyMs = Date.now() - t;
  t = Date.now();
  await createArtifactBucket();
  timings.bucketMs = Date.now() - t;
}, 40 * 60_000);

afterAll(async () => {
  process.stderr.write(`cluster suite timings: ${JSON.stringify(timings)}\n`);
  await hub?.close();
  stopKeepingPodLogs();
  try {
    if (process.env.MODEL_MIRROR_KEEP_CLUSTER !== '1') harness('down.sh');
  } finally {
    releaseClusterLock();
  }
}, 5 * 60_000);

describe(`the upgrade path: MLflow ${PREVIOUS_MLFLOW} -> ${versions.mlflow} (Argo ${ARGO_VERSIONS[0]})`, () => {
  let old: Obj;

  test(`deploy as a user with MLflow ${PREVIOUS_MLFLOW}: PostgreSQL and MLflow become Ready under Pod Security restricted, db upgrade ran`, async () => {
    const s = synth(baseConfig(`ghcr.io/mlflow/mlflow:v${PREVIOUS_MLFLOW}-full`), path.join(tmp, 'dist-old'));
    expect(s.secretCommands.length).toBeGreaterThanOrEqual(2);
    applyAsUser(s);
    expect(kubectlJson('get', 'namespace', NAMESPACE).metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const pod = await waitForProduct();
    expect(pod.spec.containers[0].image).toBe(`ghcr.io/mlflow/mlflow:v${PREVIOUS_MLFLOW}-full`);
    const init = pod.status.initContainerStatuses ?? [];
    expect(init.length).toBeGreaterThan(0);
    for (const c of init) expect(c.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
  }, 20 * 60_000);

  test('a mirror on the old MLflow succeeds', keptLogs(async () => {
    const t = Date.now();
    const name = await submit({ model_id: MODEL, model_name: 'tiny-upgrade', alias: 'prod' });
    const wf = await waitDone(name);
    timings.firstWorkflowMs = Date.now() - t;
    expect(wf.status.phase).toBe('Succeeded');
    old = await expectMirrored('tiny-upgrade', 'prod');
  }), 15 * 60_000);

  test(`re-synth with the pin (${versions.mlflow}) and apply: the init container migrates, the server comes back Ready, the old version keeps its files`, async () => {
    // With the catalog: its CronWorkflow is tested below, on this deployment.
    const s = synth({ ...baseConfig(), catalog: CATALOG }, path.join(tmp, 'dist-new'));
    applyAsUser(s);
    const pod = await waitForProduct();
    expect(pod.spec.containers[0].image).toBe(`ghcr.io/mlflow/mlflow:v${versions.mlflow}-full`);
    for (const c of pod.status.initContainerStatuses ?? []) expect(c.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    const still = await expectMirrored('tiny-upgrade', 'prod');
    expect(still.version.version).toBe(old.version.version);
  }, 20 * 60_000);
});

describe(`the model catalog as a CronWorkflow (Argo ${ARGO_VERSIONS[0]})`, () => {
  catalogTests(() => hub, timings);
});

describe(`the template's overlapped transfer and \`mirror\` (Argo ${ARGO_VERSIONS[0]})`, () => {
  // The same 128 MiB model through the template and through `mirror` in a pod of the same image
  // and resources (transfer-compare.ts). The speed ratio is the cluster bench's to measure
  // (`npm run bench -- --cluster`, alternating rounds, one path at a time); this test checks what
  // both produced, so it runs them side by side (different model names: no shared mutex or run).
  test('both report their transfer time and make one READY version', keptLogs(async () => {
    const [template, mirror] = await Promise.all([
      templateTransfer(COMPARE_REPO, 'large-template'),
      mirrorPodTransfer(COMPARE_REPO, 'large-mirror'),
    ]);
    timings.compareTemplateTransferS = template.seconds;
    timings.compareMirrorTransferS = mirror.seconds;
    process.stderr.write(`transfer check (${COMPARE_REPO}, 128 MiB, both at once): template transfer step ${template.seconds} s `
      + `(pod ${template.podSeconds} s), mirror download+upload ${mirror.seconds} s (pod ${mirror.podSeconds} s)\n`);
    for (const t of [template, mirror]) {
      expect(t.seconds).toBeGreaterThan(0);
      // Within the pod's life. Kubernetes gives startedAt/finishedAt in whole seconds, so their
      // difference can be up to 1 s short of it (a 2.02 s transfer in a pod shown as 2 s).
      expect(t.seconds).toBeLessThan(t.podSeconds + 1);
    }
    expect((await versionsOf('large-template')).map((v) => v.status)).toEqual(['READY']);
    expect((await versionsOf('large-mirror')).map((v) => v.status)).toEqual(['READY']);
  }), 20 * 60_000);
});

describe.each(ARGO_VERSIONS)('Argo %s', (argoVersion) => {
  const tag = argoVersion.replace(/\W/g, '');
  let okName: string;

  beforeAll(() => {
    const t = Date.now();
    harness('up.sh', ['--argo', argoVersion]);
    timings[`argo${tag}UpMs`] = Date.now() - t;
  }, 10 * 60_000);

  test('argo submit --wait: Succeeded, version READY with the alias, MLflow lists the files, model_mirror_* metrics on the controller', keptLogs(async () => {
    const t = Date.now();
    okName = await submit({ model_id: MODEL, model_name: `tiny-${tag}`, alias: 'prod' });
    const wf = await waitDone(okName);
    timings[`argo${tag}WorkflowMs`] = Date.now() - t;
    if (wf.status.phase !== 'Succeeded') throw new Error(`workflow did not succeed: ${explain(wf)}`);
    const { run } = await expectMirrored(`tiny-${tag}`, 'prod');
    expect(run.info.status).toBe('FINISHED');
    // Argo's own init and wait containers ran under the namespace's restricted policy.
    const finalize = nodes(wf).find((n) => n.templateName === 'finalize');
    expect(finalize?.phase).toBe('Succeeded');
    const metrics = await waitFor('model_mirror_* metrics', async () => {
      const text = await (await fetch(ARGO_METRICS_URL)).text();
      return /model_mirror_workflows_total|model_mirror_step_duration_seconds/.test(text) ? text : undefined;
    }, 60_000, 2000);
    expect(metrics).toMatch(/model_mirror_[a-z_]+\{[^}]*status="Succeeded"/);
  }), 15 * 60_000);

  test('the scratch PVC is gone once the workflow completed', async () => {
    await waitFor(`PVCs of ${okName} to be deleted`, () => (pvcsOf(okName).length === 0 ? true : undefined), 120_000, 2000);
  }, 3 * 60_000);

  test('a step failure: the workflow Fails after one attempt, the exit handler marks the run FAILED with its reason, no version', keptLogs(async () => {
    const modelName = `tiny-fail-${tag}`;
    hub.faults.missing(MODEL, 'model.safetensors', 1000);
    try {
      const name = await submit({ model_id: MODEL, model_name: modelName });
      const wf = await waitDone(name);
      expect(wf.status.phase).toBe('Failed');
      // exit code 3 (not found) is permanent: the retry expression ends it after one attempt
      expect(podNodes(wf, 'transfer')).toHaveLength(1);
      const finalize = nodes(wf).find((n) => n.templateName === 'finalize');
      if (finalize?.phase !== 'Succeeded') throw new Error(`the exit handler did not succeed: ${explain(wf)}`);
      const runId = (wf.status.outputs?.parameters ?? []).find((p: Obj) => p.name === 'run_id')?.value;
      expect(runId).toMatch(/^[0-9a-f]{32}$/);
      const run = (await mlflowApi('GET', 'runs/get', { run_id: runId })).run;
      expect(run.info.status).toBe('FAILED');
      const reason = (run.data.tags ?? []).find((t: Obj) => t.key === 'model_mirror.failure_reason')?.value;
      // Argo lists the failed nodes in no fixed order: the transfer pod and its exit code are in it.
      expect(reason).toMatch(/transfer\(0\) \(Failed\): (main: )?Error \(exit code 3\)/);
      expect(await versionsOf(modelName)).toEqual([]);
    } finally {
      hub.faults.reset();
    }
  }), 15 * 60_000);

  test('a model the Hub does not have: Fails in prepare after one attempt, the exit handler ran, no run or version was created', keptLogs(async () => {
    const modelName = `missing-${tag}`;
    const experimentId = (await mlflowApi('GET', 'experiments/get-by-name', { experiment_name: 'model-mirror' })).experiment.experiment_id;
    const runCount = async () => (await mlflowApi('POST', 'runs/search', { experiment_ids: [experimentId], max_results: 1000 })).runs?.length ?? 0;
    const runsBefore = await runCount();
    const name = await submit({ model_id: 'test/no-such-model', model_name: modelName });
    const wf = await waitDone(name);
    expect(wf.status.phase).toBe('Failed');
    expect(podNodes(wf, 'prepare')).toHaveLength(1);
    expect(podNodes(wf, 'transfer')).toHaveLength(0);
    const finalize = nodes(wf).find((n) => n.templateName === 'finalize');
    if (finalize?.phase !== 'Succeeded') throw new Error(`the exit handler did not succeed: ${explain(wf)}`);
    expect(await runCount()).toBe(runsBefore);
    expect(await versionsOf(modelName)).toEqual([]);
  }), 10 * 60_000);

  test('two submissions of the same model at once are serialized by the mutex', keptLogs(async () => {
    const [a, b] = await Promise.all([0, 1].map(() => submit({ model_id: MODEL, model_name: `tiny-mutex-${tag}` }, false)));
    const [wa, wb] = [await waitDone(a, 15 * 60_000), await waitDone(b, 15 * 60_000)];
    for (const wf of [wa, wb]) if (wf.status.phase !== 'Succeeded') throw new Error(`a mutex workflow did not succeed: ${explain(wf)}`);
    const span = (wf: Obj) => {
      const pods = nodes(wf).filter((n) => n.type === 'Pod');
      return { start: Math.min(...pods.map((n) => Date.parse(n.startedAt))), end: Math.max(...pods.map((n) => Date.parse(n.finishedAt))) };
    };
    const [sa, sb] = [span(wa), span(wb)];
    const [first, second] = sa.start <= sb.start ? [sa, sb] : [sb, sa];
    expect(second.start).toBeGreaterThanOrEqual(first.end);
  }), 30 * 60_000);
});

describe('what S3 holds', () => {
  test('every mirrored object sits under the artifact root of the bucket the config names', async () => {
    const s3 = seaweedfsClient();
    try {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: 'mlflow' }));
      const keys = (r.Contents ?? []).map((o) => o.Key!);
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys) expect(k.startsWith('artifacts/')).toBe(true);
    } finally {
      s3.destroy();
    }
  });
});
