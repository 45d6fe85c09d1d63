// `model-mirror models …` against the real bench: three versions of the fixture's tiny GPT-2
// mirrored from three commits (tag v1.0, main, refs/pr/1), then every subcommand as the platform
// team would use it, with the guards (an aliased version is never deleted, --if-current refuses a
// moved alias, unknown names exit 3 with a hint, dry runs change nothing, a shared prefix keeps its
// objects, a RUNNING run's prefix is never touched), the bytes in SeaweedFS before and after, the
// KServe output checked by the API server's CRD validation code against the pinned KServe CRD, and
// the resolved directory loaded with transformers (model and tokenizer).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import YAML from 'yaml';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion, searchModelVersions } from '../../steps/mlflow/registry';
import { getRun } from '../../steps/mlflow/runs';
import { createS3Client } from '../../steps/s3/client';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { CACHE_DIR, getPeers, type Peers, readTools } from '../peers/peers';
import { runCli as cli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const REPO = 'test/tiny-model';
const suffix = Date.now().toString(36);
const NAME = `models-tiny-${suffix}`;
const EXPERIMENT = `models-exp-${suffix}`;
const KSERVE_VERSION: string = require('../../versions.json').kserve;

let peers: Peers;
let hub: StartedHubFixture;
let work: string;
let client: MlflowClient;
let s3: S3Client;
const savedEnv = { ...process.env };
/** version -> the mirror's result (artifact_uri, commit_sha, …). */
const mirrored = new Map<string, Obj>();

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function keyOf(uri: string): string {
  return uri.replace(/^s3:\/\/[^/]+\//, '');
}

/** Objects and bytes under an s3:// prefix (or the whole bucket). */
/** `s3://bucket/artifacts/<experiment>/` of a run's artifact URI: byte counts stay within this
 * file's experiment, because other test files write into the same bucket at the same time. */
function experimentRootOf(artifactUri: string): string {
  return `${artifactUri.split('/').slice(0, -2).join('/')}/`;
}

async function usage(uri?: string): Promise<{ objects: number; bytes: number; keys: string[] }> {
  const prefix = uri ? keyOf(uri).replace(/\/?$/, '/') : '';
  const keys: string[] = [];
  let bytes = 0;
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) { keys.push(o.Key!); bytes += Number(o.Size ?? 0); }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { objects: keys.length, bytes, keys };
}

async function versionsOf(name = NAME): Promise<string[]> {
  return (await searchModelVersions(client, `name='${name}'`)).map((v) => v.version).sort();
}

/** The fixture's files at a commit: path -> {sha256, size}. */
function filesAt(commit: string): Map<string, { sha256: string; size: number }> {
  const c = hub.repos.get(REPO)!.commits.get(commit)!;
  return new Map([...c.files.values()].map((f) => [f.path, { sha256: f.sha256, size: f.size }]));
}

async function mirror(revision: string, extra: string[] = []): Promise<Obj> {
  const res = await cli(['mirror', REPO, '--revision', revision, '--experiment', EXPERIMENT, '--model-name', NAME,
    '--work-dir', path.join(work, `dl-${revision.replace(/\W+/g, '-')}`), ...extra]);
  if (res.code !== 0) throw new Error(`mirror ${revision} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  const out = res.json[0] as Obj;
  mirrored.set(out.version, out);
  return out;
}

// The human output is a table on a terminal: pin the plain form the assertions read, whoever runs jest.
const stdoutTTY = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');

beforeAll(async () => {
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true, writable: true });
  peers = getPeers();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-models-'));
  hub = await startHubFixture();
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_PROFILE', 'HF_TOKEN', 'HF_TOKEN_PATH']) delete process.env[k];
  Object.assign(process.env, stepEnv(peers), { HF_ENDPOINT: hub.url });
  client = new MlflowClient({ url: peers.mlflow.url });
  s3 = createS3Client({ endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true, credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey } });
  // Three commits of the same repo: three versions.
  expect((await mirror('v1.0', ['--alias', 'prod'])).version).toBe('1');
  expect((await mirror('main', ['--alias', 'staging'])).version).toBe('2');
  expect((await mirror('refs/pr/1')).version).toBe('3');
}, 600_000);

afterAll(async () => {
  if (stdoutTTY) Object.defineProperty(process.stdout, 'isTTY', stdoutTTY);
  else delete (process.stdout as { isTTY?: boolean }).isTTY;
  s3?.destroy();
  await hub?.close();
  process.env = savedEnv;
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('reading', () => {
  it('list: the mirrored model, its versions with aliases, repo@commit, size and date; --filter narrows', async () => {
    const res = await cli(['models', 'list', '--json']);
    expect(res.code).toBe(0);
    const model = (res.json[0].models as Obj[]).find((m) => m.name === NAME)!;
    expect(model).toMatchObject({ name: NAME, source_repo: REPO, aliases: { prod: '1', staging: '2' } });
    expect(model.versions.map((v: Obj) => v.version)).toEqual(['1', '2', '3']);
    const repo = hub.repos.get(REPO)!;
    const commits = [repo.tags['v1.0'], repo.branches.main, repo.otherRefs['refs/pr/1']];
    for (const [i, v] of (model.versions as Obj[]).entries()) {
      expect(v.commit_sha).toBe(commits[i]);
      expect(v.source_repo).toBe(REPO);
      const files = filesAt(commits[i]);
      expect(v.total_bytes).toBe([...files.values()].reduce((s, f) => s + f.size, 0));
      expect(Date.parse(v.created)).toBeGreaterThan(Date.now() - 3_600_000);
      expect(v.storage_uri).toBe(`${mirrored.get(v.version)!.artifact_uri}/model/model/`);
    }
    expect(model.versions[0].aliases).toEqual(['prod']);
    // The plain form (stdout is not a terminal here) names the same things.
    const plain = await cli(['models', 'list', '--filter', `TINY-${suffix}`]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^MODEL\s+VERSION\s+ALIASES\s+SOURCE\s+SIZE\s+CREATED\s+STATUS$/m);
    expect(plain.stdout).toMatch(new RegExp(`^${NAME}\\s+1\\s+prod\\s+${REPO}@${commits[0].slice(0, 12)}\\s`, 'm'));
    const none = await cli(['models', 'list', '--json', '--filter', `no-such-${suffix}`]);
    expect(none.json[0]).toEqual({ models: [] });
  });

  it('show: files with size and sha256 (the manifest stored with the version), repo, commit, run, S3 location, tags', async () => {
    const res = await cli(['models', 'show', `${NAME}@prod`, '--json']);
    expect(res.code).toBe(0);
    const v = res.json[0] as Obj;
    const commit = hub.repos.get(REPO)!.tags['v1.0'];
    expect(v).toMatchObject({ name: NAME, version: '1', source_repo: REPO, commit_sha: commit, requested_revision: 'v1.0', run_id: mirrored.get('1')!.run_id });
    expect(v.source).toBe(`${mirrored.get('1')!.artifact_uri}/model`);
    const want = filesAt(commit);
    expect(Object.fromEntries((v.files as Obj[]).map((f) => [f.path, { sha256: f.sha256, size: f.size }]))).toEqual(Object.fromEntries(want));
    expect(v.tags['model_mirror.commit_sha']).toBe(commit);
    // A bare name shows the newest version; NAME/VERSION that one.
    expect((await cli(['models', 'show', NAME, '--json'])).json[0]).toMatchObject({ version: '3' });
    const human = await cli(['models', 'show', `${NAME}/2`]);
    expect(human.stdout).toMatch(/^Hub repo:\s+test\/tiny-model$/m);
    expect(human.stdout).toMatch(new RegExp(`^config\\.json\\s+\\d+\\s+${filesAt(hub.repos.get(REPO)!.branches.main).get('config.json')!.sha256}$`, 'm'));
  });

  it.each([
    ['an unknown model', ['models', 'show', `no-such-${suffix}`], /No registered model/, /models list/],
    ['an unknown alias', ['models', 'resolve', `${NAME}@nope`], /has no alias 'nope'/, /prod \(version 1\)/],
    ['an unknown version', ['models', 'show', `${NAME}/99`], /has no version 99/, /1, 2, 3/],
    ['an unknown model to promote', ['models', 'promote', `no-such-${suffix}`, '1', '--alias', 'prod'], /No registered model/, /models list/],
    ['an unknown version to promote', ['models', 'promote', NAME, '42', '--alias', 'prod'], /has no version 42/, /1, 2, 3/],
  ] as Array<[string, string[], RegExp, RegExp]>)('%s exits 3 with a hint', async (_label, argv, message, hint) => {
    const res = await cli(argv);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(message);
    expect(res.stderr).toMatch(hint);
    expect(res.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('compare: commits, files added/removed/changed by sha256, size delta', async () => {
    const res = await cli(['models', 'compare', NAME, '1', '2', '--json']);
    expect(res.code).toBe(0);
    const c = res.json[0] as Obj;
    const repo = hub.repos.get(REPO)!;
    const [a, b] = [filesAt(repo.tags['v1.0']), filesAt(repo.branches.main)];
    expect(c.from).toMatchObject({ version: '1', commit_sha: repo.tags['v1.0'] });
    expect(c.to).toMatchObject({ version: '2', commit_sha: repo.branches.main });
    expect(c.added.map((f: Obj) => f.path)).toEqual([...b.keys()].filter((p) => !a.has(p)).sort());
    expect(c.removed.map((f: Obj) => f.path)).toEqual([...a.keys()].filter((p) => !b.has(p)).sort());
    expect(c.changed.map((f: Obj) => f.path)).toEqual([...b.keys()].filter((p) => a.has(p) && a.get(p)!.sha256 !== b.get(p)!.sha256).sort());
    expect(c.changed.map((f: Obj) => f.path)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    const total = (m: Map<string, { size: number }>) => [...m.values()].reduce((s, f) => s + f.size, 0);
    expect(c.size_delta).toBe(total(b) - total(a));
    // refs/pr/1 only adds a file; an alias works in place of a number.
    const c23 = (await cli(['models', 'compare', NAME, 'staging', '3', '--json'])).json[0] as Obj;
    expect(c23.added.map((f: Obj) => f.path)).toEqual(['extra/notes.md']);
    expect(c23.removed).toEqual([]);
    expect(c23.changed).toEqual([]);
  });
});

describe('promote', () => {
  it('moves the alias and says who held it; --if-current refuses (exit 8) once the alias moved', async () => {
    const moved = await cli(['models', 'promote', NAME, '2', '--alias', 'prod', '--if-current', '1', '--json']);
    expect(moved.code).toBe(0);
    expect(moved.json[0]).toEqual({ model: NAME, alias: 'prod', version: '2', previous: '1', changed: true });
    expect((await getModelVersion(client, NAME, '2')).aliases).toEqual(expect.arrayContaining(['prod', 'staging']));
    // Automation that still believes prod is at 1 must not move it.
    const stale = await cli(['models', 'promote', NAME, '3', '--alias', 'prod', '--if-current', '1']);
    expect(stale.code).toBe(8);
    expect(stale.stderr).toMatch(/at version 2, not at version 1/);
    expect((await getModelVersion(client, NAME, '2')).aliases).toContain('prod');
    expect((await getModelVersion(client, NAME, '3')).aliases ?? []).not.toContain('prod');
    // A new alias: --if-current none; the human form names the previous holder.
    const fresh = await cli(['models', 'promote', NAME, '3', '--alias', 'canary', '--if-current', 'none']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toBe(`${NAME}@canary: version (unset) -> 3\n`);
    const again = await cli(['models', 'promote', NAME, '3', '--alias', 'canary', '--if-current', 'none']);
    expect(again.code).toBe(8);
  });
});

describe('resolve', () => {
  it('prints the serving directory URI, and MODEL_* variables with --format env', async () => {
    const res = await cli(['models', 'resolve', `${NAME}@prod`]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${mirrored.get('2')!.artifact_uri}/model/model/\n`);
    const env = await cli(['models', 'resolve', `${NAME}/1`, '--format', 'env']);
    expect(env.stdout).toContain(`MODEL_STORAGE_URI=${mirrored.get('1')!.artifact_uri}/model/model/\n`);
    expect(env.stdout).toContain(`MODEL_VERSION=1\n`);
    expect(env.stdout).toContain(`MODEL_COMMIT_SHA=${hub.repos.get(REPO)!.tags['v1.0']}\n`);
    const sh = spawnSync('sh', ['-c', `${env.stdout}\necho "$MODEL_NAME|$MODEL_SOURCE_REPO"`], { encoding: 'utf8' });
    expect(sh.stdout.trim()).toBe(`${NAME}|${REPO}`);
  });

  it('the resolved directory loads with transformers from_pretrained: model and tokenizer', async () => {
    const uri = (await cli(['models', 'resolve', `${NAME}@prod`])).stdout.trim();
    const dir = path.join(work, 'resolved');
    const { keys } = await usage(uri);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const rel = key.slice(keyOf(uri).length);
      const body = await s3.send(new GetObjectCommand({ Bucket: peers.s3.bucket, Key: key }));
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(path.join(dir, rel), Buffer.from(await body.Body!.transformToByteArray()));
    }
    // The downloaded directory is the Hub snapshot at main, byte for byte.
    const want = filesAt(hub.repos.get(REPO)!.branches.main);
    const got = new Map<string, string>();
    for (const key of keys) got.set(key.slice(keyOf(uri).length), sha256(await fs.readFile(path.join(dir, key.slice(keyOf(uri).length)))));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries([...want].map(([p, f]) => [p, f.sha256])));
    const py = readTools().mlPython;
    if (!py) throw new Error('tools.json has no mlPython: run bash test/peers/install.sh (install.d/ml-venv.sh)');
    const script = [
      'import json, sys, torch, transformers',
      'd = sys.argv[1]',
      'tok = transformers.AutoTokenizer.from_pretrained(d)',
      'model = transformers.AutoModelForCausalLM.from_pretrained(d)',
      'ids = tok("the quick brown fox", return_tensors="pt")["input_ids"]',
      'out = model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.eos_token_id)',
      'print(json.dumps({"vocab": len(tok), "input": ids[0].tolist(), "output": out[0].tolist(), "arch": type(model).__name__}))',
    ].join('\n');
    const r = spawnSync(py, ['-c', script, dir], {
      encoding: 'utf8', timeout: 300_000,
      env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: work, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9', OMP_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' },
    });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Obj;
    // A real tokenizer (the empty one transformers builds for a directory without tokenizer files has 1 token).
    expect(out.vocab).toBe(1024);
    expect(out.input.length).toBeGreaterThan(1);
    expect(out.arch).toBe('GPT2LMHeadModel');
    expect(out.output.length).toBe(out.input.length + 4);
  }, 600_000);

  describe('--format kserve', () => {
    const crd = path.join(CACHE_DIR, 'kserve', KSERVE_VERSION, 'serving.kserve.io_inferenceservices.yaml');
    const validator = path.join(CACHE_DIR, 'bin', 'kserve-validate');

    function kserveValidate(file: string): { status: number | null; output: string } {
      if (!existsSync(validator) || !existsSync(crd)) throw new Error(`${validator} or ${crd} missing: run bash test/peers/install.sh (install.d/kserve-validate.sh)`);
      const r = spawnSync(validator, ['--crd', crd, file], { encoding: 'utf8', timeout: 120_000 });
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    }

    let docs: Obj[];
    let file: string;

    beforeAll(async () => {
      const res = await cli(['models', 'resolve', `${NAME}@prod`, '--format', 'kserve', '--namespace', 'serving']);
      expect(res.code).toBe(0);
      file = path.join(work, 'isvc.yaml');
      await fs.writeFile(file, res.stdout);
      docs = YAML.parseAllDocuments(res.stdout).map((d) => d.toJSON() as Obj);
    });

    it('passes the API server\'s validation against the KServe CRD (and the validator does reject a bad one)', async () => {
      const ok = kserveValidate(file);
      expect(ok.output).toMatch(/InferenceService "models-tiny-[\w-]+-v2": valid/);
      expect(ok.status).toBe(0);
      const bad = path.join(work, 'isvc-bad.yaml');
      const isvc = docs.find((d) => d.kind === 'InferenceService')!;
      await fs.writeFile(bad, YAML.stringify({ ...isvc, spec: { predictor: { ...isvc.spec.predictor, model: { ...isvc.spec.predictor.model, storageURI: 'x' } } } }));
      const rejected = kserveValidate(bad);
      expect(rejected.status).toBe(1);
      expect(rejected.output).toMatch(/unknown field "spec\.predictor\.model\.storageURI"/);
    });

    it('has the fields KServe reads: storageUri, the huggingface format, the ServiceAccount listing the annotated Secret', () => {
      expect(docs.map((d) => d.kind)).toEqual(['Secret', 'ServiceAccount', 'InferenceService']);
      const [secret, sa, isvc] = docs;
      const endpoint = new URL(peers.s3.endpoint);
      expect(isvc.spec.predictor.model.storageUri).toBe(`${mirrored.get('2')!.artifact_uri}/model/model/`);
      expect(isvc.spec.predictor.model.modelFormat).toEqual({ name: 'huggingface' });
      expect(isvc.spec.predictor.serviceAccountName).toBe(sa.metadata.name);
      expect(sa.secrets).toEqual([{ name: secret.metadata.name }]);
      for (const d of docs) expect(d.metadata.namespace).toBe('serving');
      // A non-AWS store: host:port without the scheme, and http.
      expect(secret.metadata.annotations['serving.kserve.io/s3-endpoint']).toBe(endpoint.host);
      expect(secret.metadata.annotations['serving.kserve.io/s3-usehttps']).toBe('0');
      expect(secret.metadata.annotations['serving.kserve.io/s3-region']).toBe(peers.s3.region);
      // The keys the default inferenceservice-config names; no secret in the output unless asked.
      expect(Object.keys(secret.stringData).sort()).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
      expect(JSON.stringify(docs)).not.toContain(peers.s3.secretAccessKey);
    });

    it('--with-credentials fills the Secret from the environment', async () => {
      const res = await cli(['models', 'resolve', `${NAME}/1`, '--format', 'kserve', '--with-credentials', '--name', 'tiny-one']);
      const [secret, , isvc] = YAML.parseAllDocuments(res.stdout).map((d) => d.toJSON() as Obj);
      expect(secret.stringData).toEqual({ AWS_ACCESS_KEY_ID: peers.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey });
      expect(isvc.metadata.name).toBe('tiny-one');
      expect(res.stderr).not.toContain(peers.s3.secretAccessKey);
    });
  });
});

