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

export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
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
    const code = await main(args);
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
