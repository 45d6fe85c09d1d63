// The product as a user installs it on the real cluster: `npm run synth` with a config, the
// namespace, the `kubectl create secret` commands synth prints, `kubectl apply -f dist/`; plus
// the S3 store the default config names (SeaweedFS, namespace seaweedfs, Service seaweedfs-s3).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT, kubectl, kubectlJson, sh, waitFor } from './cluster';

export const NAMESPACE = 'model-mirror';
export const S3_KEYS = { accessKeyId: 'mirrorcluster', secretAccessKey: 'mirrorclustersecret0123456789' };
/** The in-cluster name the MLflow server allows (--allowed-hosts) and the workflow pods use. */
export const MLFLOW_HOST = `mlflow.${NAMESPACE}.svc.cluster.local:5000`;

export interface Synthesized {
  readonly dir: string;
  readonly files: string[];
  /** The `kubectl create secret ...` commands synth printed for the user. */
  readonly secretCommands: string[];
}

/** `npm run synth` with a config file, into its own output directory (as `cdk8s synth -o`). */
export function synth(config: object, outDir: string): Synthesized {
  fs.mkdirSync(outDir, { recursive: true });
  const configFile = path.join(outDir, '..', `${path.basename(outDir)}.config.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const r = spawnSync('npm', ['run', '--silent', 'synth', '--', '--output', outDir], {
    cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, MODEL_MIRROR_CONFIG: configFile }, timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`npm run synth failed (exit ${r.status}):\n${r.stderr}\n${r.stdout}`);
  const secretCommands = (r.stderr + r.stdout).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('kubectl create secret'));
  const files = fs.readdirSync(outDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(outDir, f));
  return { dir: outDir, files, secretCommands };
}

/**
 * What the README tells a user: apply the namespace, create the Secrets with the commands synth
 * printed (placeholders filled in, the optional HF token left out), then `kubectl apply -f dist/`.
 */
export function applyAsUser(s: Synthesized): void {
  kubectl('apply', '-f', s.files.find((f) => f.endsWith('0000-namespace.k8s.yaml'))!);
  const existing = new Set(kubectl('get', 'secrets', '-n', NAMESPACE, '-o', 'name').split('\n').map((l) => l.replace('secret/', '')));
  for (const cmd of s.secretCommands) {
    const name = /kubectl create secret generic (\S+)/.exec(cmd)?.[1];
    if (!name || existing.has(name) || name.endsWith('hf-token')) continue;
    const filled = cmd
      .replace("'<aws-access-key-id>'", `'${S3_KEYS.accessKeyId}'`)
      .replace("'<aws-secret-access-key>'", `'${S3_KEYS.secretAccessKey}'`);
    if (/<[a-z-]+>/.test(filled)) throw new Error(`synth printed a secret command with a placeholder this suite does not know: ${cmd}`);
    sh('bash', ['-c', filled]);
  }
  kubectl('apply', '-f', s.dir);
}

/** SeaweedFS as the default `s3.endpoint` expects it, under Pod Security `restricted`, with checked credentials. */
export function deploySeaweedfs(image: string): void {
  const identities = {
    identities: [{ name: 'model-mirror', credentials: [{ accessKey: S3_KEYS.accessKeyId, secretKey: S3_KEYS.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
  };
  const labels = { 'app.kubernetes.io/name': 'seaweedfs' };
  const restricted = {
    runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
  };
  const docs = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'seaweedfs', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'seaweedfs-s3-config', namespace: 'seaweedfs' }, stringData: { 's3.json': JSON.stringify(identities) } },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'seaweedfs', namespace: 'seaweedfs', labels },
      spec: {
        replicas: 1, selector: { matchLabels: labels }, strategy: { type: 'Recreate' },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'seaweedfs', image, imagePullPolicy: 'IfNotPresent',
              args: ['mini', '-dir=/data', '-ip=127.0.0.1', '-ip.bind=0.0.0.0', '-master.telemetry=false', '-s3.port=8333',
                '-s3.config=/etc/seaweedfs/s3.json', '-admin.ui=false', '-webdav=false', '-s3.port.iceberg=0', '-s3.port.lance=0'],
              env: [{ name: 'HOME', value: '/tmp' }],
              ports: [{ name: 's3', containerPort: 8333 }],
              readinessProbe: { tcpSocket: { port: 8333 }, periodSeconds: 2 },
              securityContext: restricted,
              resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } },
              volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }, { name: 'config', mountPath: '/etc/seaweedfs', readOnly: true }],
            }],
            volumes: [{ name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: {} }, { name: 'config', secret: { secretName: 'seaweedfs-s3-config' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'seaweedfs-s3', namespace: 'seaweedfs' },
      spec: { selector: labels, ports: [{ name: 's3', port: 8333, targetPort: 8333 }] },
    },
  ];
  sh('kubectl', ['apply', '-f', '-'], { input: docs.map((d) => YAML.stringify(d)).join('---\n') });
  kubectl('rollout', 'status', '-n', 'seaweedfs', 'deployment/seaweedfs', '--timeout=180s');
}

export const clusterIp = (ns: string, svc: string): string => kubectlJson('get', 'service', '-n', ns, svc).spec.clusterIP as string;

/**
 * An MLflow REST call from the host through the Service's cluster IP, with the Host header of
 * the in-cluster name (MLflow >= 3.5 checks Host against --allowed-hosts).
 */
export function mlflowApi<T = any>(method: 'GET' | 'POST', api: string, body?: object): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  let p = `/api/2.0/mlflow/${api}`;
  if (method === 'GET' && body) p += `?${new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
  return mlflowHttp(method, p, method === 'POST' ? JSON.stringify(body ?? {}) : undefined)
    .then((text) => (text ? JSON.parse(text) : {}) as T);
}

function mlflowHttp(method: 'GET' | 'POST', urlPath: string, payload?: string): Promise<string> {
  const ip = clusterIp(NAMESPACE, 'mlflow');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: ip, port: 5000, path: urlPath, method, timeout: 30_000,
      headers: { Host: MLFLOW_HOST, 'Content-Type': 'application/json', ...(payload ? { 'Content-Length': Buffer.byteLength(payload) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`MLflow ${method} ${urlPath}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
        else resolve(text);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`MLflow ${method} ${urlPath}: timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * Waits for PostgreSQL and MLflow to be Ready and for MLflow to answer through its Service (a pod
 * turns Ready before kube-proxy has the new endpoint); returns the MLflow pod (its init containers have run).
 */
export async function waitForProduct(): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  kubectl('rollout', 'status', '-n', NAMESPACE, 'statefulset/postgres', '--timeout=300s');
  kubectl('rollout', 'status', '-n', NAMESPACE, 'deployment/mlflow', '--timeout=600s');
  return waitFor('one Ready MLflow pod', () => {
    const pods = kubectlJson('get', 'pods', '-n', NAMESPACE, '-l', 'app.kubernetes.io/name=mlflow').items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    if (live.length !== 1) return undefined;
    const ready = (live[0].status.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    return ready ? live[0] : undefined;
  }, 300_000, 2000).then(async (pod) => {
    await waitFor('MLflow /health through its Service', async () => (await mlflowHttp('GET', '/health')).trim() === 'OK' || undefined, 60_000, 1000);
    return pod;
  });
}

/** An S3 client for the in-cluster SeaweedFS, from the host through its Service's cluster IP. */
export function seaweedfsClient(): S3Client {
  return new S3Client({
    endpoint: `http://${clusterIp('seaweedfs', 'seaweedfs-s3')}:8333`, region: 'us-east-1', forcePathStyle: true, credentials: S3_KEYS,
  });
}

/**
 * The bucket the default config names (`s3.bucket: mlflow`); the product expects it to exist.
 * The pod is Ready once port 8333 accepts, which can be before `weed mini` answers bucket calls
 * (here a first attempt often fails; the bucket exists within seconds). One CI run got
 * UnknownError for the whole minute it then waited. So: two minutes, then the pod's log goes to
 * stderr and the pod is restarted once for two minutes more; the error names the last HTTP status.
 */
export async function createArtifactBucket(): Promise<void> {
  const s3 = seaweedfsClient();
  const attempt = (timeoutMs: number): Promise<boolean> => waitFor('the bucket mlflow', async () => {
    try { await s3.send(new CreateBucketCommand({ Bucket: 'mlflow' })); } catch (e) {
      if (/BucketAlready/.test((e as Error).name)) return true;
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new Error(`CreateBucket: ${(e as Error).name}${status ? ` (HTTP ${status})` : ''}: ${(e as Error).message}`);
    }
    return true;
  }, timeoutMs, 2000);
  const seaweedfsState = (): string => {
    const pods = sh('kubectl', ['get', 'pods', '-n', 'seaweedfs', '-o', 'wide'], { allowFail: true });
    const log = sh('kubectl', ['logs', '-n', 'seaweedfs', 'deployment/seaweedfs', '--tail=60'], { allowFail: true });
    // Who answers: the Service's address and the pod's own, so a 404 from something that is not
    // SeaweedFS's S3 gateway (or a gateway that lost its filer) shows in the headers.
    const podIp = sh('kubectl', ['get', 'pods', '-n', 'seaweedfs', '-o', 'jsonpath={.items[0].status.podIP}'], { allowFail: true }).stdout.trim();
    const probe = (url: string) => {
      const r = sh('curl', ['-sS', '-i', '-m', '5', url], { allowFail: true });
      return `--- GET ${url} ---\n${(r.stdout + r.stderr).slice(0, 1500)}`;
    };
    // The CreateBucket itself, signed (SigV4) by curl: its raw status line, headers and body say
    // which handler answered the 404 (the SDK only reports "UnknownError" for an empty body).
    const signedPut = (url: string) => {
      const r = sh('curl', ['-sS', '-i', '-m', '5', '-X', 'PUT', '--aws-sigv4', 'aws:amz:us-east-1:s3', '--user', `${S3_KEYS.accessKeyId}:${S3_KEYS.secretAccessKey}`, '-H', 'Content-Length: 0', url], { allowFail: true });
      return `--- signed PUT ${url} (CreateBucket) ---\n${(r.stdout + r.stderr).slice(0, 1500)}`;
    };
    const service = `http://${clusterIp('seaweedfs', 'seaweedfs-s3')}:8333/mlflow`;
    const probes = [probe(service), ...(podIp ? [probe(`http://${podIp}:8333/mlflow`)] : []), signedPut(service)].join('\n');
    return `--- seaweedfs pods ---\n${pods.stdout}${pods.stderr}\n--- seaweedfs log (last 60 lines) ---\n${log.stdout}${log.stderr}\n${probes}`;
  };
  try {
    try {
      await attempt(120_000);
    } catch (e) {
      process.stderr.write(`${(e as Error).message}; restarting the SeaweedFS pod once\n${seaweedfsState()}\n`);
      kubectl('rollout', 'restart', '-n', 'seaweedfs', 'deployment/seaweedfs');
      kubectl('rollout', 'status', '-n', 'seaweedfs', 'deployment/seaweedfs', '--timeout=180s');
      await attempt(120_000).catch((again: Error) => { throw new Error(`${again.message} (after a restart)\n${seaweedfsState()}`); });
    }
  } finally {
    s3.destroy();
  }
}
