// Runs the model-mirror CLI in-process (the same `main` the bundle calls), with temporary env
// overrides, capturing what it prints. `undefined` in `env` unsets the variable for the call.
import { main } from '../../steps/cli';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The JSON objects printed on stdout, one per line (step results). */
  readonly json: Record<string, unknown>[];
}

export interface RunCliOptions {
  /**
   * Give up after this long: the env and the output are restored (a run that never ends would
   * otherwise leave its overrides for the tests after it) and the error carries what the CLI
   * printed so far, to tell where it hung. The run itself is not stopped. @default no limit
   */
  readonly timeoutMs?: number;
}

export async function runCli(args: string[], env: Record<string, string | undefined> = {}, opts: RunCliOptions = {}): Promise<CliResult> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const out: string[] = [];
  const err: string[] = [];
  const so = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { out.push(String(c)); return true; });
  const se = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { err.push(String(c)); return true; });
  try {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_resolve, reject) => {
      if (opts.timeoutMs === undefined) return;
      timer = setTimeout(() => {
        const tail = err.join('').split('\n').slice(-40).join('\n');
        reject(new Error(`model-mirror ${args.join(' ')} did not finish in ${opts.timeoutMs} ms; its stderr so far:\n${tail}`));
      }, opts.timeoutMs);
    });
    const code = await Promise.race([main(args), hung]).finally(() => clearTimeout(timer));
    const stdout = out.join('');
    const json = stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code, stdout, stderr: err.join(''), json };
  } finally {
    so.mockRestore();
    se.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
