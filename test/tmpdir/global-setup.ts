// Root jest globalSetup (all projects): this run's temporary directory, see tmp-root.ts.
import * as os from 'node:os';
import { makeRoot, removeStaleRoots } from './tmp-root';

export default function globalSetup(): void {
  const parent = os.tmpdir();
  removeStaleRoots(parent);
  const root = makeRoot(parent);
  process.env.MODEL_MIRROR_TEST_TMP_PARENT = process.env.TMPDIR ?? '';
  // Workers are forked after globalSetup and inherit this environment.
  process.env.TMPDIR = root;
}
