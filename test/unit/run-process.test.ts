// The CLI's process wrapper (steps/common/run-process.ts): the exit code is main's; a main that
// is still pending when nothing is left to run (a promise nobody can settle) exits 1, not 0.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const MODULE = path.resolve(__dirname, '../../steps/common/run-process.ts');

/** Runs `body` (a function expression returning main's promise) through runAsProcess in a fresh Node. */
function runAs(body: string): { code: number | null; stderr: string } {
  const script = `require(${JSON.stringify(MODULE)}).runAsProcess(${body}, (e) => { process.stderr.write('onError: ' + e.message + '\\n'); return 7; });`;
  const r = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    cwd: path.resolve(__dirname, '../..'), encoding: 'utf8', timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr };
}

test('a main that never settles once the event loop is empty exits 1 with an internal error, not 0', () => {
  const r = runAs('() => new Promise(() => undefined)');
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/internal error \(a bug in model-mirror.*work unfinished/);
});

test('a main waiting on a timer is not cut short: its own code is the exit code', () => {
  const r = runAs('() => new Promise((resolve) => setTimeout(() => resolve(3), 300))');
  expect(r.code).toBe(3);
  expect(r.stderr).toBe('');
});

test('a main that resolves 0 exits 0; one that rejects exits with the code onError gives', () => {
  expect(runAs('async () => 0')).toEqual({ code: 0, stderr: '' });
  const failed = runAs('async () => { throw new Error("boom"); }');
  expect(failed.code).toBe(7);
  expect(failed.stderr).toMatch(/onError: boom/);
});
