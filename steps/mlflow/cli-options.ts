// yargs options shared by the MLflow-facing commands.
import type { Options } from 'yargs';
import { MlflowClient } from './client';

export const trackingUriOption: Options = {
  type: 'string',
  describe: 'MLflow tracking server URL (default: $MLFLOW_TRACKING_URI). Auth: MLFLOW_TRACKING_USERNAME/PASSWORD (Basic) or MLFLOW_TRACKING_TOKEN (Bearer)',
};

export const outputDirOption: Options = {
  type: 'string',
  describe: 'Write each result value to <dir>/<name> (for Argo output parameters)',
};

export function clientFromArgs(args: { trackingUri?: string }): MlflowClient {
  return MlflowClient.fromEnv(args.trackingUri);
}
