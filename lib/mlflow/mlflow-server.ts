// The MLflow tracking server: ServiceAccount, Deployment (hardened, with a schema-migration init
// container) and ClusterIP Service. Its command line comes from mlflowServerArgs(), the builder
// the test bench uses too. Artifacts go straight to S3 (--no-serve-artifacts).
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { imageTag, selectorLabels, standardLabels } from '../common/labels';
import { podSecurityContext, restrictedContainerSecurityContext, TMP_PATH, tmpMount, tmpVolume, toResourceRequirements } from '../common/security';
import { DEFAULT_MLFLOW_IMAGE, ResourcesConfig } from '../config';
import { IBackendStore } from '../postgres/backend-store';
import type { S3Credentials } from '../seaweedfs/s3-credentials';
import { mlflowAllowedHosts } from './allowed-hosts';
import { DB_UPGRADE_SCRIPT } from './db-upgrade';
import { mlflowServerArgs } from './server-args';

export interface MlflowServerProps {
  readonly namespace: string;
  readonly backendStore: IBackendStore;
  readonly s3: S3Credentials;
  /** e.g. `s3://mlflow/artifacts`. */
  readonly defaultArtifactRoot: string;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Deployment/Service/ServiceAccount name. @default 'mlflow' */
  readonly name?: string;
  /** @default DEFAULT_MLFLOW_IMAGE (`ghcr.io/mlflow/mlflow:v<MLFLOW_VERSION>-full`) */
  readonly image?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: string;
  /** Fixed replicas; leave undefined when an HPA owns the count. @default 1 */
  readonly replicas?: number;
  /** @default 2 */
  readonly workers?: number;
  /** @default 5000 */
  readonly port?: number;
  /** @default 250m/768Mi requests, 2/2Gi limits */
  readonly resources?: ResourcesConfig;
  /** @default 1000 */
  readonly runAsUser?: number;
  /** @default '1Gi' */
  readonly tmpSizeLimit?: string;
  /** @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** Added to --allowed-hosts. @default - none */
  readonly ingressHost?: string;
  /** @default [] */
  readonly extraAllowedHosts?: readonly string[];
  /** @default [] */
  readonly extraArgs?: readonly string[];
  /** @default {} */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** @default { periodSeconds: 10, failureThreshold: 60 } (10 minutes) */
  readonly startupProbe?: { readonly periodSeconds: number; readonly failureThreshold: number };
  /** Run the schema migration init container. @default true */
  readonly migrateOnStart?: boolean;
  /** Prometheus multiprocess dir; enables --expose-prometheus and scrape annotations. @default - no metrics */
  readonly prometheusDir?: string;
}

export class MlflowServer extends Construct {
  readonly serviceAccount: k8s.KubeServiceAccount;
  readonly deployment: k8s.KubeDeployment;
  readonly service: k8s.KubeService;
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
  /** Standard labels of the server's objects (reused by its HPA/PDB/NetworkPolicy/Ingress). */
  readonly labels: Record<string, string>;
  /** Labels selecting the server pods (name/instance/component). */
  readonly selector: Record<string, string>;
  readonly allowedHosts: readonly string[];
  /** In-cluster URL, e.g. http://mlflow.model-mirror.svc.cluster.local:5000 */
  readonly trackingUri: string;
  /** The full `mlflow` argument list (for tests and the summary). */
  readonly serverArgs: readonly string[];

