// A new user's checks, with the official clients: `model-mirror mirror` the fixture's tiny GPT-2
// (a real transformers checkpoint: config, safetensors, BPE tokenizer), then load it with the
// MLflow 3 Python client and transformers (venv-ml, install.d/ml-venv.sh) and compare with what
// transformers makes of the original Hub files. Also: a rerun moves 0 bytes and creates nothing;
// a mistyped id creates no MLflow state; the logged model is absent by default and complete with
// --logged-model copy. Everything talks to 127.0.0.1 only (the Python side runs with HF_HUB_OFFLINE).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion, searchModelVersions } from '../../steps/mlflow/registry';
import { getRun } from '../../steps/mlflow/runs';
import { createS3Client } from '../../steps/s3/client';
import { parseS3Uri } from '../../steps/s3/s3-uri';
import { isTokenizerFile } from '../../steps/mlflow/transformers-layout';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers, readTools } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const REPO = 'test/tiny-model';
const PROMPT = 'the quick brown fox';
const suffix = Date.now().toString(36);
const SCRIPT = path.join(__dirname, 'py', 'load_mirrored.py');

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let client: MlflowClient;
let s3: S3Client;
let original: string;
let originalFiles: Map<string, { sha256: string; size: number }>;
const savedEnv = { ...process.env };

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function mlPython(): string {
  const py = readTools().mlPython;
  if (!py) throw new Error('tools.json has no mlPython: run bash test/peers/install.sh (install.d/ml-venv.sh builds the torch/transformers venv)');
  return py;
}

/** Runs load_mirrored.py with env pointing at the bench only; returns its JSON. */
function loadWithPython(spec: Obj): Promise<Obj> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, TMPDIR: process.env.TMPDIR,
    HOME: work,
    ...stepEnv(peers),
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    HF_ENDPOINT: 'http://127.0.0.1:9', // nothing listens: a stray Hub call fails instead of leaving the box
    MLFLOW_DISABLE_TELEMETRY: 'true',
    DO_NOT_TRACK: 'true',
    NO_PROXY: '*',
    OMP_NUM_THREADS: '1',
    TOKENIZERS_PARALLELISM: 'false',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(mlPython(), [SCRIPT, JSON.stringify(spec)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`load_mirrored.py exited ${code}\n--- stdout\n${out.slice(-3000)}\n--- stderr\n${err.slice(-6000)}`));
        return;
      }
      resolve(JSON.parse(last) as Obj);
    });
  });
}

async function experimentId(name: string): Promise<string | undefined> {
  try {
    const r = await client.get<{ experiment: { experiment_id: string } }>('/api/2.0/mlflow/experiments/get-by-name', { experiment_name: name });
    return r.experiment.experiment_id;
  } catch {
    return undefined;
  }
}

async function runsIn(experiment: string): Promise<Obj[]> {
  const id = await experimentId(experiment);
  if (!id) return [];
  const r = await client.post<{ runs?: Obj[] }>('/api/2.0/mlflow/runs/search', { experiment_ids: [id], max_results: 1000 }, { idempotent: true });
  return r.runs ?? [];
}

/** Every object in the bench bucket: count and bytes (for "a rerun stores nothing"). */
async function bucketUsage(prefix = ''): Promise<{ objects: number; bytes: number; keys: Set<string> }> {
  let token: string | undefined;
  const keys = new Set<string>();
  let bytes = 0;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) { keys.add(o.Key!); bytes += Number(o.Size ?? 0); }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { objects: keys.size, bytes, keys };
}

function hubBytes(): number {
  return hub.bytesServed(REPO);
}

