// jest globalSetup of the `integration` project: starts PostgreSQL, SeaweedFS and MLflow on
// 127.0.0.1 and writes the Peers object to PEERS_FILE (see peers.ts and bench.ts).
import { startBench } from './bench';

export default async function globalSetup(): Promise<void> {
  await startBench();
}
