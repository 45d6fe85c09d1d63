// The one validated configuration of a model-mirror deployment. It is loaded at the edge
// (main.ts: a YAML/JSON file, then cdk8s context, then env overrides), validated here, and
// passed typed to every construct. Secret VALUES are never part of it: they come from env at synth
// time (lib/secret-values.ts) and are only written to dist/ with `secrets.writePlaintext: true`.
//
// Every field is documented in model-mirror.config.example.yaml.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { MLFLOW_VERSION, POSTGRES_MAJOR } from './versions';
import {
  ConfigError, CRON, DNS_LABEL, DNS_LABEL_HINT, DNS_SUBDOMAIN, DNS_SUBDOMAIN_HINT, DURATION, DURATION_HINT,
  IMAGE, IMAGE_HINT, LABEL_KEY, LABEL_VALUE, ObjectReader, QUANTITY, QUANTITY_HINT, Raw, show,
} from './config-reader';
import { CatalogConfig, readCatalog } from './catalog/catalog-config';
import pkg from '../package.json';
import { PERMANENT_EXIT_CODES } from '../steps/common/errors';
import { parsePolicyLayer, type PolicyLayer, PolicyValidationError } from '../steps/policy/policy';

export { ConfigError, isConfigError } from './config-reader';

// --- types -----------------------------------------------------------------------------------------

