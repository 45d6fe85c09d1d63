// Concurrent `mirror`s of the same model and commit outside Argo (whose mutex covers only
// workflows): one version, the alias on it, every process exits 0 (the others say which version
// they reused). Real processes (the CLI bundle), real MLflow + SeaweedFS.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowClient } from '../../steps/mlflow/client';
import { searchModelVersions } from '../../steps/mlflow/registry';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { buildBundle, startCli, type ChildResult } from '../support/cli-child';
import { stepEnv } from '../support/step-env';

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let bundle: string;
let client: MlflowClient;
const suffix = Date.now().toString(36);

beforeAll(async () => {
  peers = getPeers();
  client = new MlflowClient({ url: peers.mlflow.url });
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-concurrent-'));
  hub = await startHubFixture();
  bundle = buildBundle(work);
});

afterAll(async () => {
  await hub?.close();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** Objects under each run's model/ prefix: a losing mirror's upload must not stay behind. */
async function objectsPerRun(artifactUris: string[]): Promise<number[]> {
  const s3 = new S3Client({ endpoint: peers.s3.endpoint, forcePathStyle: true, region: peers.s3.region, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
  try {
    return await Promise.all(artifactUris.map(async (uri) => {
      const m = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(uri)!;
      const page = await s3.send(new ListObjectsV2Command({ Bucket: m[1], Prefix: `${m[2]}/model/` }));
      return (page.Contents ?? []).length;
    }));
  } finally {
    s3.destroy();
  }
}

async function runsOf(experiment: string): Promise<{ status: string; artifactUri: string; tags: Record<string, string> }[]> {
  const exp = await client.get<{ experiment: { experiment_id: string } }>('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: experiment });
  const res = await client.post<{ runs?: { info: { status: string; artifact_uri: string }; data: { tags?: { key: string; value: string }[] } }[] }>(
    '/api/2.0/mlflow/runs/search', { experiment_ids: [exp.experiment.experiment_id], max_results: 100 }, { idempotent: true });
  return (res.runs ?? []).map((r) => ({ status: r.info.status, artifactUri: r.info.artifact_uri, tags: Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value])) }));
}

async function mirrorAtOnce(n: number, name: string, experiment: string, extra: string[] = []): Promise<ChildResult[]> {
  const env = { ...stepEnv(peers), HF_ENDPOINT: hub.url };
  const children = Array.from({ length: n }, (_, i) => startCli(bundle, [
    'mirror', 'test/tiny-model', '--experiment', experiment, '--model-name', name, '--work-dir', path.join(work, `${name}-${i}`), ...extra,
  ], env));
  return Promise.all(children.map((c) => c.done));
}

it('5 concurrent mirrors of one commit make exactly one version; all exit 0, four reuse it', async () => {
  const name = `conc5-${suffix}`;
  const experiment = `conc5-exp-${suffix}`;
  const t0 = Date.now();
  const results = await mirrorAtOnce(5, name, experiment);
  const seconds = (Date.now() - t0) / 1000;
  for (const r of results) {
    if (r.code !== 0) throw new Error(`a mirror exited ${r.code}:\n${r.stderr}`);
  }
  const versions = await searchModelVersions(client, `name='${name}'`);
  expect(versions.map((v) => [v.version, v.status])).toEqual([[versions[0].version, 'READY']]);
  const printed = results.map((r) => r.json[r.json.length - 1] as Record<string, unknown>);
  expect(new Set(printed.map((p) => p.version))).toEqual(new Set([versions[0].version]));
  // One process uploaded; the others reused its version without a second upload.
  expect(printed.filter((p) => p.reused === false)).toHaveLength(1);
  expect(printed.filter((p) => p.reused === true)).toHaveLength(4);
  // The others waited for it rather than uploading too (creation race in plan.ts; register's
  // re-check alone would also leave one version, but after every process had uploaded).
  expect(printed.map((p) => Number(p.bytes_uploaded ?? 0)).filter((n) => n > 0)).toHaveLength(1);
  // No run left RUNNING; at most one run holds files (the others are unused and say why).
  const runs = await runsOf(experiment);
  expect(runs.filter((r) => r.status === 'RUNNING')).toEqual([]);
  expect(runs.filter((r) => r.status === 'FINISHED' && !r.tags['model_mirror.reused_version'])).toHaveLength(1);
  expect((await objectsPerRun(runs.map((r) => r.artifactUri))).filter((n) => n > 0)).toHaveLength(1);
  process.stdout.write(`[concurrent-mirror] 5 mirrors: ${seconds.toFixed(1)} s, per process ${results.map((r) => (r.ms / 1000).toFixed(1)).join('/')} s, ${runs.length} runs\n`);
});

it('2 concurrent mirrors with an alias: both exit 0, one version, the alias points at it', async () => {
  const name = `conc2-${suffix}`;
  const experiment = `conc2-exp-${suffix}`;
  const results = await mirrorAtOnce(2, name, experiment, ['--alias', 'prod']);
  for (const r of results) {
    if (r.code !== 0) throw new Error(`a mirror exited ${r.code}:\n${r.stderr}`);
    expect(r.stderr).not.toMatch(/UniqueViolation/);
  }
  const versions = await searchModelVersions(client, `name='${name}'`);
  expect(versions).toHaveLength(1);
  const alias = await client.get<{ model_version: { version: string } }>('/api/2.0/mlflow/registered-models/alias', { name, alias: 'prod' });
  expect(alias.model_version.version).toBe(versions[0].version);
});
