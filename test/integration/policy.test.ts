// The mirroring policy against the real peers and the Hub fixture: refused repos exit 9 naming
// the rule and the file, with no byte downloaded and no MLflow state; an admitted repo with
// pickle duplicates is mirrored without them, carries the policy's tags on its run and version,
// and a rerun is a 0-byte reuse.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromKeyValues, MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion, searchModelVersions, versionTags } from '../../steps/mlflow/registry';
import { getRun } from '../../steps/mlflow/runs';
import { POLICY_REPOS, startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let policyFile: string;
let client: MlflowClient;
const savedEnv = { ...process.env };
const suffix = Date.now().toString(36);

const POLICY_YAML = `# the platform team's policy for this test
name: it-policy
publishers: [policy, test]
licenses: [apache-2.0]
`;

beforeAll(async () => {
  peers = getPeers();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-policy-'));
  policyFile = path.join(work, 'policy.yaml');
  await fs.writeFile(policyFile, POLICY_YAML);
  hub = await startHubFixture();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  client = new MlflowClient({ url: peers.mlflow.url });
});

afterAll(async () => {
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function experimentExists(name: string): Promise<boolean> {
  return client.get('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: name }).then(() => true, () => false);
}

/** Content bytes the fixture served for `repo`, except config.json (the policy may read it). */
function weightBytesServed(repo: string): number {
  return hub.bytesServed(repo) - hub.bytesServed(repo, 'config.json');
}

describe('refused repos: exit 9, rule and file named, nothing downloaded, no MLflow state', () => {
  const CASES: Array<[string, string, string[], RegExp]> = [
    [POLICY_REPOS.pickleOnly, 'pickle', [], /rule pickle, file pytorch_model\.bin — its weights are pickle only/],
    [POLICY_REPOS.remoteCode, 'remoteCode', [], /rule remoteCode, file configuration_tiny\.py — config\.json has an auto_map/],
    [POLICY_REPOS.noLicense, 'license', [], /rule license, file README\.md — its model card \(README\.md\) states no licence, which counts as "unknown"/],
    [POLICY_REPOS.nonCommercial, 'license', [], /rule license, file README\.md — its licence "cc-by-nc-4\.0"/],
    ['test/gated-model', 'gated', [], /rule gated — the repo is gated \(manual\)/],
    [POLICY_REPOS.unsafeFile, 'hubScan', [], /rule hubScan, file extras\/danger\.dat — the Hub's security scan marks it unsafe/],
    // A submission's narrowing: the base admits test/*, the flag does not.
    ['test/tiny-model', 'publishers', ['--only-publishers', 'policy'], /narrowing layer 1 of policy "it-policy\+narrowed" refuses test\/tiny-model: rule publishers/],
  ];

  test.each(CASES)('%s is refused by rule %s', async (repo, _rule, extra, message) => {
    const tag = `${repo.replace(/\W+/g, '-')}-${suffix}`;
    const experiment = `policy-exp-${tag}`;
    const name = `policy-${tag}`;
    const dest = path.join(work, `dl-${tag}`);
    const requestsBefore = hub.requests.length;
    for (const command of ['mirror', 'prepare'] as const) {
      const args = command === 'mirror'
        ? ['mirror', repo, '--experiment', experiment, '--model-name', name, '--work-dir', dest, '--policy-file', policyFile, ...extra]
        : ['prepare', '--model-id', repo, '--experiment', experiment, '--model-name', name, '--policy-file', policyFile, ...extra];
      const res = await cli(args);
      expect({ command, code: res.code }).toEqual({ command, code: 9 });
      expect(res.stderr).toMatch(message);
      expect(res.stderr).not.toMatch(/\n\s+at /);
    }
    // The download step (as the workflow runs it) refuses too, before writing anything.
    const dl = await cli(['download', '--model-id', repo, '--dest', dest, '--policy-file', policyFile, ...extra]);
    expect(dl.code).toBe(9);
    expect(weightBytesServed(repo)).toBe(0);
    const resolves = hub.requests.slice(requestsBefore).filter((r) => /\/resolve(-cache)?\//.test(r.url) && r.method === 'GET');
    expect(resolves.every((r) => r.url.includes('config.json'))).toBe(true);
    await expect(fs.stat(dest)).rejects.toMatchObject({ code: 'ENOENT' }); // nothing written locally either
    expect(await experimentExists(experiment)).toBe(false);
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(0);
  });
});

describe('an admitted repo with pickle duplicates', () => {
  const repo = POLICY_REPOS.dualWeights;
  const name = `policy-dual-${suffix}`;
  const experiment = `policy-dual-exp-${suffix}`;
  const args = () => ['mirror', repo, '--experiment', experiment, '--model-name', name, '--alias', 'prod', '--work-dir', path.join(work, 'dl-dual'), '--policy-file', policyFile];
  let runId: string;

  test('is mirrored without the pickle files; its run and version carry the policy\'s decision', async () => {
    const res = await cli(args());
    expect(res.stderr).not.toMatch(/^ERROR/m);
    expect(res.code).toBe(0);
    const r = res.json[0] as Record<string, string>;
    runId = r.run_id;
    expect(r.version).toBe('1');
    // Not a byte of the pickle files left the Hub.
    expect(hub.bytesServed(repo, 'pytorch_model.bin')).toBe(0);
    expect(hub.bytesServed(repo, 'training_args.bin')).toBe(0);
    expect(hub.bytesServed(repo, 'model.safetensors')).toBeGreaterThan(0);

    const runTags = fromKeyValues((await getRun(client, runId)).data.tags);
    const mvTags = versionTags(await getModelVersion(client, name, '1'));
    for (const tags of [runTags, mvTags]) {
      expect(tags).toMatchObject({
        'model_mirror.policy': 'it-policy',
        'model_mirror.license': 'apache-2.0',
        'model_mirror.weight_formats': 'safetensors',
        'model_mirror.policy_skipped': 'pytorch_model.bin,training_args.bin',
        'model_mirror.remote_code': 'false',
        'model_mirror.gated': 'false',
        'model_mirror.hub_scan': 'safe=10',
      });
      expect(tags['model_mirror.policy_hash']).toMatch(/^sha256:[0-9a-f]{16}$/);
    }
    expect(mvTags['model_mirror.file_set']).toBe(runTags['model_mirror.file_set']);

    // The stored model holds no pickle file.
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec((await getRun(client, runId)).info.artifact_uri!)!;
    const s3 = new S3Client({ endpoint: peers.s3.endpoint, forcePathStyle: true, region: peers.s3.region, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: m[1], Prefix: `${m[2]}/` }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      expect(keys.some((k) => k.endsWith('/model/model/model.safetensors'))).toBe(true);
      expect(keys.filter((k) => /\.(bin|pt|pth|ckpt|pkl)$/.test(k))).toEqual([]);
    } finally {
      s3.destroy();
    }
  });

  test('a rerun with the same policy is a 0-byte reuse (mirror and the workflow\'s prepare alike)', async () => {
    const before = hub.bytesServed(repo);
    const again = await cli(args());
    expect(again.code).toBe(0);
    expect(again.json[0]).toMatchObject({ reused: true, version: '1', bytes_downloaded: 0, bytes_uploaded: 0 });
    const out = path.join(work, 'prepare-out');
    const prep = await cli(['prepare', '--model-id', repo, '--experiment', experiment, '--model-name', name, '--policy-file', policyFile, '--output-dir', out]);
    expect(prep.code).toBe(0);
    expect(await fs.readFile(path.join(out, 'reused'), 'utf8')).toBe('true');
    expect(hub.bytesServed(repo)).toBe(before);
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
  });

  test('the same repo without the policy is another file selection, so another version', async () => {
    const res = await cli(['prepare', '--model-id', repo, '--experiment', experiment, '--model-name', name, '--output-dir', path.join(work, 'prepare-nopolicy')]);
    expect(res.code).toBe(0);
    expect(await fs.readFile(path.join(work, 'prepare-nopolicy', 'reused'), 'utf8')).toBe('false');
    const runIdNoPolicy = await fs.readFile(path.join(work, 'prepare-nopolicy', 'run_id'), 'utf8');
    const tags = fromKeyValues((await getRun(client, runIdNoPolicy)).data.tags);
    expect(tags['model_mirror.policy']).toBeUndefined();
    expect(tags['model_mirror.file_set']).not.toBe(fromKeyValues((await getRun(client, runId)).data.tags)['model_mirror.file_set']);
    await cli(['finalize', '--run-id', runIdNoPolicy, '--workflow-status', 'Failed', '--model-name', name]);
  });
});