export interface ResourcesConfig {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

/** An MLflow tracking server that is not ours: nothing MLflow or PostgreSQL is synthesized. */
export interface ExternalMlflowConfig {
  readonly trackingUri: string;
  /** `token`: MLFLOW_TRACKING_TOKEN (Bearer); `basic`: MLFLOW_TRACKING_USERNAME/PASSWORD; both from existingSecret. */
  readonly auth: 'none' | 'token' | 'basic';
  readonly existingSecret: string;
}

export interface MlflowConfig {
  /** Set: use that server instead of synthesizing one. */
  readonly external?: ExternalMlflowConfig;
  /** Name of the Deployment, Service, ServiceAccount (and HPA/PDB/NetworkPolicy/Ingress). */
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: PullPolicy;
  /** Fixed replica count; ignored (not set) when autoscaling is enabled. */
  readonly replicas: number;
  readonly workers: number;
  readonly port: number;
  readonly resources: ResourcesConfig;
  readonly runAsUser: number;
  /** Size limit of the /tmp emptyDir (HOME and temp files; the root filesystem is read-only). */
  readonly tmpSizeLimit: string;
  /** Extra Host header patterns for --allowed-hosts (the Service names are always included). */
  readonly extraAllowedHosts: readonly string[];
  /** Appended verbatim to `mlflow server` (escape hatch). */
  readonly extraArgs: readonly string[];
  readonly extraEnv: Readonly<Record<string, string>>;
  /** Startup probe budget: periodSeconds * failureThreshold (first start creates the tables). */
  readonly startupProbe: { readonly periodSeconds: number; readonly failureThreshold: number };
  /** Run `mlflow db upgrade` in an init container before every start. */
  readonly migrateOnStart: boolean;
  readonly autoscaling: {
    readonly enabled: boolean; readonly minReplicas: number; readonly maxReplicas: number;
    readonly targetCPUUtilizationPercentage: number;
  };
  readonly podDisruptionBudget: { readonly enabled: boolean; readonly minAvailable: number };
  readonly networkPolicy: {
    readonly enabled: boolean;
    /** Namespaces whose pods (the ingress controller) may reach MLflow, besides the workflow pods. */
    readonly ingressControllerNamespaces: readonly string[];
  };
  readonly metrics: { readonly enabled: boolean; readonly dir: string };
  readonly ingress: {
    readonly enabled: boolean; readonly host?: string; readonly className?: string;
    readonly tlsSecretName?: string; readonly annotations: Readonly<Record<string, string>>;
  };
}

export interface PostgresConfig {
  /** `in-cluster`: a StatefulSet here; `external`: an existing Secret holds the SQLAlchemy URL. */
  readonly mode: 'in-cluster' | 'external';
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: PullPolicy;
  readonly database: string;
  readonly user: string;
  /** Secret with the database password (in-cluster mode). */
  readonly existingSecret: string;
  readonly passwordKey: string;
  readonly storageSize: string;
  readonly storageClassName?: string;
  readonly resources: ResourcesConfig;
  readonly runAsUser: number;
  readonly external: { readonly existingSecret: string; readonly uriKey: string };
  readonly backup: {
    readonly enabled: boolean; readonly schedule: string; readonly prefix: string;
    readonly awsCliImage: string; readonly resources: ResourcesConfig;
  };
}

export interface S3Config {
  readonly endpoint: string;
  readonly bucket: string;
  /** Key prefix under the bucket for MLflow's default artifact root. */
  readonly artifactPrefix: string;
  readonly region: string;
  /**
   * `staticKeys`: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from existingSecret. `podIdentity`: no
   * keys anywhere; the pods' ServiceAccounts carry serviceAccountAnnotations (IRSA, workload
   * identity) and the AWS SDK's default credential chain finds the credentials.
   */
  readonly auth: 'staticKeys' | 'podIdentity';
  /** Annotations on the MLflow and workflow ServiceAccounts, e.g. eks.amazonaws.com/role-arn. */
  readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  /** Secret holding AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (created by you unless writePlaintext). */
  readonly existingSecret: string;
  /** ConfigMap (emitted) holding the non-secret endpoint settings. */
  readonly endpointConfigMap: string;
  /** Optionally emit SeaweedFS's S3 identities config (`s3.json` form) as a Secret. */
  readonly seaweedfsConfig: {
    readonly enabled: boolean; readonly namespace: string; readonly secretName: string;
    readonly key: string; readonly identityName: string;
  };
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type RetryPolicy = 'Always' | 'OnError' | 'OnFailure' | 'OnTransientError';

export interface WorkflowConfig {
  /** WorkflowTemplate name. */
  readonly name: string;
  readonly image: { readonly registry: string; readonly repository: string; readonly tag: string; readonly pullPolicy: PullPolicy };
  readonly serviceAccountName: string;
  readonly hfEndpoint: string;
  /** Optional HF token Secret, exposed to download as HF_TOKEN (optional ref: pods start without it). */
  readonly hfToken: { readonly existingSecret: string; readonly key: string; readonly required: boolean };
  readonly defaults: { readonly revision: string; readonly experiment: string };
  /** Size of each run's scratch PVC (fixed per template: Argo cannot template a PVC size); `scratch.size` when set. */
  readonly storageSize: string;
  /** `overlapped`: one transfer step (download and upload at once); `sequential`: download, then upload. */
  readonly transfer: 'overlapped' | 'sequential';
  /**
   * `bounded`: the transfer step deletes each file once it is in S3 and verified, so the PVC
   * (`size`, else storageSize) needs the largest files in flight, not the whole model.
   */
  readonly scratch: { readonly bounded: boolean };
  readonly storageClassName?: string;
  readonly activeDeadlineSeconds: number;
  readonly ttl: { readonly secondsAfterCompletion: number; readonly secondsAfterSuccess: number; readonly secondsAfterFailure: number };
  readonly podGC: 'OnPodCompletion' | 'OnPodSuccess' | 'OnWorkflowCompletion' | 'OnWorkflowSuccess';
  readonly retry: {
    readonly limit: number; readonly policy: RetryPolicy; readonly backoffDuration: string;
    readonly factor: number; readonly maxDuration: string;
    /** Exit codes that mean "retrying cannot help" (bad input, not found, auth, disk, conflict). */
    readonly noRetryExitCodes: readonly number[];
  };
  readonly resources: { readonly light: ResourcesConfig; readonly transfer: ResourcesConfig };
  readonly runAsUser: number;
  readonly tmpSizeLimit: string;
  readonly metrics: { readonly enabled: boolean };
  /** Who makes Argo's init/wait containers pass Pod Security `restricted` (see MirrorWorkflowTemplateProps). */
  readonly executorSecurityContext: 'podSpecPatch' | 'controller';
}

export interface ModelMirrorConfig {
  readonly namespace: string;
  /** Emit the Namespace object. */
  readonly createNamespace: boolean;
  readonly clusterDomain: string;
  /** `app.kubernetes.io/instance` of every object. */
  readonly instance: string;
  /** Extra labels on every object (never used in selectors). */
  readonly labels: Readonly<Record<string, string>>;
  readonly secrets: { readonly writePlaintext: boolean };
  readonly s3: S3Config;
  readonly postgres: PostgresConfig;
  readonly mlflow: MlflowConfig;
  readonly workflow: WorkflowConfig;
  /** Models kept mirrored by a CronWorkflow. @default - none (no CronWorkflow) */
  readonly catalog?: CatalogConfig;
  /**
   * The mirroring policy, baked into the WorkflowTemplate (steps/policy/policy.ts). Undefined: no
   * policy, nothing is checked.
   */
  readonly policy?: PolicyLayer;
}

// --- defaults ----------------------------------------------------------------------------------------

export const DEFAULT_MLFLOW_IMAGE = `ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}-full`;
export const DEFAULT_POSTGRES_IMAGE = `docker.io/library/postgres:${POSTGRES_MAJOR}`;
export const DEFAULT_AWS_CLI_IMAGE = 'docker.io/amazon/aws-cli:2.22.35';
/** uid/gid of the model-mirror image (distroless `nonroot`, see Dockerfile). */
export const MODEL_MIRROR_IMAGE_UID = 65532;

function resources(r: ObjectReader, def: ResourcesConfig): ResourcesConfig {
  const req = r.child('requests');
  const lim = r.child('limits');
  const q = { pattern: QUANTITY, patternHint: QUANTITY_HINT };
  const out: ResourcesConfig = {
    requests: { cpu: req.string('cpu', def.requests.cpu, q), memory: req.string('memory', def.requests.memory, q) },
    limits: { cpu: lim.optionalString('cpu', q) ?? def.limits.cpu, memory: lim.string('memory', def.limits.memory, q) },
  };
  req.done(); lim.done(); r.done();
  return out;
}

const HTTP_URL = /^https?:\/\/[^\s/?#]+(:[0-9]+)?(\/[^\s]*)?$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PULL: readonly PullPolicy[] = ['Always', 'IfNotPresent', 'Never'];
/** A hostname for --allowed-hosts patterns: letters, digits, -, ., *, ? and an optional :port or :*. */
const HOST_PATTERN = /^[A-Za-z0-9*?\[\]._-]+(:([0-9]+|\*))?$/;
const S3_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Validates a raw config object (as parsed from YAML/JSON, after overrides) and fills defaults. */
export function validateConfig(raw: unknown): ModelMirrorConfig {
  const root = ObjectReader.of('config', raw);
  const dnsLabel = { pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT };
  const dnsName = { pattern: DNS_SUBDOMAIN, patternHint: DNS_SUBDOMAIN_HINT };
  const quantity = { pattern: QUANTITY, patternHint: QUANTITY_HINT };
  const image = { pattern: IMAGE, patternHint: IMAGE_HINT };
  const duration = { pattern: DURATION, patternHint: DURATION_HINT };
  const secretKey = { pattern: /^[-._a-zA-Z0-9]+$/, patternHint: 'must be a Secret key (letters, digits, "-", "_", ".")' };

  const namespace = root.string('namespace', 'model-mirror', dnsLabel);
  const createNamespace = root.boolean('createNamespace', true);
  const clusterDomain = root.string('clusterDomain', 'cluster.local', dnsName);
  const instance = root.string('instance', 'model-mirror', { pattern: LABEL_VALUE, patternHint: 'must be a label value (at most 63 characters)' });
  const labels = root.stringMap('labels', { keyPattern: LABEL_KEY, keyHint: 'is not a valid label key' });
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_VALUE.test(v)) root.fail(`labels.${k}`, `must be a label value (at most 63 characters), got ${show(v)}`);
    if (k.startsWith('app.kubernetes.io/')) root.fail(`labels.${k}`, 'app.kubernetes.io/* labels are set by model-mirror');
  }

