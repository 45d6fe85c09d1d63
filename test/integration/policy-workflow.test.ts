// The policy through the WorkflowTemplate: synthesized with a `policy:` in the config and run by
// the local Argo runner (test/argo-runner) with the CLI bundle of the current source, against the
// real peers (see workflow-e2e.test.ts for what stands in for the cluster). Proves that the policy
// baked into the template reaches prepare AND download (separate processes, so the same files are
// selected and a rerun is a reuse), and that a submission's `policy_narrowing` only narrows.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runWorkflowTemplate, type RunResult } from '../argo-runner';
import { REPO_ROOT, dummyStoresFor, synthesize } from '../argo-runner/synth';
import { POLICY_REPOS, startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const suffix = Date.now().toString(36);
const POLICY = { name: 'wf-policy', publishers: ['policy', 'test'], licenses: ['apache-2.0'] };

let peers: Peers;
let hub: StartedHubFixture;
let tmp: string;
let bundle: string;
let wft: Obj;
let configMaps: Record<string, Record<string, string>>;
let secrets: Record<string, Record<string, string>>;
let mlflowEnv: Record<string, string>;
const results: RunResult[] = [];

async function mlflow<T = Obj>(route: string, params: Record<string, string>): Promise<T | undefined> {
  const url = new URL(`/api/2.0/mlflow/${route}`, peers.mlflow.url);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`MLflow GET ${route} -> ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const versionsOf = async (name: string): Promise<Obj[]> =>
  (await mlflow<{ model_versions?: Obj[] }>('model-versions/search', { filter: `name='${name}'` }))?.model_versions ?? [];
const tags = (list: Obj[] | undefined): Record<string, string> => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

function submit(parameters: Record<string, string>): Promise<RunResult> {
  return runWorkflowTemplate(wft, {
    bundle, parameters, secrets, configMaps, env: mlflowEnv, workDir: fs.mkdtempSync(path.join(tmp, 'wf-')), timeoutMs: 240_000,
  }).then((r) => { results.push(r); return r; });
}

const phases = (r: RunResult) => r.nodes.map((n) => [n.displayName, n.phase]);

beforeAll(async () => {
  peers = getPeers();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-policy-wf-'));
  hub = await startHubFixture();
  bundle = path.join(tmp, 'cli', 'model-mirror.js');
  const b = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle, '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (b.status !== 0) throw new Error(`bundle failed (exit ${b.status}):\n${b.stdout}\n${b.stderr}`);

  const mlflowUrl = new URL(peers.mlflow.url);
  const artifactRoot = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(peers.mlflow.artifactRoot)!;
  const config = {
    namespace: 'model-mirror',
    s3: { endpoint: peers.s3.endpoint, bucket: peers.s3.bucket, artifactPrefix: artifactRoot[2], region: peers.s3.region },
    mlflow: { port: Number(mlflowUrl.port) },
    workflow: { hfEndpoint: hub.url },
    policy: POLICY,
  };
  const configFile = path.join(tmp, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const synth = synthesize({
    env: {
      MODEL_MIRROR_CONFIG: configFile, MODEL_MIRROR_SET: undefined,
      MODEL_MIRROR_S3_ACCESS_KEY_ID: undefined, MODEL_MIRROR_S3_SECRET_ACCESS_KEY: undefined, MODEL_MIRROR_HF_TOKEN: undefined,
    },
  });
  wft = synth.workflowTemplates.find((t) => t.metadata?.name === 'model-mirror');
  const refs = dummyStoresFor(wft);
  configMaps = {};
  for (const name of Object.keys(refs.configMaps)) configMaps[name] = synth.documents.find((d) => d.kind === 'ConfigMap' && d.metadata?.name === name).data;
  const values: Record<string, Record<string, string>> = {
    'model-mirror-s3': { AWS_ACCESS_KEY_ID: peers.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey },
    'model-mirror-hf-token': { HF_TOKEN: hub.token },
  };
  secrets = {};
  for (const [name, keys] of Object.entries(refs.secrets)) {
    secrets[name] = Object.fromEntries(Object.keys(keys).map((k) => [k, values[name][k]]));
  }
  const inCluster = `http://mlflow.model-mirror.svc.cluster.local:${mlflowUrl.port}`;
  mlflowEnv = { MLFLOW_TRACKING_URI: inCluster.replace('mlflow.model-mirror.svc.cluster.local', mlflowUrl.hostname) };
}, 300_000);

