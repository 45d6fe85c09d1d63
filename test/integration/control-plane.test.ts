// The MLflow control-plane commands (prepare, register, verify, finalize) against the bench's real
// MLflow (PostgreSQL backend, SeaweedFS artifact root, --no-serve-artifacts). No mocks.
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode } from '../../steps/common/errors';
import { type Manifest, MANIFEST_FILE, writeManifest } from '../../steps/common/manifest';
import { listArtifacts, listArtifactsRecursive, parseS3Uri } from '../../steps/mlflow/artifacts';
import { MlflowApiError, MlflowClient } from '../../steps/mlflow/client';
import { searchLoggedModels } from '../../steps/mlflow/logged-models';
import { prepareRun } from '../../steps/mlflow/prepare';
import { getModelVersion, getRegisteredModel, searchModelVersions, versionTags } from '../../steps/mlflow/registry';
import { getRun, runParams, runTags } from '../../steps/mlflow/runs';
import { artifactKeyFor } from '../../steps/mlflow/transformers-layout';
import { createS3Client } from '../../steps/s3/client';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

let peers: Peers;
let client: MlflowClient;
let s3: S3Client;
let work: string;
const savedEnv = { ...process.env };
const suffix = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const EXPERIMENT = `cp-exp-${suffix}`;
const MODEL_NAME = `cp-model-${suffix}`;
// prepare checks the repo on the Hub first: the fixture's tiny model. The manifests below carry
// random commit shas, so every registered version here has its own identity.
const REPO = 'test/tiny-model';
let hub: StartedHubFixture;


function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A download dir like `download` leaves: a tiny GPT-2-shaped checkpoint + mirror-manifest.json. */
async function makeDownloadDir(name: string, commitSha: string): Promise<{ dir: string; manifest: Manifest; contents: Map<string, Buffer> }> {
  const dir = path.join(work, name);
  await fs.mkdir(dir, { recursive: true });
  const contents = new Map<string, Buffer>([
    ['config.json', Buffer.from(JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', transformers_version: '4.44.0', torch_dtype: 'float32', n_layer: 2 }))],
    ['generation_config.json', Buffer.from('{"bos_token_id": 0, "eos_token_id": 0}')],
    ['model.safetensors', randomBytes(64 * 1024 + 17)],
    ['tokenizer.json', Buffer.from('{"version":"1.0","model":{"type":"BPE","vocab":{},"merges":[]}}')],
    ['tokenizer_config.json', Buffer.from('{"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}')],
    ['special_tokens_map.json', Buffer.from('{"eos_token": "<|endoftext|>"}')],
    ['vocab.json', Buffer.from('{"a": 0}')],
    ['merges.txt', Buffer.from('#version: 0.2\n')],
    ['README.md', Buffer.from(`# ${name}\n`)],
  ]);
  for (const [p, b] of contents) await fs.writeFile(path.join(dir, p), b);
  const files = [...contents].map(([p, b]) => ({ path: p, size: b.length, sha256: sha256(b), lfs: p.endsWith('.safetensors') }));
  const manifest: Manifest = {
    schemaVersion: 1,
    repo: REPO,
    requestedRevision: 'main',
    commitSha,
    hubUrl: 'http://127.0.0.1:1',
    files,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    fileCount: files.length,
    createdAt: new Date().toISOString(),
    pipelineTag: 'text-generation',
    libraryName: 'transformers',
  };
  await writeManifest(dir, manifest);
  return { dir, manifest, contents };
}

/** What `upload` does: each manifest file at <dest>/<artifactKeyFor(path)>, then the manifest. */
async function uploadLikeUploadStep(dir: string, manifest: Manifest, dest: string): Promise<void> {
  const { bucket, key: prefix } = parseS3Uri(dest);
  for (const f of manifest.files) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${artifactKeyFor(f.path)}`, Body: await fs.readFile(path.join(dir, f.path)) }));
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${MANIFEST_FILE}`, Body: await fs.readFile(path.join(dir, MANIFEST_FILE)) }));
}

function randomSha(): string {
  return randomBytes(20).toString('hex');
}

