// jest globalTeardown of the `integration` project: stops the peers globalSetup started and
// removes their data (kept when MODEL_MIRROR_KEEP_PEERS=1); logs stay under .peers/logs/.
import { stopBench } from './bench';

export default async function globalTeardown(): Promise<void> {
  await stopBench();
}
