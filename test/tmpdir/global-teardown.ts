// Root jest globalTeardown: removes this run's temporary directory (kept with
// MODEL_MIRROR_KEEP_TMP=1, to look at what the tests left).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT_PREFIX } from './tmp-root';

export default function globalTeardown(): void {
  const root = process.env.TMPDIR;
  if (!root || !path.basename(root).startsWith(ROOT_PREFIX)) return;
  if (process.env.MODEL_MIRROR_KEEP_TMP === '1') {
    process.stderr.write(`temporary files of this run kept in ${root}\n`);
  } else {
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (process.env.MODEL_MIRROR_TEST_TMP_PARENT) process.env.TMPDIR = process.env.MODEL_MIRROR_TEST_TMP_PARENT;
  else delete process.env.TMPDIR;
}