beforeAll(async () => {
  peers = getPeers();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-cp-'));
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD']) delete process.env[k];
  hub = await startHubFixture();
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  client = new MlflowClient({ url: peers.mlflow.url });
  s3 = createS3Client({ endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
});

afterAll(async () => {
  s3?.destroy();
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('prepare', () => {
  it('creates the experiment and a tagged run whose artifacts live under the S3 artifact root', async () => {
    const outDir = path.join(work, 'prep-out');
    const res = await cli(['prepare', '--model-id', REPO, '--revision', 'main', '--experiment', EXPERIMENT, '--model-name', MODEL_NAME, '--task', 'text-generation', '--output-dir', outDir]);
    expect(res.code).toBe(0);
    expect(res.json).toHaveLength(1);
    const r = res.json[0] as Record<string, string>;
    expect(r.artifact_uri.startsWith(`${peers.mlflow.artifactRoot}/`)).toBe(true);
    expect(r.s3_destination).toBe(`${r.artifact_uri}/model`);
    for (const name of ['run_id', 'artifact_uri', 's3_destination', 'experiment_id']) {
      expect(await fs.readFile(path.join(outDir, name), 'utf8')).toBe(r[name]);
    }
    const run = await getRun(client, r.run_id);
    expect(run.info.status).toBe('RUNNING');
    expect(run.info.run_name).toBe(`mirror-${REPO.replace('/', '--')}-main`);
    expect(runTags(run)).toMatchObject({ 'model_mirror.source_repo': REPO, 'model_mirror.requested_revision': 'main', 'mlflow.source.type': 'JOB' });
    expect(runParams(run)).toMatchObject({ source_repo: REPO, requested_revision: 'main', registered_model_name: MODEL_NAME, task: 'text-generation' });
  });

  it('MODEL_MIRROR_DEBUG (or --debug): each MLflow call in the log with its status and time, and nothing else of the request', async () => {
    const res = await cli(['prepare', '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', `${MODEL_NAME}-debug`], { MODEL_MIRROR_DEBUG: '1' });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/MLflow answered.*POST \/api\/2\.0\/mlflow\/runs\/create.*status=200.*ms=\d+/);
    expect(res.stderr).not.toMatch(/authorization|run_name=/i);
    const quiet = await cli(['prepare', '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', `${MODEL_NAME}-debug`], { MODEL_MIRROR_DEBUG: undefined });
    expect(quiet.stderr).not.toMatch(/MLflow answered/);
  });

  it('two concurrent prepares share one experiment', async () => {
    const name = `${EXPERIMENT}-race`;
    const [a, b] = await Promise.all([0, 1].map(() => prepareRun(client, { modelId: REPO, revision: 'main', experiment: name, modelName: MODEL_NAME })));
    expect(a.experiment_id).toBe(b.experiment_id);
    expect(a.run_id).not.toBe(b.run_id);
  });

  it('rejects an invalid registered model name before creating anything', async () => {
    const res = await cli(['prepare', '--model-id', REPO, '--experiment', `${EXPERIMENT}-never`, '--model-name', 'org/name']);
    expect(res.code).toBe(ExitCode.Usage);
    expect(res.stderr).toMatch(/cannot contain '\/'/);
    const exp = await client.get('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: `${EXPERIMENT}-never` }).catch((e: MlflowApiError) => e);
    expect((exp as MlflowApiError).exitCode).toBe(ExitCode.NotFound);
  });
});

describe('register, verify, rerun, load with mlflow', () => {
  let prep: Record<string, string>;
  let dl: Awaited<ReturnType<typeof makeDownloadDir>>;
  const commitSha = randomSha();

  beforeAll(async () => {
    const res = await cli(['prepare', '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', MODEL_NAME]);
    expect(res.code).toBe(0);
    prep = res.json[0] as Record<string, string>;
    dl = await makeDownloadDir('dl-main', commitSha);
    await uploadLikeUploadStep(dl.dir, dl.manifest, prep.s3_destination);
  });

  it('registers a READY version with alias and tags, and no MLflow 3 logged model by default', async () => {
    const outDir = path.join(work, 'reg-out');
    const res = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--alias', 'champion', '--output-dir', outDir]);
    expect(res.stderr).not.toMatch(/ERROR/);
    expect(res.code).toBe(0);
    const r = res.json[0] as Record<string, unknown>;
    expect(r).toMatchObject({ version: '1', model_uri: `models:/${MODEL_NAME}/1`, reused: false, source: prep.s3_destination, commit_sha: commitSha });
    expect(await fs.readFile(path.join(outDir, 'version'), 'utf8')).toBe('1');
    expect(await fs.readFile(path.join(outDir, 'model_uri'), 'utf8')).toBe(`models:/${MODEL_NAME}/1`);

    const mv = await getModelVersion(client, MODEL_NAME, '1');
    expect(mv.status).toBe('READY');
    expect(mv.run_id).toBe(prep.run_id);
    expect(mv.source).toBe(prep.s3_destination);
    expect(mv.aliases).toContain('champion');
    expect(versionTags(mv)).toMatchObject({ 'model_mirror.source_repo': REPO, 'model_mirror.commit_sha': commitSha });
    const byAlias = await client.get<{ model_version: { version: string } }>('/api/2.0/mlflow/registered-models/alias', { name: MODEL_NAME, alias: 'champion' });
    expect(byAlias.model_version.version).toBe('1');

    // No logged model (--logged-model none): nothing points at an empty location.
    expect(r.model_id).toBeUndefined();
    expect(mv.model_id || undefined).toBeUndefined();
    expect(await searchLoggedModels(client, [prep.experiment_id])).toEqual([]);
    // The tokenizer component was copied server-side from the snapshot.
    expect(r.bytes_copied).toBe(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt']
      .reduce((n, p) => n + dl.contents.get(p)!.length, 0));

    const run = await getRun(client, prep.run_id);
    expect(runParams(run).commit_sha).toBe(commitSha);
    expect(runTags(run)['model_mirror.commit_sha']).toBe(commitSha);
  });

  it("lists the files in the run's Artifacts (root and model/) through MLflow", async () => {
    const root = await listArtifacts(client, prep.run_id);
    expect(root).toEqual([expect.objectContaining({ path: 'model', is_dir: true })]);
    const files = await listArtifactsRecursive(client, prep.run_id, 'model');
    for (const k of ['model/MLmodel', 'model/requirements.txt', 'model/python_env.yaml', 'model/conda.yaml', 'model/mirror-manifest.json',
      'model/model/config.json', 'model/model/model.safetensors', 'model/model/tokenizer.json', 'model/model/merges.txt',
      'model/components/tokenizer/tokenizer.json']) {
      expect(files.has(k)).toBe(true);
    }
    expect(files.get('model/model/model.safetensors')).toBe(dl.contents.get('model.safetensors')!.length);
    expect(files.has('model/tokenizer.json')).toBe(false);
    // model/model/ is the whole snapshot; only the tokenizer files are also in the component.
    expect([...files.keys()].filter((k) => k.startsWith('model/model/')).sort()).toEqual([...dl.contents.keys()].map((p) => `model/model/${p}`).sort());
    expect([...files.keys()].filter((k) => k.startsWith('model/components/')).sort()).toEqual(
      ['merges.txt', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json'].map((p) => `model/components/tokenizer/${p}`));
  });

  it('verify passes, and fails loudly naming a missing file', async () => {
    const ok = await cli(['verify', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--version', '1']);
    expect(ok.code).toBe(0);
    expect(ok.json[0]).toMatchObject({ verified: true, version: '1', download_uri: prep.s3_destination });

    // A tokenizer copy and a snapshot file missing: both named.
    const copy = parseS3Uri(`${prep.s3_destination}/components/tokenizer/merges.txt`);
    const snap = parseS3Uri(`${prep.s3_destination}/model/vocab.json`);
    await s3.send(new DeleteObjectCommand({ Bucket: copy.bucket, Key: copy.key }));
    await s3.send(new DeleteObjectCommand({ Bucket: snap.bucket, Key: snap.key }));
    try {
      const bad = await cli(['verify', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--version', '1']);
      expect(bad.code).toBe(ExitCode.NotFound);
      expect(bad.stderr).toContain('2 file(s) missing');
      expect(bad.stderr).toContain('model/components/tokenizer/merges.txt');
      expect(bad.stderr).toContain('model/model/vocab.json');
      expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: copy.bucket, Key: copy.key, Body: dl.contents.get('merges.txt') }));
      await s3.send(new PutObjectCommand({ Bucket: snap.bucket, Key: snap.key, Body: dl.contents.get('vocab.json') }));
    }
    // A snapshot file of the wrong size: an integrity failure that says which and how big.
    const cfg = parseS3Uri(`${prep.s3_destination}/model/config.json`);
    await s3.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: cfg.key, Body: '{}' }));
    try {
      const bad = await cli(['verify', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--version', '1']);
      expect(bad.code).toBe(ExitCode.Integrity);
      expect(bad.stderr).toContain('model/model/config.json (2 bytes, expected');
    } finally {
      await s3.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: cfg.key, Body: dl.contents.get('config.json') }));
    }
    expect((await cli(['verify', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--version', '1'])).code).toBe(0);
  });

  it('a rerun for the same commit returns the existing version, from the same or a new run', async () => {
    const again = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME, '--alias', 'champion']);
    expect(again.code).toBe(0);
    expect(again.json[0]).toMatchObject({ version: '1', reused: true });

    const prep2 = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: EXPERIMENT, modelName: MODEL_NAME });
    const other = await cli(['register', '--source', dl.dir, '--run-id', prep2.run_id, '--model-name', MODEL_NAME]);
    expect(other.code).toBe(0);
    expect(other.json[0]).toMatchObject({ version: '1', reused: true, run_id: prep.run_id });
    const all = await searchModelVersions(client, `name='${MODEL_NAME}'`);
    expect(all).toHaveLength(1);
    // verify from the new run checks the files of the run that holds the version
    const ver = await cli(['verify', '--source', dl.dir, '--run-id', prep2.run_id, '--model-name', MODEL_NAME, '--version', '1']);
    expect(ver.code).toBe(0);
    const fin = await cli(['finalize', '--run-id', prep2.run_id, '--workflow-status', 'Succeeded']);
    expect(fin.code).toBe(0);
  });

  it("mlflow (Python) downloads models:/NAME/1 and reads the transformers flavor", () => {
    const script = [
      'import json, os, sys, tempfile',
      'import mlflow',
      'from mlflow.models import Model',
      'd = mlflow.artifacts.download_artifacts(sys.argv[1], dst_path=tempfile.mkdtemp())',
      'm = Model.load(os.path.join(d, "MLmodel"))',
      'files = sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)',
      'print(json.dumps({"transformers": m.flavors["transformers"], "pyfunc": m.flavors["python_function"], "run_id": m.run_id, "model_id": getattr(m, "model_id", None), "files": files}))',
    ].join('\n');
    const res = spawnSync(peers.tools.python, ['-c', script, `models:/${MODEL_NAME}/1`], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: process.env.PATH, TMPDIR: process.env.TMPDIR,
        HOME: work,
        MLFLOW_TRACKING_URI: peers.mlflow.url,
        MLFLOW_S3_ENDPOINT_URL: peers.s3.endpoint,
        AWS_ACCESS_KEY_ID: peers.s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey,
        AWS_DEFAULT_REGION: peers.s3.region,
      },
    });
    expect(res.stderr.includes('Traceback') ? res.stderr : '').toBe('');
    expect(res.status).toBe(0);
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      transformers: Record<string, unknown>; pyfunc: Record<string, unknown>; run_id: string; model_id?: string; files: string[];
    };
    expect(r.transformers).toMatchObject({
      task: 'text-generation',
      instance_type: 'TextGenerationPipeline',
      pipeline_model_type: 'GPT2LMHeadModel',
      source_model_name: REPO,
      framework: 'pt',
      model_binary: 'model',
      components: ['tokenizer'],
      tokenizer_type: 'GPT2TokenizerFast',
      transformers_version: '4.44.0',
      torch_dtype: 'torch.float32',
    });
    expect(r.transformers.source_model_revision).toBeUndefined();
    expect(r.pyfunc).toMatchObject({ loader_module: 'mlflow.transformers' });
    expect(r.run_id).toBe(prep.run_id);
    expect(r.model_id ?? null).toBeNull();
    expect(r.files).toEqual(expect.arrayContaining(['MLmodel', 'model/config.json', 'model/tokenizer.json', 'model/model.safetensors', 'components/tokenizer/tokenizer.json', 'components/tokenizer/tokenizer_config.json']));
  });
});

