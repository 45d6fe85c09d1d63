// Assembles a whole deployment from the validated config: one chart per component, written by
// `cdk8s synth` as dist/NNNN-<chart>.k8s.yaml in dependency order (namespace first).
import { App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { selectorLabels, standardLabels } from './common/labels';
import type { ModelMirrorConfig } from './config';
import { buildCatalog } from './catalog/catalog-cron-workflow';
import type { CatalogCronWorkflow } from './catalog/catalog-cron-workflow';
import { ExternalMlflow } from './mlflow/external-mlflow';
import { MlflowAutoscaler } from './mlflow/mlflow-autoscaler';
import { MlflowDisruptionBudget } from './mlflow/mlflow-disruption-budget';
import { MlflowIngress } from './mlflow/mlflow-ingress';
import { MlflowNetworkPolicy } from './mlflow/mlflow-network-policy';
import { MlflowServer } from './mlflow/mlflow-server';
import { ModelMirrorNamespace } from './namespace/namespace';
import type { IBackendStore } from './postgres/backend-store';
import { ExternalDatabase } from './postgres/external-database';
import { PostgresBackup } from './postgres/postgres-backup';
import { PostgresDatabase } from './postgres/postgres-database';
import { WorkflowRbac } from './rbac/workflow-rbac';
import { kubectlCreateSecret, SecretLedger, SecretValues } from './secret-values';
import { S3Credentials } from './seaweedfs/s3-credentials';
import { S3IdentitiesConfig } from './seaweedfs/s3-identities-config';
import { MirrorWorkflowTemplate } from './workflow/mirror-workflow-template';
import { k8s } from 'cdk8s-plus-28';
import pkg from '../package.json';

export interface ModelMirrorProps {
  readonly config: ModelMirrorConfig;
  /** Secret values read from env at synth time. @default {} (every Secret referenced only) */
  readonly secretValues?: SecretValues;
}

/** What was built, for the summary and for tests. */
export interface ModelMirrorResult {
  readonly charts: readonly Chart[];
  /** The in-cluster server; undefined with mlflow.external. */
  readonly mlflow?: MlflowServer;
  /** The URI the workflow pods use. */
  readonly trackingUri: string;
  /** What stores MLflow's data, for the summary. */
  readonly trackingDescription: string;
  readonly workflow: MirrorWorkflowTemplate;
  readonly catalog?: CatalogCronWorkflow;
  readonly ledger: SecretLedger;
  /** The in-cluster server's database; undefined with mlflow.external. */
  readonly backendStore?: IBackendStore;
  readonly workflowImage: string;
}

class ComponentChart extends Chart {
  constructor(scope: Construct, id: string, namespace: string) {
    // Fixed names everywhere: every object sets metadata.name, and no hash is ever appended.
    super(scope, id, { namespace, disableResourceNameHashes: true });
  }
}

/** Builds every chart of a model-mirror deployment into `app`. */
export function buildModelMirror(app: App, props: ModelMirrorProps): ModelMirrorResult {
  const c = props.config;
  const secrets = props.secretValues ?? {};
  const ledger = new SecretLedger();
  const plaintext = c.secrets.writePlaintext;
  const common = { namespace: c.namespace, instance: c.instance, labels: c.labels };
  const charts: Chart[] = [];
  const chart = (id: string): Chart => {
    const ch = new ComponentChart(app, id, c.namespace);
    charts.push(ch);
    return ch;
  };

  const nsChart = chart('namespace');
  if (c.createNamespace) new ModelMirrorNamespace(nsChart, 'Namespace', { name: c.namespace, instance: c.instance, labels: c.labels });

  // --- S3 (SeaweedFS) access
  const s3Chart = chart('s3');
  const s3Keys = secrets.s3AccessKeyId && secrets.s3SecretAccessKey
    ? { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey }
    : undefined;
  const s3 = new S3Credentials(s3Chart, 'Credentials', {
    ...common, auth: c.s3.auth, serviceAccountAnnotations: c.s3.serviceAccountAnnotations, endpoint: c.s3.endpoint, region: c.s3.region, secretName: c.s3.existingSecret,
    configMapName: c.s3.endpointConfigMap, credentials: s3Keys, writePlaintext: plaintext, ledger,
  });
  if (c.s3.seaweedfsConfig.enabled) {
    new S3IdentitiesConfig(s3Chart, 'SeaweedfsConfig', {
      namespace: c.s3.seaweedfsConfig.namespace, secretName: c.s3.seaweedfsConfig.secretName, key: c.s3.seaweedfsConfig.key,
      identityName: c.s3.seaweedfsConfig.identityName, bucket: c.s3.bucket, credentials: s3Keys,
      instance: c.instance, labels: c.labels, ledger,
    });
  }

  // --- database (none with an external MLflow: its owner runs its database)
  const m = c.mlflow;
  const external = m.external ? new ExternalMlflow(m.external, { namespace: c.namespace, ledger }) : undefined;
  const dbChart = chart('postgres');
  let backendStore: IBackendStore | undefined;
  if (external) {
    backendStore = undefined;
  } else if (c.postgres.mode === 'in-cluster') {
    const pg = new PostgresDatabase(dbChart, 'Postgres', {
      ...common, name: c.postgres.name, image: c.postgres.image, imagePullPolicy: c.postgres.imagePullPolicy,
      database: c.postgres.database, user: c.postgres.user, secretName: c.postgres.existingSecret,
      passwordKey: c.postgres.passwordKey, password: secrets.postgresPassword, writePlaintext: plaintext,
      storageSize: c.postgres.storageSize, storageClassName: c.postgres.storageClassName, resources: c.postgres.resources,
      runAsUser: c.postgres.runAsUser, clusterDomain: c.clusterDomain, ledger,
    });
    backendStore = pg;
    if (c.postgres.backup.enabled) {
      new PostgresBackup(dbChart, 'Backup', {
        ...common, database: pg, s3, bucket: c.s3.bucket, prefix: c.postgres.backup.prefix, schedule: c.postgres.backup.schedule,
        postgresImage: c.postgres.image, awsCliImage: c.postgres.backup.awsCliImage, resources: c.postgres.backup.resources,
        runAsUser: c.postgres.runAsUser,
      });
    }
  } else {
    backendStore = new ExternalDatabase(dbChart, 'External', {
      ...common, secretName: c.postgres.external.existingSecret, uriKey: c.postgres.external.uriKey,
      url: secrets.databaseUrl, writePlaintext: plaintext, ledger,
    });
  }

  // --- MLflow
  const mlChart = chart('mlflow');
  const mlflow = external || !backendStore ? undefined : new MlflowServer(mlChart, 'Server', {
    ...common, backendStore, s3,
    defaultArtifactRoot: `s3://${c.s3.bucket}/${c.s3.artifactPrefix}`,
    name: m.name, image: m.image, imagePullPolicy: m.imagePullPolicy,
    replicas: m.autoscaling.enabled ? undefined : m.replicas,
    workers: m.workers, port: m.port, resources: m.resources, runAsUser: m.runAsUser, tmpSizeLimit: m.tmpSizeLimit,
    clusterDomain: c.clusterDomain, ingressHost: m.ingress.enabled ? m.ingress.host : undefined,
    extraAllowedHosts: m.extraAllowedHosts, extraArgs: m.extraArgs, extraEnv: m.extraEnv,
    startupProbe: m.startupProbe, migrateOnStart: m.migrateOnStart,
    prometheusDir: m.metrics.enabled ? m.metrics.dir : undefined,
  });
  if (mlflow && m.autoscaling.enabled) {
    new MlflowAutoscaler(mlChart, 'Autoscaler', {
      server: mlflow, minReplicas: m.autoscaling.minReplicas, maxReplicas: m.autoscaling.maxReplicas,
      targetCPUUtilizationPercentage: m.autoscaling.targetCPUUtilizationPercentage,
    });
  }
  if (mlflow && m.podDisruptionBudget.enabled) new MlflowDisruptionBudget(mlChart, 'DisruptionBudget', { server: mlflow, minAvailable: m.podDisruptionBudget.minAvailable });
  if (mlflow && m.ingress.enabled && m.ingress.host) {
    new MlflowIngress(mlChart, 'Ingress', {
      server: mlflow, host: m.ingress.host, className: m.ingress.className, tlsSecretName: m.ingress.tlsSecretName, annotations: m.ingress.annotations,
    });
  }

  // --- workflow: RBAC + WorkflowTemplate
  const wfChart = chart('workflow');
  const w = c.workflow;
  const wfIds = { name: 'model-mirror', instance: c.instance, component: 'workflow', version: w.image.tag, extra: c.labels };
  const wfLabels = standardLabels(wfIds);
  const rbac = new WorkflowRbac(wfChart, 'Rbac', {
    namespace: c.namespace, serviceAccountName: w.serviceAccountName, labels: wfLabels, serviceAccountAnnotations: s3.serviceAccountAnnotations,
  });
  const workflowPodLabels = selectorLabels(wfIds);
  if (mlflow && m.networkPolicy.enabled) {
    new MlflowNetworkPolicy(mlChart, 'NetworkPolicy', {
      server: mlflow, workflowPodLabels, ingressControllerNamespaces: m.networkPolicy.ingressControllerNamespaces,
    });
  }
  const workflowImage = `${w.image.registry}/${w.image.repository}:${w.image.tag}`;
  const trackingUri = external ? external.trackingUri : mlflow!.trackingUri;
  const workflow = new MirrorWorkflowTemplate(wfChart, 'Template', {
    namespace: c.namespace, labels: wfLabels, name: w.name, image: workflowImage, imagePullPolicy: w.image.pullPolicy,
    s3, mlflowTrackingUri: trackingUri, mlflowAuthEnv: external?.authEnv(), serviceAccountName: rbac.serviceAccountName,
    hfEndpoint: w.hfEndpoint, hfToken: { secretName: w.hfToken.existingSecret, key: w.hfToken.key, required: w.hfToken.required },
    defaults: w.defaults, storageSize: w.storageSize, storageClassName: w.storageClassName, activeDeadlineSeconds: w.activeDeadlineSeconds,
    ttl: w.ttl, podGC: w.podGC, retry: w.retry, lightResources: w.resources.light, transferResources: w.resources.transfer,
    runAsUser: w.runAsUser, tmpSizeLimit: w.tmpSizeLimit, metrics: w.metrics.enabled,
    executorSecurityContext: w.executorSecurityContext,
    transfer: w.transfer, boundedScratch: w.scratch.bounded,
    policy: c.policy,
    // Pod labels only when a NetworkPolicy must recognise the workflow pods.
    podLabels: mlflow && m.networkPolicy.enabled ? workflowPodLabels : undefined,
  });
  const catalog = c.catalog ? buildCatalog(wfChart, 'Catalog', {
    namespace: c.namespace, labels: wfLabels, catalog: c.catalog, workflowTemplate: workflow,
    image: workflowImage, imagePullPolicy: w.image.pullPolicy, runAsUser: w.runAsUser, tmpSizeLimit: w.tmpSizeLimit,
    resources: w.resources.light, executorSecurityContext: w.executorSecurityContext,
  }) : undefined;

  // Optional HF token Secret: emitted only with plaintext opt-in and a token in env.
  const hfEmit = Boolean(plaintext && secrets.hfToken);
  if (hfEmit && secrets.hfToken) {
    new k8s.KubeSecret(wfChart, 'HfToken', {
      metadata: { name: w.hfToken.existingSecret, namespace: c.namespace, labels: wfLabels },
      type: 'Opaque',
      stringData: { [w.hfToken.key]: secrets.hfToken },
    });
  }
  ledger.add({
    namespace: c.namespace, name: w.hfToken.existingSecret, keys: [w.hfToken.key], emitted: hfEmit, required: w.hfToken.required,
    purpose: 'HuggingFace Hub token for gated/private models (optional: public models need none)',
    createCommand: kubectlCreateSecret(c.namespace, w.hfToken.existingSecret, [w.hfToken.key]),
  });

  // Order: namespace first; everything else after it. The S3 and database charts come before the
  // charts whose pods reference them (only for readability of dist/: kubectl apply has no order).
  for (const ch of charts.slice(1)) ch.addDependency(nsChart);
  mlChart.addDependency(s3Chart, dbChart);
  wfChart.addDependency(mlChart);

  if (plaintext) {
    for (const r of ledger.plaintextWritten) {
      ledger.note(`Secret ${r.namespace}/${r.name} was written to the manifests in PLAINTEXT (secrets.writePlaintext: true): keep dist/ out of version control`);
    }
  } else if (Object.values(secrets).some((v) => v !== undefined)) {
    ledger.note('secret values were found in MODEL_MIRROR_* env vars but NOT written (secrets.writePlaintext is false): create the Secrets listed below instead');
  }
  const trackingDescription = external?.description ?? backendStore?.description ?? '';
  return { charts, mlflow, trackingUri, trackingDescription, workflow, catalog, ledger, backendStore, workflowImage };
}

export const MODEL_MIRROR_VERSION = pkg.version;
