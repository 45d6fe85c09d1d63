import type { k8s } from 'cdk8s-plus-28';

/** Env var every MLflow container reads its SQLAlchemy URL from (`$(MLFLOW_BACKEND_STORE_URI)`). */
export const BACKEND_STORE_ENV = 'MLFLOW_BACKEND_STORE_URI';

/** Something that can hand MLflow its backend store URL without putting it in the manifest. */
export interface IBackendStore {
  /** Env vars that define BACKEND_STORE_ENV (Secret refs, possibly composed with $(VAR)). */
  backendStoreEnv(): k8s.EnvVar[];
  /** Short description for the synth summary. */
  readonly description: string;
}