  const sec = root.child('secrets');
  const secrets = { writePlaintext: sec.boolean('writePlaintext', false) };
  sec.done();

  // --- s3
  const s3r = root.child('s3');
  const swr = s3r.child('seaweedfsConfig');
  const s3: S3Config = {
    endpoint: s3r.string('endpoint', 'http://seaweedfs-s3.seaweedfs.svc:8333', { pattern: HTTP_URL, patternHint: 'must be an http(s) URL' }),
    bucket: s3r.string('bucket', 'mlflow', { pattern: BUCKET, patternHint: 'must be an S3 bucket name (3-63 lowercase letters, digits, "-", ".")' }),
    artifactPrefix: s3r.string('artifactPrefix', 'artifacts', { pattern: S3_PREFIX, patternHint: 'must be an S3 key prefix without leading/trailing "/"' }),
    region: s3r.string('region', 'us-east-1', { pattern: /^[a-z0-9-]+$/, patternHint: 'must be a region name such as "us-east-1"' }),
    auth: s3r.oneOf('auth', 'staticKeys', ['staticKeys', 'podIdentity'] as const),
    serviceAccountAnnotations: s3r.stringMap('serviceAccountAnnotations', { keyPattern: LABEL_KEY, keyHint: 'is not a valid annotation key' }),
    existingSecret: s3r.string('existingSecret', 'model-mirror-s3', dnsName),
    endpointConfigMap: s3r.string('endpointConfigMap', 'model-mirror-s3-endpoint', dnsName),
    seaweedfsConfig: {
      enabled: swr.boolean('enabled', false),
      namespace: swr.string('namespace', 'seaweedfs', dnsLabel),
      secretName: swr.string('secretName', 'seaweedfs-s3-config', dnsName),
      key: swr.string('key', 'seaweedfs_s3_config', secretKey),
      identityName: swr.string('identityName', 'model-mirror', { pattern: /^[A-Za-z0-9_.-]+$/, patternHint: 'must be letters, digits, "-", "_" or "."' }),
    },
  };
  swr.done(); s3r.done();
  if (s3.auth === 'podIdentity' && s3.seaweedfsConfig.enabled) {
    throw new ConfigError('config.s3.seaweedfsConfig.enabled: the SeaweedFS identities config holds static keys; it cannot be used with s3.auth "podIdentity"');
  }
  if (s3.seaweedfsConfig.enabled && !secrets.writePlaintext) {
    throw new ConfigError('config.s3.seaweedfsConfig.enabled: the SeaweedFS identities config contains the S3 secret key; set secrets.writePlaintext: true to write it to dist/');
  }

