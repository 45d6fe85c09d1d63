// Root jest globalSetup (all projects): this run's temporary directory, see tmp-root.ts.
import { useRunTmpDir } from './tmp-root';

export default function globalSetup(): void {
  useRunTmpDir();
}
