// `model-mirror transfer` (and mirror's --bounded-scratch): argument parsing. Usage errors exit 2
// before anything is contacted (the Hub URL below would refuse every connection anyway).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/run-cli';

const OFFLINE = { HF_ENDPOINT: 'http://127.0.0.1:9', HF_TOKEN: undefined, HF_TOKEN_PATH: undefined };
const base = ['transfer', '--model-id', 'org/name', '--dest', path.join(os.tmpdir(), 'mm-transfer-cli'), '--s3-destination', 's3://bucket/prefix'];

describe('model-mirror transfer: command line', () => {
  it.each([
    [['transfer'], /Missing required arguments: model-id, dest, s3-destination/],
    [['transfer', '--model-id', 'org/name', '--dest', '/tmp/x'], /Missing required argument: s3-destination/],
    [[...base, '--bogus'], /Unknown argument: bogus/],
    [[...base, '--concurrency', '0'], /--concurrency must be an integer between 1 and 64/],
    [[...base, '--part-concurrency', '65'], /--part-concurrency must be an integer between 1 and 64/],
    [[...base, '--part-size-mib', '4'], /--part-size-mib must be an integer between 5 and 5120/],
    [[...base, '--retries', '-1'], /--retries must be an integer between 0 and 50/],
    [[...base, '--upload-retries', '21'], /--upload-retries must be an integer between 0 and 20/],
    [[...base, '--idle-timeout', 'soon'], /--idle-timeout/],
    [[...base, '--layout', 'flat'], /Invalid values:[\s\S]*layout/],
    [['transfer', '--model-id', 'org/name', '--dest', '/tmp/x', '--s3-destination', 'http://bucket/prefix'], /s3:\/\//],
    [['mirror', 'org/name', '--bounded-scratch', '--no-overlap'], /--bounded-scratch needs the overlapped transfer/],
    // mirror, download and transfer share one declaration and one check of the Hub options
    [['mirror', 'org/name', '--concurrency', '0'], /--concurrency must be an integer between 1 and 64/],
    [['mirror', 'org/name', '--retries', 'many'], /--retries must be an integer between 0 and 50/],
    [['download', '--model-id', 'org/name', '--dest', '/tmp/x', '--streams-per-file', '0'], /--streams-per-file must be an integer/],
  ])('%j: usage error, exit 2', async (args, message) => {
    const r = await runCli(args as string[], OFFLINE);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('--dest-uri is the same option as --s3-destination', async () => {
    // Parsed past the required-argument check: the next error is the (bad) concurrency.
    const r = await runCli(['transfer', '--model-id', 'org/name', '--dest', '/tmp/x', '--dest-uri', 's3://bucket/prefix', '--concurrency', '0'], OFFLINE);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--concurrency must be/);
    expect(r.stderr).not.toMatch(/s3-destination/);
  });

  it('a Hub that does not answer fails as unavailable after the checks, not as a usage error', async () => {
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-transfer-cli-'));
    try {
      const r = await runCli([...base.slice(0, 4), dest, '--s3-destination', 's3://bucket/prefix', '--bounded-scratch', '--retries', '0'], OFFLINE);
      expect(r.code).not.toBe(2);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/transfer failed on the download side/);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });

  it('--help describes the command, the overlap and --bounded-scratch', async () => {
    const printed: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { printed.push(a.join(' ')); });
    let r;
    try {
      r = await runCli(['transfer', '--help']);
    } finally {
      spy.mockRestore();
    }
    expect(r.code).toBe(0);
    const help = printed.join('\n');
    expect(help).toMatch(/model-mirror transfer --model-id ORG\/NAME --dest DIR --s3-destination s3:\/\/BUCKET\/PREFIX/);
    expect(help).toMatch(/--bounded-scratch/);
    expect(help).toMatch(/--dest-uri/);
    expect(help).toMatch(/register --source DIR/);
  });
});
