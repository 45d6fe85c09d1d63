// MLflow tracking server for one bench run, started with the same argument builder the
// synthesized Deployment uses (lib/mlflow/server-args.ts), on loopback, backed by the bench's
// PostgreSQL and with artifacts in the bench's SeaweedFS bucket.
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mlflowServerArgs } from '../../lib/mlflow/server-args';
import { PeerProcess } from './process';
import type { S3Peer, Tools } from './peers';

export const MLFLOW_ALLOWED_HOSTS: readonly string[] = ['127.0.0.1:*', 'localhost:*'];

export interface MlflowPeer {
  readonly process: PeerProcess;
  readonly url: string;
  readonly version: string;
  readonly artifactRoot: string;
  readonly allowedHosts: readonly string[];
}

export function mlflowVersion(tools: Tools): string {
  const res = spawnSync(tools.python, ['-c', 'from importlib.metadata import version; print(version("mlflow"))'], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`Test bench: mlflow: cannot read its version with ${tools.python}: ${res.stderr}`);
  return res.stdout.trim();
}

export async function startMlflow(tools: Tools, opts: {
  dir: string; logDir: string; port: number; backendStoreUri: string; s3: S3Peer;
}): Promise<MlflowPeer> {
  const artifactRoot = `s3://${opts.s3.bucket}/artifacts`;
  const args = mlflowServerArgs({
    host: '127.0.0.1',
    port: opts.port,
    backendStoreUri: opts.backendStoreUri,
    defaultArtifactRoot: artifactRoot,
    allowedHosts: MLFLOW_ALLOWED_HOSTS,
    workers: 1,
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: opts.dir,
    MLFLOW_S3_ENDPOINT_URL: opts.s3.endpoint,
    AWS_ACCESS_KEY_ID: opts.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: opts.s3.secretAccessKey,
    AWS_DEFAULT_REGION: opts.s3.region,
    AWS_REGION: opts.s3.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    // No phoning home from a test run.
    MLFLOW_DISABLE_TELEMETRY: 'true',
    DO_NOT_TRACK: 'true',
    PYTHONUNBUFFERED: '1',
    // MLflow >= 3.5 otherwise also starts a job runner plus ~7 huey consumer processes (~230 MB
    // each, queue files in /dev/shm) that nothing in the bench uses.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
  };
  const proc = new PeerProcess({
    name: 'mlflow',
    cmd: tools.mlflow,
    args,
    cwd: opts.dir,
    env,
    logFile: path.join(opts.logDir, 'mlflow.log'),
    port: opts.port,
  });
  const url = `http://127.0.0.1:${opts.port}`;
  await proc.waitUntil(`${url}/health to answer 200`, async () => {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    if (res.status !== 200) throw new Error(`/health answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    return true;
  }, 90000);
  return {
    process: proc,
    url,
    version: mlflowVersion(tools),
    artifactRoot,
    allowedHosts: MLFLOW_ALLOWED_HOSTS,
  };
}