afterAll(async () => {
  await hub?.close();
  for (const r of results) r.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

it('a repo the config\'s policy refuses fails in prepare with exit 9: no retry, no run, no version, no byte downloaded', async () => {
  const modelName = `wf-pickle-${suffix}`;
  const experiment = `wf-policy-refused-${suffix}`;
  // A submission trying to widen the policy changes nothing.
  const r = await submit({ model_id: POLICY_REPOS.pickleOnly, model_name: modelName, experiment, policy_narrowing: '{allowPickle: true, licenses: ["*"]}' });
  expect(r.status).toBe('Failed');
  const prepare = r.nodes.find((n) => n.displayName === 'prepare')!;
  expect(prepare.exitCode).toBe(9);
  expect(prepare.attempts).toHaveLength(1);
  expect(prepare.stderr).toMatch(/rule pickle, file pytorch_model\.bin/);
  expect(r.nodes.filter((n) => n.phase !== 'Skipped').map((n) => n.displayName)).toEqual(['prepare']);
  expect(hub.bytesServed(POLICY_REPOS.pickleOnly)).toBe(0);
  expect(await mlflow('experiments/get-by-name', { experiment_name: experiment })).toBeUndefined();
  expect(await versionsOf(modelName)).toHaveLength(0);
});

it('an admitted repo is mirrored without its pickle duplicates, tagged with the policy; a resubmission is a 0-byte reuse', async () => {
  const modelName = `wf-dual-${suffix}`;
  const experiment = `wf-policy-dual-${suffix}`;
  const repo = POLICY_REPOS.dualWeights;
  const first = await submit({ model_id: repo, model_name: modelName, experiment, alias: 'prod', policy_narrowing: '{licenses: [apache-2.0, mit], allowGated: false}' });
  expect(first.status).toBe('Succeeded');
  expect(hub.bytesServed(repo, 'pytorch_model.bin') + hub.bytesServed(repo, 'training_args.bin')).toBe(0);
  const transfer = first.nodes.find((n) => n.displayName === 'transfer')!;
  expect(transfer.attempts[0].args).toEqual(expect.arrayContaining(['--policy', '--narrow-policy', '{licenses: [apache-2.0, mit], allowGated: false}']));
  const [mv] = await versionsOf(modelName);
  expect(tags(mv.tags)).toMatchObject({
    'model_mirror.policy': 'wf-policy+narrowed',
    'model_mirror.policy_skipped': 'pytorch_model.bin,training_args.bin',
    'model_mirror.weight_formats': 'safetensors',
    'model_mirror.license': 'apache-2.0',
  });

  // Same files under the same policy (the empty narrowing adds nothing): prepare finds the version.
  const bytes = hub.bytesServed(repo);
  const again = await submit({ model_id: repo, model_name: modelName, experiment, alias: 'prod' });
  expect(again.status).toBe('Succeeded');
  expect(phases(again)).toEqual([
    ['prepare', 'Succeeded'], ['transfer', 'Skipped'], ['register', 'Skipped'], ['verify', 'Skipped'], ['verify-existing', 'Succeeded'],
  ]);
  expect(again.nodes.find((n) => n.displayName === 'prepare')!.outputs.reused).toBe('true');
  expect(hub.bytesServed(repo)).toBe(bytes);
  expect(await versionsOf(modelName)).toHaveLength(1);
  // The reuse records the policy that passed it this time.
  expect(tags((await versionsOf(modelName))[0].tags)['model_mirror.policy']).toBe('wf-policy');
});