describe('cleanup and delete', () => {
  it('an aliased version is never deleted (exit 8), and a dry run changes nothing', async () => {
    const before = await usage(experimentRootOf(mirrored.get('1')!.artifact_uri));
    const aliased = await cli(['models', 'delete', `${NAME}/2`, '--yes']);
    expect(aliased.code).toBe(8);
    expect(aliased.stderr).toMatch(/holds alias/);
    // Versions: 1 (no alias now), 2 (prod, staging), 3 (canary). Keep 1 newest: only 1 may go.
    const dry = await cli(['models', 'cleanup', NAME, '--keep', '1', '--json']);
    expect(dry.code).toBe(0);
    const plan = dry.json[0] as Obj;
    expect(plan.dry_run).toBe(true);
    expect(plan.remove.map((r: Obj) => r.version)).toEqual(['1']);
    expect(plan.skipped).toEqual([{ version: '2', reason: expect.stringMatching(/holds alias/) }]);
    const v1 = await usage(`${mirrored.get('1')!.artifact_uri}/`);
    expect(v1.objects).toBeGreaterThan(0);
    expect(plan.bytes).toBe(v1.bytes);
    expect(plan.remove[0].prefix).toBe(`${mirrored.get('1')!.artifact_uri}/`);
    const human = await cli(['models', 'delete', `${NAME}/1`]);
    expect(human.stdout).toMatch(new RegExp(`^Dry run: would delete 1 version\\(s\\) of '${NAME}' and ${v1.objects} objects, ${v1.bytes} bytes`, 'm'));
    const after = await usage(experimentRootOf(mirrored.get('1')!.artifact_uri));
    expect(after).toEqual(before);
    expect(await versionsOf()).toEqual(['1', '2', '3']);
  });

  it('cleanup --keep 1 --yes deletes version 1, then its objects; the others keep theirs', async () => {
    const before = await usage(experimentRootOf(mirrored.get('1')!.artifact_uri));
    const v1 = await usage(`${mirrored.get('1')!.artifact_uri}/`);
    const v2 = await usage(`${mirrored.get('2')!.artifact_uri}/`);
    const res = await cli(['models', 'cleanup', NAME, '--keep', '1', '--yes', '--json']);
    expect(res.code).toBe(0);
    expect(res.json[0]).toMatchObject({ dry_run: false, bytes_deleted: v1.bytes, removed: [{ version: '1', objects_deleted: v1.objects }] });
    expect(await versionsOf()).toEqual(['2', '3']);
    expect((await usage(`${mirrored.get('1')!.artifact_uri}/`)).objects).toBe(0);
    expect(await usage(`${mirrored.get('2')!.artifact_uri}/`)).toEqual(v2);
    const after = await usage(experimentRootOf(mirrored.get('1')!.artifact_uri));
    expect(before.bytes - after.bytes).toBe(v1.bytes);
    expect(before.objects - after.objects).toBe(v1.objects);
  });

  it('a prefix another version points into keeps its objects until the last version using it goes', async () => {
    const v3 = await getModelVersion(client, NAME, '3');
    // A second version on version 3's files (as a reused or adopted source would be).
    const created = await client.post<{ model_version: Obj }>('/api/2.0/mlflow/model-versions/create', { name: NAME, source: v3.source, run_id: v3.run_id });
    const v4 = created.model_version.version as string;
    const prefix = `${mirrored.get('3')!.artifact_uri}/`;
    const objects = await usage(prefix);
    await cli(['models', 'promote', NAME, v4, '--alias', 'canary']); // frees version 3
    const del3 = await cli(['models', 'delete', `${NAME}/3`, '--yes', '--json']);
    expect(del3.code).toBe(0);
    expect(del3.json[0]).toMatchObject({ removed: [{ version: '3', objects_deleted: 0, objects_kept_for: [`${NAME}/${v4}`] }], bytes_deleted: 0 });
    expect(await usage(prefix)).toEqual(objects);
    // Now the last user goes: the objects go with it.
    await cli(['models', 'promote', NAME, '2', '--alias', 'canary']);
    const del4 = await cli(['models', 'delete', `${NAME}/${v4}`, '--yes', '--json']);
    expect(del4.code).toBe(0);
    expect((del4.json[0] as Obj).bytes_deleted).toBe(objects.bytes);
    expect((await usage(prefix)).objects).toBe(0);
    expect(await versionsOf()).toEqual(['2']);
  });

  it('--orphans finds prefixes no version uses, never a RUNNING run\'s, and deletes them with --yes', async () => {
    // A run that is still RUNNING (a mirror uploading right now) with objects under its prefix.
    const prep = await cli(['prepare', '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', NAME, '--allow-patterns', 'config.json']);
    expect(prep.code).toBe(0);
    const runId = (prep.json[0] as Obj).run_id as string;
    const artifactUri = (await getRun(client, runId)).info.artifact_uri;
    const partial = Buffer.alloc(4096, 7);
    await s3.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: `${keyOf(artifactUri)}/model/model/config.json`, Body: partial }));
    const running = await cli(['models', 'cleanup', NAME, '--orphans', '--json']);
    expect(running.code).toBe(0);
    expect((running.json[0] as Obj).orphans.map((o: Obj) => o.run_id)).not.toContain(runId);
    expect((running.json[0] as Obj).skipped).toEqual([{ run_id: runId, reason: 'run is RUNNING' }]);
    expect((await cli(['models', 'cleanup', NAME, '--orphans', '--yes'])).code).toBe(0);
    expect((await usage(`${artifactUri}/`)).objects).toBe(1);

    // Once that mirror failed, its prefix is an orphan.
    expect((await cli(['finalize', '--run-id', runId, '--workflow-status', 'Failed'])).code).toBe(0);
    const keep = await usage(`${mirrored.get('2')!.artifact_uri}/`);
    const experimentRoot = experimentRootOf(artifactUri);
    const bucketBefore = await usage(experimentRoot);
    const dry = await cli(['models', 'cleanup', NAME, '--orphans', '--json']);
    const plan = dry.json[0] as Obj;
    expect(plan.orphans).toEqual([{ run_id: runId, run_status: 'FAILED', prefix: `${artifactUri}/`, objects: 1, bytes: partial.length, open_uploads: 0 }]);
    expect(await usage(experimentRoot)).toEqual(bucketBefore);
    const res = await cli(['models', 'cleanup', NAME, '--orphans', '--yes', '--json']);
    expect(res.code).toBe(0);
    expect((res.json[0] as Obj).bytes_deleted).toBe(partial.length);
    expect((await usage(`${artifactUri}/`)).objects).toBe(0);
    // The version still registered keeps every object.
    expect(await usage(`${mirrored.get('2')!.artifact_uri}/`)).toEqual(keep);
    expect(bucketBefore.bytes - (await usage(experimentRoot)).bytes).toBe(partial.length);
  });
  it('when S3 refuses the object delete, the version is gone, the error names the prefix left, and --orphans removes it later', async () => {
    const partial = await mirror('main', ['--allow-patterns', 'config.json']);
    const prefix = `${partial.artifact_uri}/`;
    const objects = await usage(prefix);
    expect(objects.objects).toBeGreaterThan(0);
    // The read-only identity can list (the plan) but not delete.
    const refused = await cli(['models', 'delete', `${NAME}/${partial.version}`, '--yes'], {
      AWS_ACCESS_KEY_ID: peers.s3.readOnlyAccessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.readOnlySecretAccessKey,
    });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`Deleting ${prefix} stopped after 0 of ${objects.objects} objects`);
    expect(refused.stderr).toMatch(/cleanup <name> --orphans --yes/);
    expect(refused.stderr).not.toMatch(/internal error|\n\s+at /);
    // The registry never points at missing files: the version went first, the objects are all there.
    expect(await versionsOf()).toEqual(['2']);
    expect(await usage(prefix)).toEqual(objects);
    const orphans = await cli(['models', 'cleanup', NAME, '--orphans', '--yes', '--json']);
    expect(orphans.code).toBe(0);
    expect((orphans.json[0] as Obj).deleted.map((o: Obj) => o.prefix)).toEqual([prefix]);
    expect((orphans.json[0] as Obj).bytes_deleted).toBe(objects.bytes);
    expect((await usage(prefix)).objects).toBe(0);
  });
  it('a version whose run is still RUNNING is never deleted; two versions on one prefix go in one cleanup, the objects with the last', async () => {
    const prep = await cli(['prepare', '--model-id', REPO, '--experiment', EXPERIMENT, '--model-name', NAME, '--allow-patterns', 'generation_config.json']);
    expect(prep.code).toBe(0);
    const runId = (prep.json[0] as Obj).run_id as string;
    const artifactUri = (await getRun(client, runId)).info.artifact_uri;
    await s3.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: `${keyOf(artifactUri)}/model/model/generation_config.json`, Body: Buffer.alloc(100, 1) }));
    const create = async () => (await client.post<{ model_version: Obj }>('/api/2.0/mlflow/model-versions/create', { name: NAME, source: `${artifactUri}/model`, run_id: runId })).model_version.version as string;
    const [a, b] = [await create(), await create()];
    const refused = await cli(['models', 'delete', `${NAME}/${a}`, '--yes']);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toMatch(/RUNNING/);
    const dry = (await cli(['models', 'cleanup', NAME, '--keep', '0', '--json'])).json[0] as Obj;
    expect(dry.remove).toEqual([]);
    expect(dry.skipped.map((x: Obj) => x.version)).toEqual(['2', a, b]);
    expect(dry.skipped[1].reason).toBe(`its run ${runId} is RUNNING`);
    expect((await usage(`${artifactUri}/`)).objects).toBe(1);

    // The run ends (FINISHED: `finalize` of a failed run would delete its versions itself).
    await client.post('/api/2.0/mlflow/runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
    const res = await cli(['models', 'cleanup', NAME, '--keep', '0', '--yes', '--json']);
    expect(res.code).toBe(0);
    expect((res.json[0] as Obj).removed).toEqual([
      { version: a, objects_deleted: 0, bytes_deleted: 0, prefix: `${artifactUri}/`, objects_kept_for: [`${NAME}/${b}`] },
      { version: b, objects_deleted: 1, bytes_deleted: 100, prefix: `${artifactUri}/` },
    ]);
    expect(await versionsOf()).toEqual(['2']);
    expect((await usage(`${artifactUri}/`)).objects).toBe(0);
  });
});