  // --- postgres
  const pr = root.child('postgres');
  const pext = pr.child('external');
  const pbak = pr.child('backup');
  const postgres: PostgresConfig = {
    mode: pr.oneOf('mode', 'in-cluster', ['in-cluster', 'external'] as const),
    name: pr.string('name', 'postgres', dnsLabel),
    image: pr.string('image', DEFAULT_POSTGRES_IMAGE, image),
    imagePullPolicy: pr.oneOf('imagePullPolicy', 'IfNotPresent', PULL),
    database: pr.string('database', 'mlflow', { pattern: /^[a-z_][a-z0-9_]{0,62}$/, patternHint: 'must be a lowercase SQL identifier' }),
    user: pr.string('user', 'mlflow', { pattern: /^[a-z_][a-z0-9_]{0,62}$/, patternHint: 'must be a lowercase SQL identifier' }),
    existingSecret: pr.string('existingSecret', 'model-mirror-postgres', dnsName),
    passwordKey: pr.string('passwordKey', 'password', secretKey),
    storageSize: pr.string('storageSize', '10Gi', quantity),
    storageClassName: pr.optionalString('storageClassName', dnsName),
    resources: resources(pr.child('resources'), { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } }),
    runAsUser: pr.integer('runAsUser', 999, { min: 1 }),
    external: {
      existingSecret: pext.string('existingSecret', 'model-mirror-database', dnsName),
      uriKey: pext.string('uriKey', 'MLFLOW_BACKEND_STORE_URI', secretKey),
    },
    backup: {
      enabled: pbak.boolean('enabled', false),
      schedule: pbak.string('schedule', '17 3 * * *', { pattern: CRON, patternHint: 'must be a cron schedule such as "17 3 * * *"' }),
      prefix: pbak.string('prefix', 'backups/postgres', { pattern: S3_PREFIX, patternHint: 'must be an S3 key prefix without leading/trailing "/"' }),
      awsCliImage: pbak.string('awsCliImage', DEFAULT_AWS_CLI_IMAGE, image),
      resources: resources(pbak.child('resources'), { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } }),
    },
  };
  pext.done(); pbak.done(); pr.done();
  if (postgres.backup.enabled && s3.auth === 'podIdentity') {
    throw new ConfigError('config.postgres.backup.enabled: the backup job has no S3 identity with s3.auth "podIdentity" (it runs without a ServiceAccount of its own)');
  }
  if (postgres.backup.enabled && postgres.mode !== 'in-cluster') {
    throw new ConfigError('config.postgres.backup.enabled: backups are only built for postgres.mode "in-cluster"; back up an external database with its own tooling');
  }

  // --- mlflow
  const mr = root.child('mlflow');
  const asr = mr.child('autoscaling');
  const pdbr = mr.child('podDisruptionBudget');
  const npr = mr.child('networkPolicy');
  const metr = mr.child('metrics');
  const ingr = mr.child('ingress');
  const spr = mr.child('startupProbe');
  const extr = mr.child('external');
  const externalUri = extr.optionalString('trackingUri', { pattern: HTTP_URL, patternHint: 'must be an http(s) URL' });
  const externalAuth = extr.oneOf('auth', 'none', ['none', 'token', 'basic'] as const);
  const externalSecret = extr.string('existingSecret', 'model-mirror-mlflow-auth', dnsName);
  extr.done();
  if (!externalUri && externalAuth !== 'none') {
    throw new ConfigError('config.mlflow.external.auth: needs mlflow.external.trackingUri (the auth is for an external MLflow server)');
  }
  const mlflow: MlflowConfig = {
    external: externalUri ? { trackingUri: externalUri.replace(/\/+$/, ''), auth: externalAuth, existingSecret: externalSecret } : undefined,
    name: mr.string('name', 'mlflow', dnsLabel),
    image: mr.string('image', DEFAULT_MLFLOW_IMAGE, image),
    imagePullPolicy: mr.oneOf('imagePullPolicy', 'IfNotPresent', PULL),
    replicas: mr.integer('replicas', 1, { min: 1 }),
    workers: mr.integer('workers', 2, { min: 1, max: 64 }),
    port: mr.integer('port', 5000, { min: 1, max: 65535 }),
    resources: resources(mr.child('resources'), { requests: { cpu: '250m', memory: '768Mi' }, limits: { cpu: '2', memory: '2Gi' } }),
    runAsUser: mr.integer('runAsUser', 1000, { min: 1 }),
    tmpSizeLimit: mr.string('tmpSizeLimit', '1Gi', quantity),
    extraAllowedHosts: mr.stringList('extraAllowedHosts', [], { pattern: HOST_PATTERN, patternHint: 'must be a host pattern such as "mlflow.example.com" or "*.corp:*"' }),
    extraArgs: mr.stringList('extraArgs', []),
    extraEnv: mr.stringMap('extraEnv', { keyPattern: ENV_NAME, keyHint: 'is not a valid environment variable name' }),
    startupProbe: {
      periodSeconds: spr.integer('periodSeconds', 10, { min: 1, max: 300 }),
      failureThreshold: spr.integer('failureThreshold', 60, { min: 1 }),
    },
    migrateOnStart: mr.boolean('migrateOnStart', true),
    autoscaling: {
      enabled: asr.boolean('enabled', false),
      minReplicas: asr.integer('minReplicas', 2, { min: 1 }),
      maxReplicas: asr.integer('maxReplicas', 5, { min: 1 }),
      targetCPUUtilizationPercentage: asr.integer('targetCPUUtilizationPercentage', 75, { min: 1, max: 100 }),
    },
    podDisruptionBudget: { enabled: pdbr.boolean('enabled', false), minAvailable: pdbr.integer('minAvailable', 1, { min: 0 }) },
    networkPolicy: {
      enabled: npr.boolean('enabled', false),
      ingressControllerNamespaces: npr.stringList('ingressControllerNamespaces', ['ingress-nginx'], dnsLabel),
    },
    metrics: {
      enabled: metr.boolean('enabled', false),
      dir: metr.string('dir', '/tmp/prometheus', { pattern: /^\/tmp\/[A-Za-z0-9._/-]+$/, patternHint: 'must be a directory under /tmp (the only writable path)' }),
    },
    ingress: {
      enabled: ingr.boolean('enabled', false),
      host: ingr.optionalString('host', dnsName),
      className: ingr.optionalString('className', dnsName),
      tlsSecretName: ingr.optionalString('tlsSecretName', dnsName),
      annotations: ingr.stringMap('annotations'),
    },
  };
  spr.done(); asr.done(); pdbr.done(); npr.done(); metr.done(); ingr.done(); mr.done();
  const startupBudget = mlflow.startupProbe.periodSeconds * mlflow.startupProbe.failureThreshold;
  if (startupBudget < 300) {
    throw new ConfigError(`config.mlflow.startupProbe.failureThreshold: periodSeconds * failureThreshold must be at least 300s (first start creates the database tables), got ${startupBudget}s`);
  }
  if (mlflow.autoscaling.enabled && mlflow.autoscaling.maxReplicas < mlflow.autoscaling.minReplicas) {
    throw new ConfigError(`config.mlflow.autoscaling.maxReplicas: must be >= minReplicas (${mlflow.autoscaling.minReplicas}), got ${mlflow.autoscaling.maxReplicas}`);
  }
  if (mlflow.ingress.enabled && !mlflow.ingress.host) {
    throw new ConfigError('config.mlflow.ingress.host: required when mlflow.ingress.enabled is true');
  }
  if (mlflow.podDisruptionBudget.enabled) {
    const replicas = mlflow.autoscaling.enabled ? mlflow.autoscaling.minReplicas : mlflow.replicas;
    if (mlflow.podDisruptionBudget.minAvailable >= replicas) {
      throw new ConfigError(`config.mlflow.podDisruptionBudget.minAvailable: must be less than the replica count (${replicas}) or no node could ever be drained, got ${mlflow.podDisruptionBudget.minAvailable}`);
    }
  }
  if (mlflow.external) {
    const local = [
      ['mlflow.autoscaling.enabled', mlflow.autoscaling.enabled], ['mlflow.podDisruptionBudget.enabled', mlflow.podDisruptionBudget.enabled],
      ['mlflow.networkPolicy.enabled', mlflow.networkPolicy.enabled], ['mlflow.ingress.enabled', mlflow.ingress.enabled],
      ['postgres.backup.enabled', postgres.backup.enabled],
    ] as const;
    for (const [field, on] of local) {
      if (on) throw new ConfigError(`config.${field}: applies to the in-cluster MLflow server, and mlflow.external.trackingUri is set (no server or database is synthesized)`);
    }
  }
  for (const arg of mlflow.extraArgs) {
    if (arg === '--serve-artifacts') throw new ConfigError('config.mlflow.extraArgs: --serve-artifacts is not supported: clients must write artifacts to S3 directly (--no-serve-artifacts)');
  }

  // --- workflow
  const wr = root.child('workflow');
  const imgr = wr.child('image');
  const hfr = wr.child('hfToken');
  const defr = wr.child('defaults');
  const ttlr = wr.child('ttl');
  const rr = wr.child('retry');
  const resr = wr.child('resources');
  const wmr = wr.child('metrics');
  const scr = wr.child('scratch');
  const transferMode = wr.oneOf('transfer', 'overlapped', ['overlapped', 'sequential'] as const);
  const scratchBounded = scr.boolean('bounded', false);
  const scratchSize = scr.optionalString('size', quantity);
  if (scratchBounded && transferMode !== 'overlapped') {
    throw new ConfigError('config.workflow.scratch.bounded needs config.workflow.transfer: overlapped (the sequential download step keeps the whole model on the volume)');
  }
  if (scratchSize !== undefined && wr.value('storageSize') !== undefined) {
    throw new ConfigError('config.workflow.scratch.size and config.workflow.storageSize both set the scratch volume size: set one');
  }
  const workflow: WorkflowConfig = {
    name: wr.string('name', 'model-mirror', dnsLabel),
    image: {
      registry: imgr.string('registry', 'localhost:5000', { pattern: /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9._-]+)*$/, patternHint: 'must be a registry host with optional path, e.g. "ghcr.io/my-org"' }),
      repository: imgr.string('repository', 'model-mirror', { pattern: /^[a-z0-9]+([._/-][a-z0-9]+)*$/, patternHint: 'must be a repository name' }),
      tag: imgr.string('tag', pkg.version, { pattern: /^[\w][\w.-]{0,127}$/, patternHint: 'must be an image tag' }),
      pullPolicy: imgr.oneOf('pullPolicy', 'IfNotPresent', PULL),
    },
    serviceAccountName: wr.string('serviceAccountName', 'model-mirror-workflow', dnsName),
    hfEndpoint: wr.string('hfEndpoint', 'https://huggingface.co', { pattern: HTTP_URL, patternHint: 'must be an http(s) URL' }),
    hfToken: {
      existingSecret: hfr.string('existingSecret', 'model-mirror-hf-token', dnsName),
      key: hfr.string('key', 'HF_TOKEN', secretKey),
      required: hfr.boolean('required', false),
    },
    defaults: {
      revision: defr.string('revision', 'main', { pattern: /^[^\s]+$/, patternHint: 'must be a branch, tag or commit without spaces' }),
      experiment: defr.string('experiment', 'model-mirror'),
    },
    storageSize: scratchSize ?? wr.string('storageSize', '50Gi', quantity),
    transfer: transferMode,
    scratch: { bounded: scratchBounded },
    storageClassName: wr.optionalString('storageClassName', dnsName),
    activeDeadlineSeconds: wr.integer('activeDeadlineSeconds', 6 * 3600, { min: 60 }),
    ttl: {
      secondsAfterCompletion: ttlr.integer('secondsAfterCompletion', 7 * 86400, { min: 0 }),
      secondsAfterSuccess: ttlr.integer('secondsAfterSuccess', 86400, { min: 0 }),
      secondsAfterFailure: ttlr.integer('secondsAfterFailure', 7 * 86400, { min: 0 }),
    },
    podGC: wr.oneOf('podGC', 'OnPodSuccess', ['OnPodCompletion', 'OnPodSuccess', 'OnWorkflowCompletion', 'OnWorkflowSuccess'] as const),
    retry: {
      limit: rr.integer('limit', 4, { min: 0, max: 20 }),
      policy: rr.oneOf('policy', 'Always', ['Always', 'OnError', 'OnFailure', 'OnTransientError'] as const),
      backoffDuration: rr.string('backoffDuration', '10s', duration),
      factor: rr.integer('factor', 3, { min: 1, max: 10 }),
      maxDuration: rr.string('maxDuration', '30m', duration),
      noRetryExitCodes: rr.integerList('noRetryExitCodes', PERMANENT_EXIT_CODES, { min: 1, max: 255 }),
    },
    resources: {
      light: resources(resr.child('light'), { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } }),
      transfer: resources(resr.child('transfer'), { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } }),
    },
    runAsUser: wr.integer('runAsUser', MODEL_MIRROR_IMAGE_UID, { min: 1 }),
    tmpSizeLimit: wr.string('tmpSizeLimit', '1Gi', quantity),
    metrics: { enabled: wmr.boolean('enabled', true) },
    executorSecurityContext: wr.oneOf('executorSecurityContext', 'podSpecPatch', ['podSpecPatch', 'controller'] as const),
  };
  imgr.done(); hfr.done(); defr.done(); ttlr.done(); rr.done(); resr.done(); wmr.done(); scr.done(); wr.done();

  const catalog = readCatalog(root.child('catalog'), { name: workflow.name, revision: workflow.defaults.revision });

  // --- policy (the same validator as the CLI's --policy-file)
  const rawPolicy = root.value('policy');
  let policy: PolicyLayer | undefined;
  try {
    policy = rawPolicy === undefined ? undefined : parsePolicyLayer(rawPolicy, root.field('policy'), 'base');
  } catch (e) {
    if (e instanceof PolicyValidationError) throw new ConfigError(e.message);
    throw e;
  }

  root.done();
  return { namespace, createNamespace, clusterDomain, instance, labels, secrets, s3, postgres, mlflow, workflow, catalog, ...(policy ? { policy } : {}) };
}

