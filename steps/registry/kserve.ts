// `models resolve --format kserve`: an InferenceService for KServe's huggingface runtime reading
// the version's serving directory from S3. KServe's storage initializer takes S3 credentials from
// the Secrets listed on the predictor's ServiceAccount: a Secret whose data has the keys named in
// the inferenceservice-config ConfigMap (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY by default),
// and for a non-AWS store the serving.kserve.io/s3-endpoint (host[:port], no scheme),
// s3-usehttps and s3-verifyssl annotations on that Secret.
import type { S3Config } from '../s3/client';

export interface KserveOptions {
  readonly storageUri: string;
  /** Registered model name + version: the default names and the labels. */
  readonly modelName: string;
  readonly version: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly secretName?: string;
  readonly s3: Pick<S3Config, 'endpoint' | 'region'>;
  /** Real key values for the Secret (only when the user asked for them); placeholders otherwise. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export const CREDENTIAL_PLACEHOLDER = 'REPLACE_ME';

/** A DNS-1035 label (what KServe requires of an InferenceService name), at most 63 characters. */
export function kserveName(text: string): string {
  let s = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '');
  if (!s) s = 'model';
  return s.slice(0, 63).replace(/-+$/, '');
}

type Manifest = Record<string, unknown>;

export function kserveManifests(opts: KserveOptions): Manifest[] {
  const name = opts.name ?? kserveName(`${opts.modelName}-v${opts.version}`);
  const secretName = opts.secretName ?? `${name}-s3`;
  const serviceAccount = opts.serviceAccount ?? `${name}-s3`;
  const ns = opts.namespace ? { namespace: opts.namespace } : {};
  const labels = { 'app.kubernetes.io/managed-by': 'model-mirror', 'model-mirror/registered-model-version': opts.version };
  const annotations: Record<string, string> = {};
  if (opts.s3.endpoint) {
    const u = new URL(opts.s3.endpoint);
    const https = u.protocol === 'https:';
    annotations['serving.kserve.io/s3-endpoint'] = u.host + (u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, ''));
    annotations['serving.kserve.io/s3-usehttps'] = https ? '1' : '0';
    if (https) annotations['serving.kserve.io/s3-verifyssl'] = '1';
  }
  if (opts.s3.region) annotations['serving.kserve.io/s3-region'] = opts.s3.region;
  const secret: Manifest = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: secretName, ...ns, labels: { 'app.kubernetes.io/managed-by': 'model-mirror' }, annotations },
    type: 'Opaque',
    stringData: {
      AWS_ACCESS_KEY_ID: opts.credentials?.accessKeyId ?? CREDENTIAL_PLACEHOLDER,
      AWS_SECRET_ACCESS_KEY: opts.credentials?.secretAccessKey ?? CREDENTIAL_PLACEHOLDER,
    },
  };
  const sa: Manifest = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: serviceAccount, ...ns, labels: { 'app.kubernetes.io/managed-by': 'model-mirror' } },
    secrets: [{ name: secretName }],
  };
  const isvc: Manifest = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name,
      ...ns,
      labels,
      annotations: { 'model-mirror/registered-model': opts.modelName },
    },
    spec: {
      predictor: {
        serviceAccountName: serviceAccount,
        model: {
          modelFormat: { name: 'huggingface' },
          storageUri: opts.storageUri,
        },
      },
    },
  };
  return [secret, sa, isvc];
}
