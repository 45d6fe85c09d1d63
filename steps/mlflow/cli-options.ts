// yargs options shared by the MLflow-facing commands.
import type { Options } from 'yargs';
import { MlflowClient } from './client';
import { LOGGED_MODEL_MODES, type LoggedModelMode } from './register';

export const trackingUriOption: Options = {
  type: 'string',
  describe: 'MLflow tracking server URL (default: $MLFLOW_TRACKING_URI). Auth: MLFLOW_TRACKING_USERNAME/PASSWORD (Basic) or MLFLOW_TRACKING_TOKEN (Bearer)',
};

export const outputDirOption: Options = {
  type: 'string',
  describe: 'Write each result value to <dir>/<name> (for Argo output parameters)',
};

export const loggedModelOption: Options = {
  choices: LOGGED_MODEL_MODES as LoggedModelMode[],
  default: 'none' as LoggedModelMode,
  describe: 'MLflow 3 logged model: none (default; the MLmodel has no model_id, storage is not doubled) or copy (server-side copy of the whole model into the logged model, linked from the run and the version; doubles the stored bytes)',
};

export function clientFromArgs(args: { trackingUri?: string }): MlflowClient {
  return MlflowClient.fromEnv(args.trackingUri);
}