// --- loading -------------------------------------------------------------------------------------

export const CONFIG_ENV = 'MODEL_MIRROR_CONFIG';
export const DEFAULT_CONFIG_FILE = 'model-mirror.config.yaml';
/** `path=value` overrides separated by `;` or newlines; values are parsed as YAML scalars/flow. */
export const OVERRIDES_ENV = 'MODEL_MIRROR_SET';
/** cdk8s context key whose (object) value is merged over the file. */
export const CONTEXT_KEY = 'model-mirror';

export interface LoadConfigOptions {
  /** Directory the default config file is looked up in. @default process.cwd() */
  readonly cwd?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** cdk8s context value under `model-mirror` (an object). @default - none */
  readonly context?: unknown;
}

export interface LoadedConfig {
  readonly config: ModelMirrorConfig;
  /** Where settings came from, for the synth summary (e.g. `model-mirror.config.yaml`, `MODEL_MIRROR_SET`). */
  readonly sources: readonly string[];
}

/** Loads file → cdk8s context → env overrides, then validates. Throws ConfigError on any problem. */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const sources: string[] = [];
  let raw: Raw = {};

  const explicit = env[CONFIG_ENV];
  const file = explicit ? path.resolve(cwd, explicit) : path.join(cwd, DEFAULT_CONFIG_FILE);
  if (explicit && !fs.existsSync(file)) {
    throw new ConfigError(`${CONFIG_ENV}: config file ${explicit} does not exist`);
  }
  if (fs.existsSync(file)) {
    raw = parseConfigFile(file);
    sources.push(path.relative(cwd, file) || file);
  }

  if (opts.context !== undefined && opts.context !== null) {
    if (typeof opts.context !== 'object' || Array.isArray(opts.context)) {
      throw new ConfigError(`context.${CONTEXT_KEY}: must be a mapping of config fields, got ${show(opts.context)}`);
    }
    raw = deepMerge(raw, opts.context as Raw);
    sources.push(`cdk8s context "${CONTEXT_KEY}"`);
  }

  const overrides = env[OVERRIDES_ENV];
  if (overrides && overrides.trim() !== '') {
    for (const [p, value] of parseOverrides(overrides)) raw = setPath(raw, p, value);
    sources.push(OVERRIDES_ENV);
  }

  return { config: validateConfig(raw), sources };
}

