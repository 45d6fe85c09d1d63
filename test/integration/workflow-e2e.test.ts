// `argo submit --from workflowtemplate/model-mirror`, end to end, on this machine: the template
// is SYNTHESIZED here (cdk8s, main.ts) with a config pointing at the bench, and run by the local
// Argo runner (test/argo-runner) with the CLI bundle of the current source. Peers are real: the Hub
// fixture, MLflow (PostgreSQL backend, --no-serve-artifacts) and SeaweedFS S3.
//
// What stands in for the cluster:
// - Secrets: test values for exactly the secretKeyRefs the template has (S3 keys of the bench,
//   the fixture's Hub token); an unknown reference fails the test instead of getting a dummy.
// - ConfigMaps: the synthesized ConfigMap objects themselves (S3 endpoint/region from the config).
// - DNS: the template reaches MLflow through its in-cluster Service URL
//   (http://mlflow.<ns>.svc.<domain>:<mlflow.port>), which the config cannot point elsewhere. The
//   config sets mlflow.port to the bench's port and the test only swaps the host name for 127.0.0.1
//   (runner `env`, applied last) - what cluster DNS does for a pod. Nothing else is overridden.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runWorkflowTemplate, type NodeResult, type RunOptions, type RunResult, type StepInfo } from '../argo-runner';
import { REPO_ROOT, dummyStoresFor, synthesize } from '../argo-runner/synth';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, type Peers } from '../peers/peers';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const MODEL = 'test/tiny-model';
const LFS_FILE = 'model.safetensors';
const suffix = Date.now().toString(36);

let peers: Peers;
let hub: StartedHubFixture;
let tmp: string;
let bundle: string;
let wft: Obj;
let boundedWft: Obj;
let configMaps: Record<string, Record<string, string>>;
let secrets: Record<string, Record<string, string>>;
let mlflowEnv: Record<string, string>;
const results: RunResult[] = [];

// --- MLflow REST (raw, no product code in the assertions) --------------------------------------