describe('register --logged-model copy', () => {
  it('a copy that fails leaves no logged model and no version (nothing points at a partial location)', async () => {
    const name = `${MODEL_NAME}-copyfail`;
    const prep = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: `${EXPERIMENT}-copyfail`, modelName: name });
    const dl = await makeDownloadDir('dl-copyfail', randomSha());
    await uploadLikeUploadStep(dl.dir, dl.manifest, prep.s3_destination);
    // The weights are gone from the run's model directory: the logged model's copy cannot complete.
    const { bucket, key } = parseS3Uri(`${prep.s3_destination}/model/model.safetensors`);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    const reg = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', name, '--logged-model', 'copy']);
    expect(reg.code).toBe(ExitCode.NotFound);
    expect(reg.stderr).toMatch(/model\/model\.safetensors.*the source object does not exist/);
    expect(reg.stderr).toContain(peers.s3.endpoint);
    expect(await searchLoggedModels(client, [prep.experiment_id])).toEqual([]);
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(0);
  });

  it('a complete copy: READY, the MLmodel names it, and its location holds every object of the model directory', async () => {
    const name = `${MODEL_NAME}-copyok`;
    const prep = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: `${EXPERIMENT}-copyok`, modelName: name });
    const dl = await makeDownloadDir('dl-copyok', randomSha());
    await uploadLikeUploadStep(dl.dir, dl.manifest, prep.s3_destination);
    const reg = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', name, '--logged-model', 'copy']);
    expect(reg.code).toBe(0);
    const modelId = reg.json[0].model_id as string;
    const [lm] = await searchLoggedModels(client, [prep.experiment_id]);
    expect(lm.info).toMatchObject({ model_id: modelId, status: 'LOGGED_MODEL_READY', source_run_id: prep.run_id });
    const runFiles = [...(await listArtifactsRecursive(client, prep.run_id, 'model'))].map(([k, size]) => [k.slice('model/'.length), size]).sort();
    const lmLoc = parseS3Uri(lm.info.artifact_uri!);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: lmLoc.bucket, Prefix: `${lmLoc.key}/` }));
    const lmFiles = (listed.Contents ?? []).map((o) => [o.Key!.slice(lmLoc.key.length + 1), Number(o.Size)]).sort();
    expect(lmFiles).toEqual(runFiles);
  });
});

