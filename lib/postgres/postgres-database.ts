// In-cluster PostgreSQL: a one-replica StatefulSet with a PVC template, a headless Service, and
// the password from a Secret that is referenced (created by the user) unless plaintext is opted in.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { selectorLabels, standardLabels } from '../common/labels';
import { podSecurityContext, restrictedContainerSecurityContext, tmpMount, tmpVolume, toResourceRequirements } from '../common/security';
import type { ResourcesConfig } from '../config';
import { SecretLedger } from '../secret-values';
import { POSTGRES_MAJOR } from '../versions';
import { BACKEND_STORE_ENV, IBackendStore } from './backend-store';

export const POSTGRES_PORT = 5432;

export interface PostgresDatabaseProps {
  readonly namespace: string;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** StatefulSet and Service name. @default 'postgres' */
  readonly name?: string;
  /** @default `docker.io/library/postgres:${POSTGRES_MAJOR}` */
  readonly image?: string;
  /** @default 'IfNotPresent' */
  readonly imagePullPolicy?: string;
  /** @default 'mlflow' */
  readonly database?: string;
  /** @default 'mlflow' */
  readonly user?: string;
  /** Secret holding the password. @default 'model-mirror-postgres' */
  readonly secretName?: string;
  /** @default 'password' */
  readonly passwordKey?: string;
  /** Password to write into the Secret; only honoured with writePlaintext. @default - Secret referenced only */
  readonly password?: string;
  /** @default false */
  readonly writePlaintext?: boolean;
  /** @default '10Gi' */
  readonly storageSize?: string;
  /** @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** @default 250m/512Mi requests, 2/2Gi limits */
  readonly resources?: ResourcesConfig;
  /** uid of the postgres user in the official image. @default 999 */
  readonly runAsUser?: number;
  /** @default 'cluster.local' */
  readonly clusterDomain?: string;
  /** @default - not recorded */
  readonly ledger?: SecretLedger;
}

export class PostgresDatabase extends Construct implements IBackendStore {
  readonly statefulSet: k8s.KubeStatefulSet;
  readonly service: k8s.KubeService;
  readonly secret?: k8s.KubeSecret;
  readonly serviceName: string;
  /** Fully-qualified Service DNS name. */
  readonly host: string;
  readonly database: string;
  readonly user: string;
  readonly secretName: string;
  readonly passwordKey: string;
  readonly description: string;

  constructor(scope: Construct, id: string, props: PostgresDatabaseProps) {
    super(scope, id);
    const name = props.name ?? 'postgres';
    this.serviceName = name;
    this.database = props.database ?? 'mlflow';
    this.user = props.user ?? 'mlflow';
    this.secretName = props.secretName ?? 'model-mirror-postgres';
    this.passwordKey = props.passwordKey ?? 'password';
    this.host = `${name}.${props.namespace}.svc.${props.clusterDomain ?? 'cluster.local'}`;
    this.description = `in-cluster PostgreSQL ${POSTGRES_MAJOR} (${name}.${props.namespace})`;
    const uid = props.runAsUser ?? 999;
    const ids = { name: 'postgres', instance: props.instance ?? 'model-mirror', component: 'database', version: POSTGRES_MAJOR, extra: props.labels };
    const labels = standardLabels(ids);
    const selector = selectorLabels(ids);
    const resources = props.resources ?? { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } };

    const emit = Boolean(props.writePlaintext && props.password);
    if (emit && props.password) {
      this.secret = new k8s.KubeSecret(this, 'Secret', {
        metadata: { name: this.secretName, namespace: props.namespace, labels },
        type: 'Opaque',
        stringData: { [this.passwordKey]: props.password },
      });
    }
    props.ledger?.add({
      namespace: props.namespace, name: this.secretName, keys: [this.passwordKey], emitted: emit, required: true,
      purpose: 'PostgreSQL password (letters, digits, . _ ~ - only: it is spliced into a URL)',
      createCommand: `kubectl create secret generic ${this.secretName} -n ${props.namespace} --from-literal=${this.passwordKey}="$(openssl rand -hex 24)"`,
    });

    this.service = new k8s.KubeService(this, 'Service', {
      metadata: { name, namespace: props.namespace, labels },
      spec: {
        clusterIp: 'None', // headless: stable DNS for the StatefulSet's one pod
        selector,
        ports: [{ name: 'postgres', port: POSTGRES_PORT, targetPort: k8s.IntOrString.fromString('postgres') }],
      },
    });

    const dataMount = '/var/lib/postgresql/data';
    const pgIsReady: k8s.Probe = {
      exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', String(POSTGRES_PORT), '-U', this.user, '-d', this.database] },
      periodSeconds: 10, timeoutSeconds: 5,
    };
    this.statefulSet = new k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: { name, namespace: props.namespace, labels },
      spec: {
        serviceName: name,
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(uid),
            containers: [{
              name: 'postgres',
              image: props.image ?? `docker.io/library/postgres:${POSTGRES_MAJOR}`,
              imagePullPolicy: props.imagePullPolicy ?? 'IfNotPresent',
              ports: [{ name: 'postgres', containerPort: POSTGRES_PORT }],
              env: [
                { name: 'POSTGRES_USER', value: this.user },
                { name: 'POSTGRES_DB', value: this.database },
                { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: this.secretName, key: this.passwordKey } } },
                // A subdirectory: the volume's root holds lost+found on many provisioners.
                { name: 'PGDATA', value: `${dataMount}/pgdata` },
              ],
              resources: toResourceRequirements(resources),
              securityContext: restrictedContainerSecurityContext(),
              startupProbe: { ...pgIsReady, failureThreshold: 30 },
              readinessProbe: { ...pgIsReady, failureThreshold: 3 },
              livenessProbe: { ...pgIsReady, periodSeconds: 20, failureThreshold: 6 },
              volumeMounts: [
                { name: 'data', mountPath: dataMount },
                { name: 'run', mountPath: '/var/run/postgresql' },
                tmpMount(),
              ],
            }],
            volumes: [
              { name: 'run', emptyDir: { sizeLimit: k8s.Quantity.fromString('16Mi') } },
              tmpVolume('256Mi'),
            ],
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: 'data', labels: selector },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: props.storageClassName,
            resources: { requests: { storage: k8s.Quantity.fromString(props.storageSize ?? '10Gi') } },
          },
        }],
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      },
    });
  }

  backendStoreEnv(): k8s.EnvVar[] {
    return [
      { name: 'MLFLOW_DB_PASSWORD', valueFrom: { secretKeyRef: { name: this.secretName, key: this.passwordKey } } },
      // Kubernetes expands $(VAR) from earlier entries; the URL never appears in the manifest with the password.
      { name: BACKEND_STORE_ENV, value: `postgresql+psycopg2://${this.user}:$(MLFLOW_DB_PASSWORD)@${this.host}:${POSTGRES_PORT}/${this.database}` },
    ];
  }
}

