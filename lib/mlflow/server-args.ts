// The `mlflow server` command line, built in one place: the synthesized Deployment runs it in
// the cluster and the test bench runs it on loopback, so both start MLflow the same way.

export interface MlflowServerArgsProps {
  /** Address to bind. @default '0.0.0.0' */
  readonly host?: string;
  /** @default 5000 */
  readonly port?: number;
  /**
   * SQLAlchemy URL of the backend store. Leave it out when it holds a password: `mlflow server`
   * then reads MLFLOW_BACKEND_STORE_URI from its environment, and the URL stays out of argv
   * (`ps`, /proc/<pid>/cmdline). @default - read from MLFLOW_BACKEND_STORE_URI
   */
  readonly backendStoreUri?: string;
  /** e.g. `s3://mlflow/artifacts`. Clients write artifacts there directly. */
  readonly defaultArtifactRoot: string;
  /**
   * Host header patterns MLflow (>= 3.5) accepts; anything else gets a plain-text 403.
   * Patterns include the port, e.g. `mlflow.ns.svc:*`.
   */
  readonly allowedHosts: readonly string[];
  /** Server worker processes. @default 2 */
  readonly workers?: number;
  /** Directory for Prometheus multiprocess metrics; when set, `--expose-prometheus` is passed. @default - no metrics */
  readonly prometheusDir?: string;
  /** Extra flags appended verbatim (escape hatch). @default [] */
  readonly extraArgs?: readonly string[];
}

/** Arguments after `mlflow` (so the first element is `server`). */
export function mlflowServerArgs(props: MlflowServerArgsProps): string[] {
  if (props.allowedHosts.length === 0) throw new Error('allowedHosts must not be empty: MLflow would reject every request');
  const args = [
    'server',
    '--host', props.host ?? '0.0.0.0',
    '--port', String(props.port ?? 5000),
    ...(props.backendStoreUri === undefined ? [] : ['--backend-store-uri', props.backendStoreUri]),
    '--default-artifact-root', props.defaultArtifactRoot,
    // Artifact serving is ON by default since MLflow 2.0 and would make the server proxy (and
    // rewrite) artifact URIs to mlflow-artifacts:/; clients must talk to S3 directly instead.
    '--no-serve-artifacts',
    '--allowed-hosts', props.allowedHosts.join(','),
    '--workers', String(props.workers ?? 2),
  ];
  if (props.prometheusDir) args.push('--expose-prometheus', props.prometheusDir);
  args.push(...(props.extraArgs ?? []));
  return args;
}