async function mlflow<T = Obj>(method: 'GET' | 'POST', route: string, params: Record<string, string> = {}): Promise<T> {
  const url = new URL(`/api/2.0/mlflow/${route}`, peers.mlflow.url);
  let body: string | undefined;
  if (method === 'GET') for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  else body = JSON.stringify(params);
  const res = await fetch(url, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
  const text = await res.text();
  if (!res.ok) throw new Error(`MLflow ${method} ${route} -> ${res.status}: ${text}`);
  return JSON.parse(text || '{}') as T;
}

async function listArtifacts(runId: string, p?: string): Promise<Map<string, { is_dir: boolean; file_size?: string }>> {
  const r = await mlflow<{ files?: { path: string; is_dir: boolean; file_size?: string }[] }>('GET', 'artifacts/list', p ? { run_id: runId, path: p } : { run_id: runId });
  return new Map((r.files ?? []).map((f) => [f.path, f]));
}

async function versionsOf(name: string): Promise<Obj[]> {
  const r = await mlflow<{ model_versions?: Obj[] }>('GET', 'model-versions/search', { filter: `name='${name}'` });
  return r.model_versions ?? [];
}

const tagsOf = (run: Obj): Record<string, string> => Object.fromEntries((run.data?.tags ?? []).map((t: Obj) => [t.key, t.value]));

// --- runner helpers ---------------------------------------------------------------------------

function submit(parameters: Record<string, string>, extra: Partial<RunOptions> = {}, template: Obj = wft): Promise<RunResult> {
  return runWorkflowTemplate(template, {
    bundle,
    parameters,
    secrets,
    configMaps,
    env: mlflowEnv,
    workDir: fs.mkdtempSync(path.join(tmp, 'wf-')),
    timeoutMs: 240_000,
    ...extra,
  }).then((r) => { results.push(r); return r; });
}

const node = (r: RunResult, step: string): NodeResult => {
  const n = r.nodes.find((x) => x.displayName === step);
  if (!n) throw new Error(`no node ${step} in ${r.nodes.map((x) => x.displayName).join(', ')}`);
  return n;
};

/** Both Argo-quoted layers of {{workflow.failures}} removed. */
const decodeFailures = (raw: string): Obj[] | null => {
  const once = JSON.parse(raw);
  return typeof once === 'string' ? JSON.parse(once) : once;
};

// --- an S3 tap: a pass-through proxy in front of SeaweedFS that records object PUTs and can stall
// all traffic after the N-th completed PUT (to kill a step at a known point, not at a time). ------

interface PutRecord { readonly key: string; readonly status: number; readonly phase: string }

class S3Tap {
  readonly puts: PutRecord[] = [];
  phase = 'idle';
  private server!: http.Server;
  private readonly target: URL;
  private stallAfter?: number;
  private completed = 0;
  private stalling = false;
  private trip?: () => void;
  private readonly held: http.ServerResponse[] = [];
  private readonly inflight = new Set<http.ClientRequest>();

  constructor(endpoint: string, private readonly bucket: string) {
    this.target = new URL(endpoint);
  }

  get url(): string {
    const a = this.server.address() as { port: number };
    return `http://127.0.0.1:${a.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }

  /** From now on, once `n` object PUTs have completed (2xx), hold every further request unanswered. Resolves then. */
  stallAfterPuts(n: number, phase: string): Promise<void> {
    this.phase = phase;
    this.stallAfter = n;
    this.completed = 0;
    return new Promise((r) => { this.trip = r; });
  }

  passThrough(phase: string): void {
    this.phase = phase;
    this.stallAfter = undefined;
    this.stalling = false;
    for (const res of this.held.splice(0)) res.destroy();
  }

  /** Resolves once no request is in flight to SeaweedFS (those of a killed client included). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  putsIn(phase: string): string[] {
    return this.puts.filter((p) => p.phase === phase && p.status >= 200 && p.status < 300).map((p) => p.key);
  }

  async close(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.stalling) {
      this.held.push(res);
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const objectPut = req.method === 'PUT' && !u.searchParams.has('uploadId') && u.pathname.startsWith(`/${this.bucket}/`);
    const phase = this.phase;
    const up = http.request({
      hostname: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers,
    }, (ur) => {
      if (objectPut) {
        const key = decodeURIComponent(u.pathname.slice(this.bucket.length + 2));
        const status = ur.statusCode ?? 0;
        this.puts.push({ key, status, phase });
        if (status >= 200 && status < 300 && this.stallAfter !== undefined && ++this.completed >= this.stallAfter) {
          this.stalling = true;
          this.trip?.();
        }
      }
      if (res.destroyed) {
        ur.resume(); // the client is gone (killed); drain the answer
        return;
      }
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    this.inflight.add(up);
    up.on('close', () => this.inflight.delete(up));
    up.on('error', () => res.destroy());
    // Like a TCP peer that dies: a request whose body was not fully sent is cut off (S3 then
    // creates nothing); one whose body was fully sent is finished by S3 regardless, so it is let
    // complete here too, and is recorded - `settled()` waits for it.
    let bodyDone = false;
    req.on('end', () => { bodyDone = true; });
    const clientGone = () => { if (!bodyDone) up.destroy(); };
    req.on('aborted', clientGone);
    res.on('close', () => { if (!res.writableFinished) clientGone(); });
    req.pipe(up);
  }
}

// --- setup ------------------------------------------------------------------------------------

beforeAll(async () => {
  peers = getPeers();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-wf-e2e-'));
  hub = await startHubFixture();

  // The CLI bundle of the current source (never a stale dist-cli/), built once.
  bundle = path.join(tmp, 'cli', 'model-mirror.js');
  const b = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle, '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (b.status !== 0) throw new Error(`bundle failed (exit ${b.status}):\n${b.stdout}\n${b.stderr}`);

  // Synthesize with a config pointing at the bench.
  const mlflowUrl = new URL(peers.mlflow.url);
  const artifactRoot = /^s3:\/\/([^/]+)\/(.+?)\/?$/.exec(peers.mlflow.artifactRoot);
  if (!artifactRoot || artifactRoot[1] !== peers.s3.bucket) throw new Error(`unexpected bench artifact root ${peers.mlflow.artifactRoot}`);
  const config = {
    namespace: 'model-mirror',
    s3: { endpoint: peers.s3.endpoint, bucket: peers.s3.bucket, artifactPrefix: artifactRoot[2], region: peers.s3.region },
    mlflow: { port: Number(mlflowUrl.port) },
    workflow: { hfEndpoint: hub.url, hfToken: { existingSecret: 'model-mirror-hf-token', key: 'HF_TOKEN', required: false } },
  };
  const configFile = path.join(tmp, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const synthWith = (file: string) => synthesize({
    env: {
      MODEL_MIRROR_CONFIG: file, MODEL_MIRROR_SET: undefined,
      MODEL_MIRROR_S3_ACCESS_KEY_ID: undefined, MODEL_MIRROR_S3_SECRET_ACCESS_KEY: undefined, MODEL_MIRROR_HF_TOKEN: undefined,
    },
  });
  const synth = synthWith(configFile);
  const wfts = synth.workflowTemplates.filter((t) => t.metadata?.name === 'model-mirror');
  expect(wfts).toHaveLength(1);
  wft = wfts[0];
  // The same config with a bounded scratch volume (workflow.scratch), for test 4.
  const boundedFile = path.join(tmp, 'config-bounded.json');
  fs.writeFileSync(boundedFile, JSON.stringify({ ...config, workflow: { ...config.workflow, scratch: { bounded: true, size: '1Gi' } } }));
  boundedWft = synthWith(boundedFile).workflowTemplates.find((t) => t.metadata?.name === 'model-mirror')!;

  // ConfigMaps: the synthesized objects. Secrets: test values for exactly what the template references.
  const refs = dummyStoresFor(wft);
  configMaps = {};
  for (const name of Object.keys(refs.configMaps)) {
    const cm = synth.documents.find((d) => d.kind === 'ConfigMap' && d.metadata?.name === name);
    if (!cm) throw new Error(`the template references ConfigMap ${name}, which synth did not emit`);
    configMaps[name] = cm.data;
  }
  expect(configMaps['model-mirror-s3-endpoint']).toMatchObject({ AWS_ENDPOINT_URL_S3: peers.s3.endpoint, AWS_REGION: peers.s3.region });
  const values: Record<string, Record<string, string>> = {
    'model-mirror-s3': { AWS_ACCESS_KEY_ID: peers.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey },
    'model-mirror-hf-token': { HF_TOKEN: hub.token },
  };
  secrets = {};
  for (const [name, keys] of Object.entries(refs.secrets)) {
    secrets[name] = {};
    for (const key of Object.keys(keys)) {
      const v = values[name]?.[key];
      if (v === undefined) throw new Error(`the template references Secret ${name} key ${key}: give this test a value for it`);
      secrets[name][key] = v;
    }
  }

  // Every container has the in-cluster tracking URI and the configured Hub endpoint.
  const containers = wft.spec.templates.filter((t: Obj) => t.container);
  const envValue = (t: Obj, n: string) => t.container.env.find((e: Obj) => e.name === n)?.value;
  const inCluster = `http://mlflow.model-mirror.svc.cluster.local:${mlflowUrl.port}`;
  for (const t of containers) {
    expect([t.name, envValue(t, 'MLFLOW_TRACKING_URI')]).toEqual([t.name, inCluster]);
    expect([t.name, envValue(t, 'HF_ENDPOINT')]).toEqual([t.name, hub.url]);
  }
  mlflowEnv = { MLFLOW_TRACKING_URI: inCluster.replace('mlflow.model-mirror.svc.cluster.local', mlflowUrl.hostname) };
}, 300_000);

afterAll(async () => {
  await hub?.close();
  for (const r of results) r.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// --- 1. success ---------------------------------------------------------------------------------

it('succeeds: READY version with alias prod, FINISHED run, artifacts in the mlflow.transformers layout, exit handler saw Succeeded', async () => {
  const modelName = `wf-ok-${suffix}`;
  const r = await submit({ model_id: MODEL, alias: 'prod', model_name: modelName, experiment: `wf-e2e-${suffix}` });

  expect(r.status).toBe('Succeeded');
  expect(r.nodes.map((n) => [n.displayName, n.phase])).toEqual([
    ['prepare', 'Succeeded'], ['transfer', 'Succeeded'], ['register', 'Succeeded'], ['verify', 'Succeeded'],
    ['verify-existing', 'Skipped'],
  ]);
  expect(node(r, 'prepare').outputs.reused).toBe('false');
  // The transfer step's outputs are those of download and upload: the metrics read them.
  const written = JSON.parse(fs.readFileSync(path.join(r.volumes.work, 'model', 'mirror-manifest.json'), 'utf8'));
  expect(node(r, 'transfer').outputs).toMatchObject({
    total_bytes: String(written.totalBytes), commit_sha: written.commitSha, objects_skipped: '0', objects_uploaded: String(written.files.length + 1),
  });
  expect(Number(node(r, 'transfer').outputs.bytes_uploaded)).toBeGreaterThan(written.totalBytes);
  expect(Number(node(r, 'transfer').outputs.bytes_downloaded)).toBe(written.totalBytes);
  // The optional parameters were passed empty, as Argo does with their '' defaults.
  expect(node(r, 'prepare').attempts[0].args).toEqual(expect.arrayContaining(['--task', '']));
  expect(node(r, 'transfer').attempts[0].args).toEqual(expect.arrayContaining(['--allow-patterns', '', '--ignore-patterns', '']));
  expect(r.exitHandler).toBeDefined();
  expect(r.exitHandler!.workflowStatus).toBe('Succeeded');
  expect(decodeFailures(r.exitHandler!.workflowFailures)).toBeNull(); // Argo: "null", Go-quoted
  expect(r.exitHandler!.phase).toBe('Succeeded');
  expect(r.exitHandler!.nodes.map((n) => [n.displayName, n.phase])).toEqual([['finalize', 'Succeeded']]);

  const runId = node(r, 'prepare').outputs.run_id;
  const version = node(r, 'register').outputs.version;
  expect(runId).toMatch(/^[0-9a-f]{32}$/);
  expect(version).toBe('1');
  expect(node(r, 'register').outputs.model_uri).toBe(`models:/${modelName}/1`);
  // finalize got the real run id through the global output, not the literal tag.
  expect(r.exitHandler!.nodes[0].attempts[0].args).toEqual(expect.arrayContaining(['--run-id', runId, '--workflow-status', 'Succeeded', '--model-name', modelName]));

  const { run } = await mlflow<{ run: Obj }>('GET', 'runs/get', { run_id: runId });
  expect(run.info.status).toBe('FINISHED');
  expect(tagsOf(run)).toMatchObject({ 'model_mirror.workflow_status': 'Succeeded', 'model_mirror.source_repo': MODEL });
  expect(node(r, 'prepare').outputs.s3_destination).toBe(`${run.info.artifact_uri}/model`);

  const { model_version: mv } = await mlflow<{ model_version: Obj }>('GET', 'model-versions/get', { name: modelName, version });
  expect(mv.status).toBe('READY');
  expect(mv.run_id).toBe(runId);
  const { model_version: byAlias } = await mlflow<{ model_version: Obj }>('GET', 'registered-models/alias', { name: modelName, alias: 'prod' });
  expect(byAlias.version).toBe(version);

  const root = await listArtifacts(runId);
  expect(root.get('model')?.is_dir).toBe(true);
  const model = await listArtifacts(runId, 'model');
  for (const f of ['model/MLmodel', 'model/mirror-manifest.json', 'model/requirements.txt', 'model/python_env.yaml', 'model/conda.yaml']) {
    expect([f, model.get(f)?.is_dir]).toEqual([f, false]);
  }
  expect(model.get('model/model')?.is_dir).toBe(true);
  expect(model.get('model/components')?.is_dir).toBe(true);
  const weights = await listArtifacts(runId, 'model/model');
  expect(Number(weights.get('model/model/config.json')?.file_size)).toBe(hub.content(MODEL, 'config.json').length);
  expect(Number(weights.get(`model/model/${LFS_FILE}`)?.file_size)).toBe(hub.content(MODEL, LFS_FILE).length);
  const tokenizer = await listArtifacts(runId, 'model/components/tokenizer');
  expect(tokenizer.has('model/components/tokenizer/tokenizer.json')).toBe(true);
}, 300_000);

// --- 2. failure mid-way ----------------------------------------------------------------------

it('fails at once when an LFS file 404s (exit 3 is not retried): FAILED run with a failure reason, no version, exit handler saw Failed', async () => {
  const modelName = `wf-fail-${suffix}`;
  hub.faults.missing(MODEL, LFS_FILE, 1000);
  let r: RunResult;
  try {
    r = await submit({ model_id: MODEL, alias: 'prod', model_name: modelName, experiment: `wf-e2e-${suffix}` }, { reportFailures: false });
  } finally {
    hub.faults.reset();
  }

  expect(r.status).toBe('Failed');
  // prepare ran, transfer failed (on its download side), nothing after it ran.
  expect(r.nodes.map((n) => [n.displayName, n.phase])).toEqual([['prepare', 'Succeeded'], ['transfer', 'Failed']]);
  const dl = node(r, 'transfer');
  // A missing file is permanent: the retry expression stops after the first attempt.
  expect(dl.attempts.map((a) => [a.phase, a.exitCode])).toEqual([['Failed', 3]]);
  expect(dl.message).toBe('retryStrategy.expression evaluated to false');
  expect(dl.stderr).toMatch(new RegExp(LFS_FILE.replace('.', '\\.')));
  expect(dl.stderr).toMatch(/transfer failed on the download side/);
  expect(hub.requests.filter((q) => q.url.includes(LFS_FILE) && q.status === 404).length).toBeGreaterThanOrEqual(1);

  expect(r.exitHandler!.workflowStatus).toBe('Failed');
  expect(r.exitHandler!.phase).toBe('Succeeded');
  expect(decodeFailures(r.exitHandler!.workflowFailures)!.some((f) => f.displayName === 'transfer')).toBe(true);

  const runId = node(r, 'prepare').outputs.run_id;
  const { run } = await mlflow<{ run: Obj }>('GET', 'runs/get', { run_id: runId });
  expect(run.info.status).toBe('FAILED');
  const tags = tagsOf(run);
  expect(tags['model_mirror.workflow_status']).toBe('Failed');
  // A readable summary of {{workflow.failures}}, not the Go-quoted JSON.
  expect(tags['model_mirror.failure_reason']).toMatch(/^transfer(\(\d\))? \(Failed\): /);
  expect(tags['model_mirror.failure_reason']).not.toMatch(/^"|\\"/);

  expect(await versionsOf(modelName)).toEqual([]);
}, 300_000);

// --- 3. interrupted transfer --------------------------------------------------------------------
//
// Where idempotence lives in this product: `prepare` creates a NEW MLflow run per workflow, and the
// upload destination is that run's artifact_uri + /model, so a resubmitted workflow writes to a
// new, empty S3 prefix - there is nothing of the earlier workflow's upload it could skip (and it
// must not reuse another run's files). What CAN be resumed is the upload step's retry inside one
// workflow: every attempt gets the same s3_destination from prepare. So: attempt 1 of the transfer
// step (download and upload overlapped) is SIGKILLed (as an OOM-kill/eviction would) right after
// its 3rd object landed in S3; attempt 2 must skip exactly the objects that are complete and PUT
// only the others (its download side keeps the verified files on the PVC). Then a resubmission of the
// same model is shown to do what the product promises across workflows: the same commit is not
// registered twice (register reuses the READY version).

it('a transfer killed mid-way resumes on retry without re-sending finished objects; a resubmission reuses the READY version', async () => {
  const modelName = `wf-resume-${suffix}`;
  const tap = new S3Tap(peers.s3.endpoint, peers.s3.bucket);
  await tap.start();
  const s3 = new S3Client({
    endpoint: peers.s3.endpoint, region: peers.s3.region, forcePathStyle: true,
    credentials: { accessKeyId: peers.s3.accessKeyId, secretAccessKey: peers.s3.secretAccessKey },
  });
  const listKeys = async (prefix: string): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.set(o.Key!, o.Size ?? 0);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  };
  // The pods of this workflow reach S3 through the tap (what synth with s3.endpoint=<tap> emits).
  const tapped = Object.fromEntries(Object.entries(configMaps).map(([n, d]) => [n, Object.fromEntries(
    Object.entries(d).map(([k, v]) => [k, v === peers.s3.endpoint ? tap.url : v]),
  )]));
  const STALL_AFTER = 3;
  let prefix = '';
  let beforeRetry = new Map<string, number>();
  try {
    // Tap phases are `<step>-<attempt>`; the kill is tied to the 3rd completed PUT, not to a time
    // (afterMs is only a cap). Steps run one at a time here, so the phase is unambiguous.
    const onStep = async (s: StepInfo) => {
      if (s.step === 'transfer') {
        const dest = s.args[s.args.indexOf('--s3-destination') + 1];
        prefix = dest.replace(`s3://${peers.s3.bucket}/`, '') + '/';
        if (s.attempt === 0) return { kind: 'kill' as const, afterMs: 120_000, until: tap.stallAfterPuts(STALL_AFTER, 'transfer-0') };
        if (s.attempt === 1) {
          await tap.settled();
          beforeRetry = await listKeys(prefix);
        }
      }
      tap.passThrough(`${s.step}-${s.attempt}`);
      return undefined;
    };
    const r = await submit({ model_id: MODEL, model_name: modelName, experiment: `wf-e2e-${suffix}` }, { configMaps: tapped, onStep });

    expect(r.status).toBe('Succeeded');
    const up = node(r, 'transfer');
    expect(up.attempts.map((a) => [a.phase, a.exitCode, a.signal])).toEqual([['Failed', 137, 'SIGKILL'], ['Succeeded', 0, undefined]]);

    // What attempt 1 left: some complete objects (each verified by its size), not all, no manifest.
    const manifest = JSON.parse(fs.readFileSync(path.join(r.volumes.work, 'model', 'mirror-manifest.json'), 'utf8'));
    const files: { path: string; size: number }[] = manifest.files;
    // The upload's objects: everything under the prefix except what `register` wrote there later.
    const registerPuts = new Set(tap.putsIn('register-0'));
    expect(registerPuts.size).toBeGreaterThan(0); // MLmodel & co, through the tap
    const after = new Map([...(await listKeys(prefix))].filter(([k]) => !registerPuts.has(k)));
    const manifestKey = `${prefix}mirror-manifest.json`;
    expect(beforeRetry.size).toBeGreaterThanOrEqual(STALL_AFTER);
    expect(beforeRetry.size).toBeLessThan(files.length);
    expect(beforeRetry.has(manifestKey)).toBe(false);
    for (const [k, size] of beforeRetry) expect([k, after.get(k)]).toEqual([k, size]);
    expect(tap.putsIn('transfer-0').sort()).toEqual([...beforeRetry.keys()].sort());

    // Attempt 2 PUT exactly the rest (files not there + the manifest), none of the finished ones.
    const retryPuts = tap.putsIn('transfer-1');
    expect(retryPuts.filter((k) => beforeRetry.has(k))).toEqual([]);
    expect(new Set([...retryPuts, ...beforeRetry.keys()])).toEqual(new Set(after.keys()));
    expect(after.size).toBe(files.length + 1);
    const out = (n: string) => fs.readFileSync(path.join(r.volumes.work, 'outputs', 'transfer', n), 'utf8').trim();
    const skippedBytes = [...beforeRetry.values()].reduce((a, b) => a + b, 0);
    const totalBytes = [...after.values()].reduce((a, b) => a + b, 0); // files + manifest
    expect(Number(out('objects_skipped'))).toBe(beforeRetry.size);
    expect(Number(out('objects_uploaded'))).toBe(files.length + 1 - beforeRetry.size);
    expect(Number(out('bytes_uploaded'))).toBe(totalBytes - skippedBytes);

    const runId = node(r, 'prepare').outputs.run_id;
    const { run } = await mlflow<{ run: Obj }>('GET', 'runs/get', { run_id: runId });
    expect(run.info.status).toBe('FINISHED');
    const { model_version: mv } = await mlflow<{ model_version: Obj }>('GET', 'model-versions/get', { name: modelName, version: '1' });
    expect(mv.status).toBe('READY');
    expect(r.exitHandler!.workflowStatus).toBe('Succeeded');

    // Resubmission (new workflow, same model, commit and files): prepare finds version 1, the
    // transfer and register steps are skipped, verify-existing checks the version; 0 bytes from
    // the Hub, no new object under the experiment's artifact root (the test's own experiment:
    // other test files write to the same bucket meanwhile), no new run, no new version.
    const hubBefore = hub.bytesServed(MODEL);
    const experimentRoot = `${new URL(run.info.artifact_uri).pathname.slice(1).split('/').slice(0, -2).join('/')}/`;
    expect(experimentRoot).toMatch(new RegExp(`/${run.info.experiment_id}/$`));
    const bucketBefore = await listKeys(experimentRoot);
    expect(bucketBefore.size).toBeGreaterThan(0);
    const runsBefore = (await mlflow<{ runs?: Obj[] }>('POST', 'runs/search', { experiment_ids: [run.info.experiment_id] } as never)).runs ?? [];
    const again = await submit({ model_id: MODEL, model_name: modelName, experiment: `wf-e2e-${suffix}`, alias: 'resynced' });
    expect(again.status).toBe('Succeeded');
    expect(again.nodes.map((n) => [n.displayName, n.phase])).toEqual([
      ['prepare', 'Succeeded'], ['transfer', 'Skipped'], ['register', 'Skipped'], ['verify', 'Skipped'],
      ['verify-existing', 'Succeeded'],
    ]);
    expect(node(again, 'prepare').outputs).toMatchObject({ reused: 'true', version: '1', run_id: '' });
    expect(node(again, 'verify-existing').attempts[0].args).toEqual(expect.arrayContaining(['--version', '1']));
    expect(hub.bytesServed(MODEL) - hubBefore).toBe(0);
    expect(await listKeys(experimentRoot)).toEqual(bucketBefore);
    const runsAfter = (await mlflow<{ runs?: Obj[] }>('POST', 'runs/search', { experiment_ids: [run.info.experiment_id] } as never)).runs ?? [];
    expect(runsAfter.length).toBe(runsBefore.length);
    const versions = await versionsOf(modelName);
    expect(versions.map((v) => [v.version, v.status, v.run_id])).toEqual([['1', 'READY', runId]]);
    const { model_version: mv1 } = await mlflow<{ model_version: Obj }>('GET', 'model-versions/get', { name: modelName, version: '1' });
    expect(mv1.aliases).toEqual(expect.arrayContaining(['resynced']));
    expect(again.exitHandler!.workflowStatus).toBe('Succeeded');
  } finally {
    s3.destroy();
    await tap.close();
  }
}, 300_000);

// --- 4. bounded scratch -------------------------------------------------------------------------

it('workflow.scratch.bounded: the transfer step leaves only the manifest and the files register reads on the PVC; the version is READY and verified', async () => {
  const modelName = `wf-bounded-${suffix}`;
  const transfer = boundedWft.spec.templates.find((t: Obj) => t.name === 'transfer');
  expect(transfer.container.args).toContain('--bounded-scratch');
  expect(boundedWft.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
  const r = await submit({ model_id: MODEL, model_name: modelName, experiment: `wf-e2e-${suffix}` }, {}, boundedWft);
  expect(r.status).toBe('Succeeded');
  expect(r.nodes.map((n) => [n.displayName, n.phase])).toEqual([
    ['prepare', 'Succeeded'], ['transfer', 'Succeeded'], ['register', 'Succeeded'], ['verify', 'Succeeded'], ['verify-existing', 'Skipped'],
  ]);
  const modelDir = path.join(r.volumes.work, 'model');
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'mirror-manifest.json'), 'utf8'));
  expect(manifest.files.length).toBeGreaterThan(3);
  const left = fs.readdirSync(modelDir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(modelDir, f)).isFile()).sort();
  expect(left).toEqual(['config.json', 'mirror-manifest.json', 'tokenizer_config.json'].filter((f) => f === 'mirror-manifest.json' || manifest.files.some((m: Obj) => m.path === f)));
  expect(node(r, 'transfer').stderr + node(r, 'transfer').stdout).toMatch(/bounded scratch: at most \d+ files were on disk at once/);
  const { model_version: mv } = await mlflow<{ model_version: Obj }>('GET', 'model-versions/get', { name: modelName, version: node(r, 'register').outputs.version });
  expect(mv.status).toBe('READY');
  const weights = await listArtifacts(node(r, 'prepare').outputs.run_id, 'model/model');
  expect(Number(weights.get(`model/model/${LFS_FILE}`)?.file_size)).toBe(hub.content(MODEL, LFS_FILE).length);
  expect(r.exitHandler!.workflowStatus).toBe('Succeeded');
}, 300_000);
