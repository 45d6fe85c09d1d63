// Optional: SeaweedFS's S3 identities file (the `s3.json` form: identities with credentials and
// actions) as a Secret in SeaweedFS's namespace, so the S3 gateway knows model-mirror's keys.
// It holds the secret key in plaintext, so it is only built with secrets.writePlaintext.
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { ConfigError } from '../config-reader';
import { standardLabels } from '../common/labels';
import { SECRET_ENV, SecretLedger } from '../secret-values';
import { SEAWEEDFS_VERSION } from '../versions';

export interface S3IdentitiesConfigProps {
  /** Namespace SeaweedFS runs in. @default 'seaweedfs' */
  readonly namespace?: string;
  /** @default 'seaweedfs-s3-config' */
  readonly secretName?: string;
  /** Key of the Secret holding the JSON (what SeaweedFS's Helm chart mounts). @default 'seaweedfs_s3_config' */
  readonly key?: string;
  /** @default 'model-mirror' */
  readonly identityName?: string;
  /** Bucket the identity may use. */
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  /** @default 'model-mirror' */
  readonly instance?: string;
  /** @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** @default - not recorded */
  readonly ledger?: SecretLedger;
}

/** The identities document SeaweedFS's S3 gateway reads (`-s3.config` / the Helm chart's secret). */
export function s3IdentitiesDocument(identityName: string, bucket: string, accessKeyId: string, secretAccessKey: string): unknown {
  return {
    identities: [{
      name: identityName,
      credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
      // Scoped to the one bucket: read, write, list and tag objects (MLflow tags nothing today,
      // but S3 clients may set tags on multipart uploads).
      actions: ['Read', 'Write', 'List', 'Tagging'].map((a) => `${a}:${bucket}`),
    }],
  };
}

export class S3IdentitiesConfig extends Construct {
  readonly secret: k8s.KubeSecret;

  constructor(scope: Construct, id: string, props: S3IdentitiesConfigProps) {
    super(scope, id);
    if (!props.credentials) {
      throw new ConfigError(`config.s3.seaweedfsConfig.enabled: needs the S3 keys at synth time: set ${SECRET_ENV.s3AccessKeyId} and ${SECRET_ENV.s3SecretAccessKey}`);
    }
    const namespace = props.namespace ?? 'seaweedfs';
    const name = props.secretName ?? 'seaweedfs-s3-config';
    const key = props.key ?? 'seaweedfs_s3_config';
    const doc = s3IdentitiesDocument(props.identityName ?? 'model-mirror', props.bucket, props.credentials.accessKeyId, props.credentials.secretAccessKey);
    this.secret = new k8s.KubeSecret(this, 'Resource', {
      metadata: {
        name, namespace,
        labels: standardLabels({ name: 'seaweedfs-s3', instance: props.instance ?? 'model-mirror', component: 's3-identities', version: SEAWEEDFS_VERSION, extra: props.labels }),
      },
      type: 'Opaque',
      stringData: { [key]: JSON.stringify(doc, null, 2) },
    });
    props.ledger?.add({
      namespace, name, keys: [key], emitted: true, required: false,
      purpose: 'SeaweedFS S3 identities (s3.json) granting model-mirror\'s keys access to the bucket',
      createCommand: `kubectl create secret generic ${name} -n ${namespace} --from-file=${key}=s3.json`,
    });
  }
}