function parseConfigFile(file: string): Raw {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config file (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both. Duplicate keys are errors.
    parsed = YAML.parse(text, { uniqueKeys: true, prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${file}: the config must be a mapping at the top level, got ${show(parsed)}`);
  }
  return parsed as Raw;
}

export function parseOverrides(text: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const part of text.split(/[;\n]/)) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const p = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(p)) {
      throw new ConfigError(`${OVERRIDES_ENV}: expected "field.path=value" items separated by ";", got ${show(item)}`);
    }
    const valueText = item.slice(eq + 1).trim();
    let value: unknown;
    try {
      value = valueText === '' ? '' : YAML.parse(valueText);
    } catch {
      value = valueText;
    }
    out.push([p, value]);
  }
  return out;
}

function setPath(raw: Raw, dotted: string, value: unknown): Raw {
  const [head, ...rest] = dotted.split('.');
  if (rest.length === 0) return { ...raw, [head]: value };
  const current = raw[head];
  if (current !== undefined && current !== null && (typeof current !== 'object' || Array.isArray(current))) {
    throw new ConfigError(`config.${head}: cannot set ${dotted} via ${OVERRIDES_ENV}: config.${head} is not a mapping`);
  }
  return { ...raw, [head]: setPath((current as Raw) ?? {}, rest.join('.'), value) };
}

function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
