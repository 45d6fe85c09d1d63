// The path rule the Hub check enforces (steps/hub/mlflow-paths.ts), checked against the real
// MLflow: which artifact paths its artifacts/list answers "Invalid path" for, and that what the
// rule lets through lists fine. Then `mirror` of such a repo fails in the Hub check, before any
// run exists. And `mirror --deadline` against a Hub whose file body stalls: exit 5 saying how far
// it got, the run FAILED with that reason, the .part kept in the work dir.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mlflowPathProblem } from '../../steps/hub/mlflow-paths';
import { getPeers, type Peers } from '../peers/peers';
import { runCli } from '../support/run-cli';
import { stepEnv } from '../support/step-env';

let peers: Peers;
const suffix = Date.now().toString(36);

async function mlflow(method: 'GET' | 'POST', endpoint: string, body?: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const url = new URL(`${peers.mlflow.url}${endpoint}`);
  if (method === 'GET' && body) for (const [k, v] of Object.entries(body)) url.searchParams.set(k, String(v));
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? JSON.stringify(body) : undefined });
  return { status: res.status, text: await res.text() };
}

beforeAll(() => {
  peers = getPeers();
});

it('MLflow 3.17 refuses to list exactly the artifact paths the Hub check refuses', async () => {
  const exp = JSON.parse((await mlflow('POST', '/api/2.0/mlflow/experiments/create', { name: `hostile-paths-${suffix}` })).text) as { experiment_id: string };
  const run = JSON.parse((await mlflow('POST', '/api/2.0/mlflow/runs/create', { experiment_id: exp.experiment_id })).text) as { run: { info: { run_id: string } } };
  const runId = run.run.info.run_id;
  const refused = ['model/model/a#b', 'model/model/a%23b', 'model/model/%2e%2e/x'];
  const listed = ['model/model/a b', 'model/model/a;b', 'model/model/100%', 'model/model/ünï', 'model/model/[x]:y'];
  for (const p of refused) {
    const r = await mlflow('GET', '/api/2.0/mlflow/artifacts/list', { run_id: runId, path: p });
    expect([p, r.status, r.text]).toEqual([p, 400, expect.stringContaining('Invalid path')]);
    expect(mlflowPathProblem(p)).toBeDefined();
  }
  for (const p of listed) {
    const r = await mlflow('GET', '/api/2.0/mlflow/artifacts/list', { run_id: runId, path: p });
    expect([p, r.status]).toEqual([p, 200]);
    expect(mlflowPathProblem(p)).toBeUndefined();
  }
});

it('mirror of a repo with a "#" folder fails in the Hub check (exit 2, path and rule named), before any run exists', async () => {
  const sha = 'f'.repeat(40);
  const tree = [
    { type: 'file', path: 'config.json', size: 2, oid: 'a'.repeat(40) },
    { type: 'file', path: 'checkpoints#1/model.safetensors', size: 3, oid: 'b'.repeat(40) },
  ];
  const resolves: string[] = [];
  const hub = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const body = u.pathname.includes('/revision/') ? { sha, id: 'test/hash-folder', pipeline_tag: 'text-generation' } : u.pathname.includes('/tree/') ? tree : undefined;
    if (!body) resolves.push(u.pathname);
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'no' }));
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hash-'));
  try {
    const experiment = `hostile-hash-${suffix}`;
    const r = await runCli(['mirror', 'test/hash-folder', '--experiment', experiment, '--work-dir', work, '--hub-url', `http://127.0.0.1:${(hub.address() as AddressInfo).port}`],
      { ...stepEnv(peers), HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"checkpoints#1/model.safetensors"');
    expect(r.stderr).toMatch(/contains '#', which MLflow refuses in artifact paths/);
    expect(r.stderr).toMatch(/--ignore-patterns "checkpoints#1\/"/);
    expect(resolves).toEqual([]);
    expect((await mlflow('GET', '/api/2.0/mlflow/experiments/get-by-name', { experiment_name: experiment })).status).toBe(404);
  } finally {
    hub.closeAllConnections();
    await new Promise((r) => hub.close(r));
    await fs.rm(work, { recursive: true, force: true });
  }
});

it('mirror --deadline: a stalled download stops at the deadline, exit 5 saying how far it got, run FAILED, .part kept', async () => {
  const sha = 'e'.repeat(40);
  const size = 100_000;
  const hub = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname.includes('/revision/')) return json(res, { sha, id: 'test/stalls', pipeline_tag: 'text-generation' });
    if (u.pathname.includes('/tree/')) return json(res, [{ type: 'file', path: 'model.safetensors', size, oid: 'c'.repeat(40), lfs: { oid: 'd'.repeat(64), size, pointerSize: 130 } }]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    if (req.method === 'HEAD') return res.end();
    res.write(Buffer.alloc(30_000, 1)); // then nothing
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-deadline-'));
  try {
    const experiment = `hostile-deadline-${suffix}`;
    const t0 = Date.now();
    const r = await runCli(['mirror', 'test/stalls', '--experiment', experiment, '--work-dir', work, '--deadline', '3s', '--hub-url', `http://127.0.0.1:${(hub.address() as AddressInfo).port}`],
      { ...stepEnv(peers), HF_TOKEN: undefined, HF_TOKEN_PATH: undefined });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/The deadline \(--deadline 3s\) passed while downloading: 0 of 1 files complete, 30\.0 kB of 100 kB on disk/);
    expect((await fs.stat(path.join(work, 'model.safetensors.part'))).size).toBe(30_000);
    const exp = JSON.parse((await mlflow('GET', '/api/2.0/mlflow/experiments/get-by-name', { experiment_name: experiment })).text) as { experiment: { experiment_id: string } };
    const runs = JSON.parse((await mlflow('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: [exp.experiment.experiment_id] })).text) as { runs: Array<{ info: { status: string }; data: { tags: Array<{ key: string; value: string }> } }> };
    expect(runs.runs).toHaveLength(1);
    expect(runs.runs[0].info.status).toBe('FAILED');
    expect(runs.runs[0].data.tags.find((t) => t.key === 'model_mirror.failure_reason')?.value).toMatch(/^download: The deadline \(--deadline 3s\) passed while downloading/);
  } finally {
    hub.closeAllConnections();
    await new Promise((r) => hub.close(r));
    await fs.rm(work, { recursive: true, force: true });
  }
});

function json(res: http.ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
