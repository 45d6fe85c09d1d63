// An existing database: an existing Secret holds the full SQLAlchemy URL (e.g.
// postgresql+psycopg2://user:pass@host:5432/mlflow; name the driver: with SQLAlchemy 2.1 a bare
// postgresql:// means psycopg 3, which the MLflow -full image lacks). Emitted only with writePlaintext and a URL from env.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { standardLabels } from '../common/labels';
import { kubectlCreateSecret, SecretLedger } from '../secret-values';
import { BACKEND_STORE_ENV, IBackendStore } from './backend-store';

export interface ExternalDatabaseProps {
  readonly namespace: string;
  /** @default 'model-mirror-database' */
  readonly secretName?: string;
  /** @default 'MLFLOW_BACKEND_STORE_URI' */
  readonly uriKey?: string;
  /** @default - Secret referenced only */
  readonly url?: string;
  /** @default false */
  readonly writePlaintext?: boolean;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** @default - not recorded */
  readonly ledger?: SecretLedger;
}

export class ExternalDatabase extends Construct implements IBackendStore {
  readonly secretName: string;
  readonly uriKey: string;
  readonly secret?: k8s.KubeSecret;
  readonly description: string;

  constructor(scope: Construct, id: string, props: ExternalDatabaseProps) {
    super(scope, id);
    this.secretName = props.secretName ?? 'model-mirror-database';
    this.uriKey = props.uriKey ?? BACKEND_STORE_ENV;
    this.description = `external database (URL in Secret ${this.secretName}, key ${this.uriKey})`;
    const emit = Boolean(props.writePlaintext && props.url);
    if (emit && props.url) {
      this.secret = new k8s.KubeSecret(this, 'Secret', {
        metadata: {
          name: this.secretName, namespace: props.namespace,
          labels: standardLabels({ name: 'postgres', instance: props.instance ?? 'model-mirror', component: 'database', version: 'external', extra: props.labels }),
        },
        type: 'Opaque',
        stringData: { [this.uriKey]: props.url },
      });
    }
    props.ledger?.add({
      namespace: props.namespace, name: this.secretName, keys: [this.uriKey], emitted: emit, required: true,
      purpose: 'SQLAlchemy URL of the external MLflow database',
      createCommand: kubectlCreateSecret(props.namespace, this.secretName, [this.uriKey]),
    });
  }

  backendStoreEnv(): k8s.EnvVar[] {
    return [{ name: BACKEND_STORE_ENV, valueFrom: { secretKeyRef: { name: this.secretName, key: this.uriKey } } }];
  }
}