describe('finalize', () => {
  it('Failed: run FAILED with the reason, its version deleted', async () => {
    const name = `${MODEL_NAME}-failed`;
    const prep = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: EXPERIMENT, modelName: name });
    const dl = await makeDownloadDir('dl-failed', randomSha());
    await uploadLikeUploadStep(dl.dir, dl.manifest, prep.s3_destination);
    const reg = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', name, '--alias', 'candidate']);
    expect(reg.code).toBe(0);

    const failures = JSON.stringify([{ displayName: 'verify', message: 'Error (exit code 6)', templateName: 'verify', phase: 'Failed' }]);
    const fin = await cli(['finalize', '--run-id', prep.run_id, '--workflow-status', 'Failed', '--failures', failures, '--model-name', name]);
    expect(fin.code).toBe(0);
    expect(fin.json[0]).toMatchObject({ run_status: 'FAILED', deleted_versions: [`${name}/1`] });

    const run = await getRun(client, prep.run_id);
    expect(run.info.status).toBe('FAILED');
    expect(runTags(run)['model_mirror.failure_reason']).toBe('verify (Failed): Error (exit code 6)');
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(0);
    expect((await getRegisteredModel(client, name))?.aliases ?? []).toEqual([]);

    // The exit handler may run twice: still fine.
    expect((await cli(['finalize', '--run-id', prep.run_id, '--workflow-status', 'Error'])).code).toBe(0);
  });

  it('Succeeded: run FINISHED, version kept', async () => {
    const name = `${MODEL_NAME}-ok`;
    const prep = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: EXPERIMENT, modelName: name });
    const dl = await makeDownloadDir('dl-ok', randomSha());
    await uploadLikeUploadStep(dl.dir, dl.manifest, prep.s3_destination);
    expect((await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', name])).code).toBe(0);
    const fin = await cli(['finalize', '--run-id', prep.run_id, '--workflow-status', 'Succeeded', '--model-name', name]);
    expect(fin.code).toBe(0);
    expect((await getRun(client, prep.run_id)).info.status).toBe('FINISHED');
    expect((await getModelVersion(client, name, '1')).status).toBe('READY');
  });

  it("a workflow that ended without its exit handler: the next workflow's prepare closes its run FAILED and deletes its version", async () => {
    const exp = `${EXPERIMENT}-stale`;
    const name = `${MODEL_NAME}-stale`;
    // wf-dead got as far as register, then Argo could not create a pod and never ran finalize.
    const dead = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: exp, modelName: name, argoWorkflow: 'model-mirror-dead1' });
    const dl = await makeDownloadDir('dl-stale', randomSha());
    await uploadLikeUploadStep(dl.dir, dl.manifest, dead.s3_destination);
    expect((await cli(['register', '--source', dl.dir, '--run-id', dead.run_id, '--model-name', name])).code).toBe(0);
    // A local `mirror` run of the same model (no workflow tag) is not the sweep's to judge.
    const local = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: exp, modelName: name });

    const res = await cli(['prepare', '--model-id', REPO, '--experiment', exp, '--model-name', name, '--argo-workflow', 'model-mirror-next2']);
    expect(res.code).toBe(0);
    const deadRun = await getRun(client, dead.run_id);
    expect(deadRun.info.status).toBe('FAILED');
    expect(runTags(deadRun)['model_mirror.failure_reason']).toMatch(/model-mirror-dead1 ended without running its exit handler/);
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(0);
    expect((await getRun(client, local.run_id)).info.status).toBe('RUNNING');
    const fresh = await getRun(client, (res.json[0] as Record<string, string>).run_id);
    expect(fresh.info.status).toBe('RUNNING');
    expect(runTags(fresh)['model_mirror.argo_workflow']).toBe('model-mirror-next2');
  });

  it('no run id (the workflow failed before prepare): nothing to do', async () => {
    const fin = await cli(['finalize', '--run-id', '', '--workflow-status', 'Failed']);
    expect(fin.code).toBe(0);
  });
});

