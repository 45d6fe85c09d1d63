// A repo with 20,000 tiny files mirrored end to end by the bundled CLI in a child process, against
// the real peers: memory must stay flat in the number of files. Peak RSS is a memory bound, not a
// timing, so it is asserted; the time is printed for the report.
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MlflowClient } from '../../steps/mlflow/client';
import { getModelVersion } from '../../steps/mlflow/registry';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';
import { getPeers, REPO_ROOT } from '../peers/peers';
import { stepEnv } from '../support/step-env';

const FILES = 20_000;
const RSS_BUDGET_MB = 150;

let hub: StartedHubFixture;
let work: string;
let bundle: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-many-'));
  // MODEL_MIRROR_CLI_BUNDLE: measure another build (e.g. the previous commit's) with the same check.
  bundle = process.env.MODEL_MIRROR_CLI_BUNDLE ?? path.join(work, 'cli', 'model-mirror.js');
  if (!process.env.MODEL_MIRROR_CLI_BUNDLE) {
    execFileSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  hub = await startHubFixture({ manyFiles: FILES, treePageSize: 1000 });
}, 300_000);

afterAll(async () => {
  await hub?.close();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

/** Runs the bundled CLI under /usr/bin/time; resolves with its exit code, peak RSS (MB), seconds and stderr. */
function runMeasured(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; peakRssMB: number; seconds: number; stderr: string }> {
  const timeFile = path.join(work, `time-${Date.now()}`);
  const t0 = Date.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, process.execPath, bundle, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      const kb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
      resolve({ code, peakRssMB: kb / 1024, seconds: (Date.now() - t0) / 1000, stderr });
    });
  });
}

it(`mirrors a ${FILES}-file repo with peak RSS under ${RSS_BUDGET_MB} MB`, async () => {
  const peers = getPeers();
  const suffix = Date.now().toString(36);
  const name = `many-${suffix}`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...stepEnv(peers), HF_ENDPOINT: hub.url, MODEL_MIRROR_LOG_FORMAT: 'json' };
  const r = await runMeasured(['mirror', 'bench/many', '--experiment', `many-exp-${suffix}`, '--model-name', name, '--work-dir', path.join(work, 'dl')], env);
  process.stdout.write(`many-files: ${FILES} files mirrored in ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMB.toFixed(0)} MB\n`);
  expect(r.stderr.split('\n').filter((l) => /"level":"error"|internal error/.test(l))).toEqual([]);
  expect(r.code).toBe(0);
  const mv = await getModelVersion(new MlflowClient({ url: peers.mlflow.url }), name, '1');
  expect(mv.status).toBe('READY');
  expect(r.peakRssMB).toBeLessThanOrEqual(RSS_BUDGET_MB);
}, 900_000);
