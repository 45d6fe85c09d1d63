// jest globalSetup of the `integration` project: starts PostgreSQL, SeaweedFS and MLflow on
// 127.0.0.1 and writes the Peers object to PEERS_FILE (see peers.ts and bench.ts).
import { useRunTmpDir } from '../tmpdir/tmp-root';
import { startBench } from './bench';

export default async function globalSetup(): Promise<void> {
  // Before the peers start, so their temporary files go to the run's directory (tmp-root.ts).
  useRunTmpDir();
  await startBench();
}
