// An MLflow tracking server run by someone else (mlflow.external): nothing is synthesized for
// it; the workflow pods get its URI and, from a Secret the user creates, the credentials the
// steps' MLflow client sends (MLFLOW_TRACKING_TOKEN as Bearer, or USERNAME/PASSWORD as Basic).
import type { k8s } from 'cdk8s-plus-28';
import type { ExternalMlflowConfig } from '../config';
import { kubectlCreateSecret, SecretLedger } from '../secret-values';

export const MLFLOW_AUTH_KEYS = {
  token: ['MLFLOW_TRACKING_TOKEN'],
  basic: ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD'],
  none: [],
} as const;

export class ExternalMlflow {
  readonly trackingUri: string;
  private readonly secretName: string;
  private readonly keys: readonly string[];

  constructor(config: ExternalMlflowConfig, opts: { namespace: string; ledger: SecretLedger }) {
    this.trackingUri = config.trackingUri;
    this.secretName = config.existingSecret;
    this.keys = MLFLOW_AUTH_KEYS[config.auth];
    if (this.keys.length > 0) {
      opts.ledger.add({
        namespace: opts.namespace, name: this.secretName, keys: [...this.keys], emitted: false, required: true,
        purpose: `credentials for the external MLflow server at ${this.trackingUri}`,
        createCommand: kubectlCreateSecret(opts.namespace, this.secretName, [...this.keys]),
      });
    }
  }

  /** Env of a container that talks to the server: each credential from the Secret key of the same name. */
  authEnv(): k8s.EnvVar[] {
    return this.keys.map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: this.secretName, key } } }));
  }

  get description(): string {
    return `external MLflow${this.keys.length > 0 ? `, credentials from Secret ${this.secretName}` : ''}`;
  }
}
