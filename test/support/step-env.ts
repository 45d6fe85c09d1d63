// The environment a workflow pod gives the steps, pointed at this run's bench peers.
import type { Peers } from '../peers/peers';

export function stepEnv(peers: Peers): Record<string, string> {
  return {
    MLFLOW_TRACKING_URI: peers.mlflow.url,
    MLFLOW_S3_ENDPOINT_URL: peers.s3.endpoint,
    AWS_ACCESS_KEY_ID: peers.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: peers.s3.secretAccessKey,
    AWS_REGION: peers.s3.region,
  };
}