  constructor(scope: Construct, id: string, props: MlflowServerProps) {
    super(scope, id);
    this.name = props.name ?? 'mlflow';
    this.namespace = props.namespace;
    this.port = props.port ?? 5000;
    const domain = props.clusterDomain ?? 'cluster.local';
    const image = props.image ?? DEFAULT_MLFLOW_IMAGE;
    const ids = { name: 'mlflow', instance: props.instance ?? 'model-mirror', component: 'tracking-server', version: imageTag(image).replace(/^v/, ''), extra: props.labels };
    const labels = standardLabels(ids);
    this.labels = labels;
    this.selector = selectorLabels(ids);
    this.trackingUri = `http://${this.name}.${props.namespace}.svc.${domain}:${this.port}`;
    this.allowedHosts = mlflowAllowedHosts({
      serviceName: this.name, namespace: props.namespace, clusterDomain: domain,
      ingressHost: props.ingressHost, extra: props.extraAllowedHosts,
    });
    this.serverArgs = mlflowServerArgs({
      port: this.port,
      // No --backend-store-uri: MLflow reads MLFLOW_BACKEND_STORE_URI itself, so the password in that
      // URL never reaches the process's argv.
      defaultArtifactRoot: props.defaultArtifactRoot,
      allowedHosts: this.allowedHosts,
      workers: props.workers ?? 2,
      prometheusDir: props.prometheusDir,
      extraArgs: props.extraArgs,
    });

    const saAnnotations = props.s3.serviceAccountAnnotations;
    this.serviceAccount = new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.name, namespace: props.namespace, labels, annotations: Object.keys(saAnnotations).length > 0 ? { ...saAnnotations } : undefined },
      automountServiceAccountToken: false,
    });

    const env: k8s.EnvVar[] = [
      ...props.backendStore.backendStoreEnv(),
      ...props.s3.containerEnv(),
      // Read-only root filesystem: HOME and every temp/cache path live in the /tmp emptyDir.
      { name: 'HOME', value: TMP_PATH },
      { name: 'TMPDIR', value: TMP_PATH },
      { name: 'XDG_CACHE_HOME', value: `${TMP_PATH}/.cache` },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      // Since 3.5 the server also starts a job runner with several huey consumer processes
      // (~230 MB each, queues in /dev/shm) for GenAI jobs a registry mirror never uses; they
      // would blow the memory limit. extraEnv can turn it back on.
      { name: 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION', value: 'false' },
      ...Object.entries(props.extraEnv ?? {}).map(([name, value]) => ({ name, value })),
    ];
    const resources = toResourceRequirements(props.resources ?? { requests: { cpu: '250m', memory: '768Mi' }, limits: { cpu: '2', memory: '2Gi' } });
    const volumeMounts: k8s.VolumeMount[] = [tmpMount()];
    const volumes: k8s.Volume[] = [tmpVolume(props.tmpSizeLimit ?? '1Gi')];
    if (props.prometheusDir) {
      volumeMounts.push({ name: 'prometheus', mountPath: props.prometheusDir });
      volumes.push({ name: 'prometheus', emptyDir: { sizeLimit: k8s.Quantity.fromString('256Mi') } });
    }
    // /health is exempt from MLflow's Host check, but the probes say Host: localhost anyway (the
    // kubelet would send the pod IP), so they keep working if that exemption ever goes away.
    const health: k8s.Probe = {
      httpGet: { path: '/health', port: k8s.IntOrString.fromString('http'), httpHeaders: [{ name: 'Host', value: 'localhost' }] },
      timeoutSeconds: 5,
    };
    const startup = props.startupProbe ?? { periodSeconds: 10, failureThreshold: 60 };

    const initContainers: k8s.Container[] = [];
    if (props.migrateOnStart ?? true) {
      initContainers.push({
        name: 'db-upgrade',
        image,
        imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
        command: ['python', '-c', DB_UPGRADE_SCRIPT],
        env: [...props.backendStore.backendStoreEnv(), { name: 'HOME', value: TMP_PATH }, { name: 'PYTHONDONTWRITEBYTECODE', value: '1' }],
        resources,
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [tmpMount()],
      });
    }

    this.deployment = new k8s.KubeDeployment(this, 'Deployment', {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        replicas: props.replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: this.selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromNumber(1) } },
        template: {
          metadata: {
            labels,
            annotations: props.prometheusDir
              ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(this.port), 'prometheus.io/path': '/metrics' }
              : undefined,
          },
          spec: {
            serviceAccountName: this.name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(props.runAsUser ?? 1000),
            initContainers: initContainers.length > 0 ? initContainers : undefined,
            containers: [{
              name: 'mlflow',
              image,
              imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
              command: ['mlflow'],
              args: this.serverArgs.slice(),
              ports: [{ name: 'http', containerPort: this.port }],
              env,
              resources,
              securityContext: restrictedContainerSecurityContext(),
              startupProbe: { ...health, periodSeconds: startup.periodSeconds, failureThreshold: startup.failureThreshold },
              readinessProbe: { ...health, periodSeconds: 10, failureThreshold: 3 },
              livenessProbe: { ...health, periodSeconds: 20, failureThreshold: 6 },
              volumeMounts,
            }],
            volumes,
          },
        },
      },
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata: { name: this.name, namespace: props.namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector: this.selector,
        ports: [{ name: 'http', port: this.port, targetPort: k8s.IntOrString.fromString('http') }],
      },
    });
  }
}