beforeAll(async () => {
  peers = getPeers();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-load-'));
  hub = await startHubFixture();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  client = new MlflowClient({ url: peers.mlflow.url });
  s3 = createS3Client({ endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
  // The original repo at main, as the Hub serves it (the fixture's own bytes).
  original = path.join(work, 'original');
  originalFiles = new Map();
  for (const f of hub.repos.get(REPO)!.files) {
    const data = hub.content(REPO, f.path);
    await fs.mkdir(path.dirname(path.join(original, f.path)), { recursive: true });
    await fs.writeFile(path.join(original, f.path), data);
    originalFiles.set(f.path, { sha256: sha256(data), size: data.length });
  }
});

afterAll(async () => {
  s3?.destroy();
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('default (no logged model)', () => {
  const name = `load-tiny-${suffix}`;
  const experiment = `load-exp-${suffix}`;
  const args = (alias = 'prod') => ['mirror', REPO, '--experiment', experiment, '--model-name', name, '--alias', alias, '--work-dir', path.join(work, 'dl')];
  let first: Obj;

  it('mirrors the tiny model: model/model/ is the whole snapshot, tokenizer also in components/tokenizer/', async () => {
    const res = await cli(args());
    expect(res.stderr).not.toMatch(/^ERROR/m);
    expect(res.code).toBe(0);
    first = res.json[0] as Obj;
    expect(first).toMatchObject({ version: '1', reused: false });
    const root = `${first.artifact_uri.replace(/^s3:\/\/[^/]+\//, '')}/model/`;
    const keys = [...(await bucketUsage(root)).keys].map((k) => k.slice(root.length));
    for (const p of originalFiles.keys()) expect(keys).toContain(`model/${p}`);
    const tokenizerFiles = [...originalFiles.keys()].filter(isTokenizerFile).sort();
    expect(tokenizerFiles).toEqual(['merges.txt', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
    expect(keys.filter((k) => k.startsWith('components/tokenizer/')).sort()).toEqual(tokenizerFiles.map((p) => `components/tokenizer/${p}`));
  });

  it('loads with the official MLflow client and transformers exactly like the original files', async () => {
    const r = await loadWithPython({
      model_uri: `models:/${name}@prod`,
      original_dir: original,
      snapshot_uri: `${first.artifact_uri}/model/model`,
      experiment_id: first.experiment_id,
      run_id: first.run_id,
      prompt: PROMPT,
      max_new_tokens: 8,
      work_dir: path.join(work, 'py-default'),
    });
    // The fixture's model is a real checkpoint: its tokenizer has the full vocab, generate works.
    expect(r.original.vocab_size).toBe(1024);
    expect(r.original.output_ids.length).toBe(r.original.input_ids.length + 8);
    // mlflow.transformers.load_model("models:/<name>@prod") generates exactly what the original does.
    expect(r.transformers_flavor.trace ?? '').toBe('');
    expect(r.transformers_flavor.input_ids).toEqual(r.original.input_ids);
    expect(r.transformers_flavor.output_ids).toEqual(r.original.output_ids);
    expect(r.transformers_flavor.vocab_size).toBe(1024);
    // pyfunc predicts.
    expect(r.pyfunc.trace ?? '').toBe('');
    expect(r.pyfunc.prediction).toHaveLength(1);
    expect(typeof r.pyfunc.prediction[0]).toBe('string');
    expect(r.pyfunc.prediction[0].length).toBeGreaterThan(0);
    // download_artifacts: byte-identical files, snapshot and tokenizer component.
    expect(r.download.trace ?? '').toBe('');
    for (const [p, f] of originalFiles) {
      expect([p, r.download.files[`model/${p}`]]).toEqual([p, f.sha256]);
      if (isTokenizerFile(p)) expect([p, r.download.files[`components/tokenizer/${p}`]]).toEqual([p, f.sha256]);
    }
    expect(Object.keys(r.download.files)).toEqual(expect.arrayContaining(['MLmodel', 'requirements.txt', 'python_env.yaml', 'conda.yaml', 'mirror-manifest.json']));
    // model/model/ alone (what KServe / vLLM / from_pretrained read): the original's token ids and output.
    expect(r.snapshot.trace ?? '').toBe('');
    expect(Object.keys(r.snapshot.files).sort()).toEqual([...originalFiles.keys()].sort());
    expect(r.snapshot.vocab_size).toBe(1024);
    expect(r.snapshot.input_ids).toEqual(r.original.input_ids);
    expect(r.snapshot.output_ids).toEqual(r.original.output_ids);
    // Point 1, default: no logged model, nothing points at one.
    expect(r.mlmodel_model_id ?? null).toBeNull();
    expect(r.logged_models).toEqual([]);
    expect(r.run_output_model_ids ?? []).toEqual([]);
  }, 600_000);

  it('a rerun for the registered (repo, commit, files) moves 0 bytes and creates no run, object or version', async () => {
    const hubBefore = hubBytes();
    // This experiment's artifact root (artifacts/<experiment id>/): every object a mirror of it can
    // write (a run's files, a logged model's copy) is under it, and the integration files that run
    // beside this one write into the same bucket, so the whole bucket's count is not this rerun's.
    const experimentRoot = `${parseS3Uri(first.artifact_uri).prefix.split('/').slice(0, -2).join('/')}/`;
    expect(experimentRoot).toMatch(new RegExp(`/${first.experiment_id}/$`));
    const s3Before = await bucketUsage(experimentRoot);
    const runsBefore = (await runsIn(experiment)).length;
    const res = await cli(args('stable'));
    expect(res.code).toBe(0);
    expect(res.json[0]).toMatchObject({ reused: true, version: '1', bytes_downloaded: 0, bytes_uploaded: 0 });
    expect(res.stderr).toMatch(/already registered/);
    expect(hubBytes() - hubBefore).toBe(0);
    const s3After = await bucketUsage(experimentRoot);
    expect(s3Before.objects).toBeGreaterThan(0);
    expect(s3After.objects).toBe(s3Before.objects);
    expect(s3After.bytes).toBe(s3Before.bytes);
    expect((await runsIn(experiment)).length).toBe(runsBefore);
    expect(await searchModelVersions(client, `name='${name}'`)).toHaveLength(1);
    // The alias and tags were re-applied.
    const mv = await getModelVersion(client, name, '1');
    expect(mv.aliases).toEqual(expect.arrayContaining(['prod', 'stable']));
    expect(Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value]))['model_mirror.last_resync']).toMatch(/^\d{4}-/);

    // `prepare` (the workflow's first step) says the same through its output files.
    const out = path.join(work, 'prep-reuse');
    const prep = await cli(['prepare', '--model-id', REPO, '--experiment', experiment, '--model-name', name, '--alias', 'prod', '--output-dir', out]);
    expect(prep.code).toBe(0);
    expect(await fs.readFile(path.join(out, 'reused'), 'utf8')).toBe('true');
    expect(await fs.readFile(path.join(out, 'version'), 'utf8')).toBe('1');
    expect(await fs.readFile(path.join(out, 'run_id'), 'utf8')).toBe('');
    expect((await runsIn(experiment)).length).toBe(runsBefore);
    expect(hubBytes() - hubBefore).toBe(0);
    // verify without a download dir checks the version against the manifest stored with it.
    const ver = await cli(['verify', '--model-name', name, '--version', '1', '--source', '']);
    expect(ver.code).toBe(0);
    expect(ver.json[0]).toMatchObject({ verified: true, run_id: first.run_id });
    // The count verify logs is the count it returns.
    expect(ver.stderr).toMatch(new RegExp(`Verified model version .*files=${ver.json[0].files_checked}\\b`));
  });

  it('another file selection of the same commit is another version (a partial mirror is never reused)', async () => {
    const res = await cli(['mirror', REPO, '--experiment', experiment, '--model-name', name, '--work-dir', path.join(work, 'dl-partial'),
      '--ignore-patterns', 'original/,README.md']);
    expect(res.code).toBe(0);
    expect(res.json[0]).toMatchObject({ reused: false, version: '2' });
    const full = await cli(['prepare', '--model-id', REPO, '--experiment', experiment, '--model-name', name]);
    expect(full.json[0]).toMatchObject({ reused: true, version: '1' });
  });
});

describe('a mistyped model id, revision or a gated repo leaves no MLflow state', () => {
  it.each([
    ['mirror', ['mirror', 'test/tiny-modle'], 3],
    ['mirror, unknown revision', ['mirror', REPO, '--revision', 'no-such-branch'], 3],
    ['mirror, gated without a token', ['mirror', 'test/gated-model'], 4],
    ['prepare', ['prepare', '--model-id', 'test/tiny-modle'], 3],
  ] as Array<[string, readonly string[], number]>)('%s', async (label, argv, code) => {
    const experiment = `never-${label.replace(/\W+/g, '-')}-${suffix}`;
    const extra = argv[0] === 'mirror' ? ['--work-dir', path.join(work, `never-${label.replace(/\W+/g, '-')}`)] : [];
    const res = await cli([...argv, '--experiment', experiment, '--model-name', `never-${suffix}`, ...extra]);
    expect(res.code).toBe(code);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(await experimentId(experiment)).toBeUndefined();
    expect(await searchModelVersions(client, `name='never-${suffix}'`)).toHaveLength(0);
  });
});

describe('--logged-model copy', () => {
  const name = `load-copy-${suffix}`;
  const experiment = `load-copy-exp-${suffix}`;

  it('the logged model holds the whole model (server-side copy), is READY, linked from the run and the version, and loads', async () => {
    const res = await cli(['mirror', REPO, '--experiment', experiment, '--model-name', name, '--alias', 'prod', '--logged-model', 'copy', '--work-dir', path.join(work, 'dl-copy')]);
    expect(res.stderr).not.toMatch(/^ERROR/m);
    expect(res.code).toBe(0);
    const r0 = res.json[0] as Obj;
    expect(r0.model_id).toMatch(/^m-/);
    // The version is linked to the logged model (MLflow records it on the logged model too).
    const lm = await client.get<{ model: Obj }>(`/api/2.0/mlflow/logged-models/${r0.model_id}`);
    const lmTags = Object.fromEntries((lm.model.info.tags ?? []).map((t: Obj) => [t.key, t.value]));
    expect(JSON.parse(lmTags['mlflow.modelVersions'])).toEqual([{ name, version: 1 }]);
    expect(lm.model.info.status).toBe('LOGGED_MODEL_READY');
    const run = await getRun(client, r0.run_id);
    expect(run.info.status).toBe('FINISHED');

    const r = await loadWithPython({
      model_uri: `models:/${name}@prod`,
      original_dir: original,
      snapshot_uri: null,
      logged_model_uri: `models:/${r0.model_id}`,
      experiment_id: r0.experiment_id,
      run_id: r0.run_id,
      prompt: PROMPT,
      max_new_tokens: 8,
      work_dir: path.join(work, 'py-copy'),
    });
    expect(r.transformers_flavor.trace ?? '').toBe('');
    expect(r.transformers_flavor.output_ids).toEqual(r.original.output_ids);
    expect(r.mlmodel_model_id).toBe(r0.model_id);
    // (MLflow 3.17's model-version API does not return model_id; the link is the logged model's
    // mlflow.modelVersions tag, checked above.)
    expect(r.run_output_model_ids).toEqual([r0.model_id]);
    expect(r.logged_models).toHaveLength(1);
    expect(r.logged_models[0].status).toMatch(/READY/);
    expect(r.logged_models[0].files.trace ?? '').toBe('');
    expect(r.logged_models[0].files).toEqual(expect.arrayContaining(['MLmodel', 'model/model.safetensors', 'model/tokenizer.json', 'components/tokenizer/tokenizer.json']));
    // load_model("models:/m-…") works and generates what the original does.
    expect(r.logged_model_flavor.trace ?? '').toBe('');
    expect(r.logged_model_flavor.output_ids).toEqual(r.original.output_ids);
  }, 600_000);
});
