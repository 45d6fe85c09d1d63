// Step results: one file per value in --output-dir (Argo output parameters read them with
// `valueFrom.path`), and one JSON object on stdout for people and scripts.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ExitCode, UserError } from './errors';

/** Output parameter names become file names: keep them simple. */
const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Writes each value to `<dir>/<name>` (no trailing newline, atomically via rename). No-op when
 * `dir` is undefined or empty.
 */
export async function writeOutputs(dir: string | undefined, values: Record<string, string | number | boolean | undefined>): Promise<void> {
  if (!dir) return;
  try {
    await fs.mkdir(dir, { recursive: true });
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (!NAME.test(name)) throw new Error(`bad output name '${name}'`);
      const file = path.join(dir, name);
      const tmp = `${file}.tmp-${process.pid}`;
      await fs.writeFile(tmp, String(value));
      await fs.rename(tmp, file);
    }
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('bad output name')) throw e;
    throw new UserError(`Cannot write output files to ${dir}: ${(e as Error).message}`, { exitCode: ExitCode.LocalStorage, cause: e });
  }
}

/** Prints the step's result as one JSON line on stdout (logs go to stderr). */
export function printResult(result: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(result) + '\n');
}
