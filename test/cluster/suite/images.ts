// The image archives the cluster suite imports, under the exact names the manifests use: the
// model-mirror image built from the Dockerfile (image/build.sh, `npm run image`) and the peers
// (test/images: MLflow at the pin and at the previous minor, PostgreSQL, SeaweedFS). Each script
// is cached and prints `name=path` lines (build.sh prints the archive path).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './cluster';

function run(script: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('bash', [path.join(REPO_ROOT, script)], {
    cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 40 * 60_000, maxBuffer: 64 << 20,
  });
  if (r.status !== 0) {
    throw new Error(`${script} failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-40).join('\n')}`);
  }
  return r.stdout;
}

function namePathLines(out: string): Record<string, string> {
  const images: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^(\S+:\S+)=(\/\S+\.tar)$/.exec(line.trim());
    if (m) images[m[1]] = m[2];
  }
  return images;
}

/**
 * name → archive path for every image the suite needs (builds what is not cached yet); with
 * `previousMlflow`, also that MLflow release (the upgrade path starts from it).
 */
export function imageArchives(previousMlflow?: string): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const productName = `localhost:5000/model-mirror:${pkg.version}`;
  const product = path.join(REPO_ROOT, 'dist-image', `model-mirror-${pkg.version}.oci.tar`);
  run('image/build.sh', { IMAGE_NAME: productName, IMAGE_OUT: product });
  if (!fs.existsSync(product)) throw new Error(`image/build.sh wrote no ${product}`);
  const peers = namePathLines(run('test/images/build-all.sh'));
  const previous = previousMlflow
    ? { [`ghcr.io/mlflow/mlflow:v${previousMlflow}-full`]: run('test/images/mlflow.sh', { MLFLOW_VERSION: previousMlflow }).trim() }
    : {};
  const all = { [productName]: product, ...peers, ...previous };
  const expected = previousMlflow ? 5 : 4;
  if (Object.keys(all).length < expected) throw new Error(`expected ${expected} images, got ${JSON.stringify(all)}`);
  return all;
}