describe('errors from the real server', () => {
  it('unknown run -> NotFound, without a stack trace', async () => {
    const res = await cli(['finalize', '--run-id', 'f'.repeat(32), '--workflow-status', 'Succeeded']);
    expect(res.code).toBe(ExitCode.NotFound);
    expect(res.stderr).toMatch(/run f{32} does not exist/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it("MLflow's Invalid Host header 403 -> Auth with the --allowed-hosts hint", async () => {
    // A proxy that forwards to MLflow with a Host header it does not allow.
    const target = new URL(peers.mlflow.url);
    const proxy = http.createServer((req, res) => {
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: 'mlflow.not-allowed.example:5000' } }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const res = await cli(['prepare', '--tracking-uri', url, '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', MODEL_NAME]);
      expect(res.code).toBe(ExitCode.Auth);
      expect(res.stderr).toMatch(/Invalid Host header/);
      expect(res.stderr).toMatch(/--allowed-hosts/);
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('register without a task anywhere fails clearly', async () => {
    const prep = await prepareRun(client, { modelId: REPO, revision: 'main', experiment: EXPERIMENT, modelName: MODEL_NAME });
    const dl = await makeDownloadDir('dl-notask', randomSha());
    const manifest = { ...dl.manifest, pipelineTag: undefined };
    await writeManifest(dl.dir, manifest as Manifest);
    const res = await cli(['register', '--source', dl.dir, '--run-id', prep.run_id, '--model-name', MODEL_NAME]);
    expect(res.code).toBe(ExitCode.Usage);
    expect(res.stderr).toMatch(/--task/);
  });
});
