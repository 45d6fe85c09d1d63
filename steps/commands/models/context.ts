// What every `models` subcommand needs: the MLflow client and the artifact store's S3 client,
// from the same flags and environment as the mirror steps.
import type { S3Client } from '@aws-sdk/client-s3';
import { s3ClientFromEnv } from '../../mlflow/artifacts';
import { clientFromArgs, trackingUriOption } from '../../mlflow/cli-options';
import type { MlflowClient } from '../../mlflow/client';
import { type OutputMode, outputMode } from '../../common/table';

export interface ModelsArgs {
  trackingUri?: string;
  json?: boolean;
}

export { trackingUriOption };

/** Runs `fn` with both clients; the S3 client's sockets are closed afterwards. */
export async function withClients<T>(args: ModelsArgs, fn: (c: { mlflow: MlflowClient; s3: S3Client; mode: OutputMode }) => Promise<T>): Promise<T> {
  const mlflow = clientFromArgs(args);
  const s3 = s3ClientFromEnv();
  try {
    return await fn({ mlflow, s3, mode: outputMode(args) });
  } finally {
    s3.destroy();
  }
}
