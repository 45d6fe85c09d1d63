// The CLI's handling of bad command lines: a usage message and exit 2, and the command never runs.
import { runCli } from '../support/run-cli';

describe('model-mirror command line errors', () => {
  it.each([
    [['upload'], /Missing required arguments: source, dest/],
    [['download'], /Missing required arguments: model-id, dest/],
    [['upload', '--source', '/nonexistent', '--dest', 's3://b/p', '--bogus'], /Unknown argument: bogus/],
    [[], /Name a command/],
    [['uplaod'], /Unknown argument: uplaod|Did you mean upload/],
  ])('%j: usage error, exit 2, the handler does not run', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Run with --help for usage\./);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |ERROR:/);
  });

  it('--help prints the command\'s usage and exits 0', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { printed.push(a.join(' ')); });
    let r;
    try {
      r = await runCli(['download', '--help']);
    } finally {
      spy.mockRestore();
    }
    expect(r.code).toBe(0);
    expect(printed.join('\n')).toMatch(/model-mirror download --model-id ORG\/NAME --dest DIR/);
  });
});
