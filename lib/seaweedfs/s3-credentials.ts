// How pods reach SeaweedFS's S3 API: a ConfigMap with the (non-secret) endpoint settings, and a
// Secret with the access keys that is only referenced by default (the user creates it) and only
// emitted, in plaintext, when the config opts in with secrets.writePlaintext. With `podIdentity`
// there are no keys at all: the ServiceAccounts carry the cloud's identity annotations and the
// AWS SDK's default credential chain (web identity token, container endpoint, ...) finds them.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { standardLabels } from '../common/labels';
import { kubectlCreateSecret, SecretLedger } from '../secret-values';
import { SEAWEEDFS_VERSION } from '../versions';

export const S3_SECRET_KEYS = { accessKeyId: 'AWS_ACCESS_KEY_ID', secretAccessKey: 'AWS_SECRET_ACCESS_KEY' } as const;

export type S3Auth = 'staticKeys' | 'podIdentity';

export interface S3CredentialsProps {
  /** @default 'staticKeys' */
  readonly auth?: S3Auth;
  /** Annotations for the ServiceAccounts of pods that use S3 (podIdentity). @default {} */
  readonly serviceAccountAnnotations?: Readonly<Record<string, string>>;
  readonly namespace: string;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** S3 endpoint URL. @default 'http://seaweedfs-s3.seaweedfs.svc:8333' */
  readonly endpoint?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Name of the Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. @default 'model-mirror-s3' */
  readonly secretName?: string;
  /** Name of the emitted endpoint ConfigMap. @default 'model-mirror-s3-endpoint' */
  readonly configMapName?: string;
  /**
   * Key values to write into the Secret. Only honoured with `writePlaintext`.
   * @default - the Secret is referenced, not emitted
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Opt-in to writing the Secret's plaintext values to the manifests. @default false */
  readonly writePlaintext?: boolean;
  /** Records what the user must create (or what was written). @default - not recorded */
  readonly ledger?: SecretLedger;
}

export class S3Credentials extends Construct {
  readonly auth: S3Auth;
  /** Put these on the ServiceAccount of every pod that uses containerEnv() (empty unless podIdentity). */
  readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  readonly secretName: string;
  readonly configMapName: string;
  readonly configMap: k8s.KubeConfigMap;
  /** Present only when plaintext values were written. */
  readonly secret?: k8s.KubeSecret;

  constructor(scope: Construct, id: string, props: S3CredentialsProps) {
    super(scope, id);
    this.auth = props.auth ?? 'staticKeys';
    this.serviceAccountAnnotations = this.auth === 'podIdentity' ? { ...(props.serviceAccountAnnotations ?? {}) } : {};
    this.secretName = props.secretName ?? 'model-mirror-s3';
    this.configMapName = props.configMapName ?? 'model-mirror-s3-endpoint';
    const endpoint = props.endpoint ?? 'http://seaweedfs-s3.seaweedfs.svc:8333';
    const region = props.region ?? 'us-east-1';
    const labels = standardLabels({ name: 'seaweedfs-s3', instance: props.instance ?? 'model-mirror', component: 's3-client', version: SEAWEEDFS_VERSION, extra: props.labels });

    this.configMap = new k8s.KubeConfigMap(this, 'Endpoint', {
      metadata: { name: this.configMapName, namespace: props.namespace, labels },
      data: {
        // MLflow (boto3) reads MLFLOW_S3_ENDPOINT_URL; AWS SDKs and the aws CLI read AWS_ENDPOINT_URL_S3.
        MLFLOW_S3_ENDPOINT_URL: endpoint,
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_DEFAULT_REGION: region,
        AWS_REGION: region,
      },
    });

    if (this.auth === 'podIdentity') return;
    const emit = Boolean(props.writePlaintext && props.credentials);
    if (emit && props.credentials) {
      this.secret = new k8s.KubeSecret(this, 'Secret', {
        metadata: { name: this.secretName, namespace: props.namespace, labels },
        type: 'Opaque',
        stringData: {
          [S3_SECRET_KEYS.accessKeyId]: props.credentials.accessKeyId,
          [S3_SECRET_KEYS.secretAccessKey]: props.credentials.secretAccessKey,
        },
      });
    }
    const keys = [S3_SECRET_KEYS.accessKeyId, S3_SECRET_KEYS.secretAccessKey];
    props.ledger?.add({
      namespace: props.namespace, name: this.secretName, keys, emitted: emit, required: true,
      purpose: 'S3 (SeaweedFS) access keys for MLflow and the workflow pods',
      createCommand: kubectlCreateSecret(props.namespace, this.secretName, keys),
    });
  }

  /** Env for a container that talks to S3: endpoint/region from the ConfigMap, keys from the Secret (staticKeys only). */
  containerEnv(): k8s.EnvVar[] {
    const fromConfigMap = (name: string): k8s.EnvVar => ({ name, valueFrom: { configMapKeyRef: { name: this.configMapName, key: name } } });
    const fromSecret = (name: string): k8s.EnvVar => ({ name, valueFrom: { secretKeyRef: { name: this.secretName, key: name } } });
    return [
      fromConfigMap('MLFLOW_S3_ENDPOINT_URL'),
      fromConfigMap('AWS_ENDPOINT_URL_S3'),
      fromConfigMap('AWS_DEFAULT_REGION'),
      fromConfigMap('AWS_REGION'),
      ...(this.auth === 'staticKeys' ? [fromSecret(S3_SECRET_KEYS.accessKeyId), fromSecret(S3_SECRET_KEYS.secretAccessKey)] : []),
    ];
  }
}
