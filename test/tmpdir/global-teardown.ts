// Root jest globalTeardown: removes this run's temporary directory (kept with
// MODEL_MIRROR_KEEP_TMP=1, to look at what the tests left).
import { releaseRunTmpDir } from './tmp-root';

export default function globalTeardown(): void {
  const keep = process.env.MODEL_MIRROR_KEEP_TMP === '1';
  const root = releaseRunTmpDir(process.env, keep);
  if (root && keep) process.stderr.write(`temporary files of this run kept in ${root}\n`);
}
