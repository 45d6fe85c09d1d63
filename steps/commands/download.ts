// `model-mirror download`: fetch one model revision from the Hub into a directory, verified,
// with mirror-manifest.json next to the files.
import type { Argv, CommandModule } from 'yargs';
import { usageText } from '../common/help-text';
import { Deadline, parseDuration } from '../common/abort';
import { ExitCode, UserError } from '../common/errors';
import { writeOutputs } from '../common/outputs';
import { downloadModel } from '../hub/download-model';
import { resolveHubConfig } from '../hub/hub-config';
import { parsePatternList } from '../hub/patterns';
import { chunkSizeOption, parseStreamOptions, streamsPerFileOption } from './stream-options';
import { type PolicyArgs, policyFromArgs, withPolicyOptions } from '../policy/cli-options';

export interface DownloadArgs extends PolicyArgs {
  'model-id': string;
  revision: string;
  'allow-patterns'?: string[];
  'ignore-patterns'?: string[];
  dest: string;
  'hub-url'?: string;
  'token-file'?: string;
  concurrency: number;
  retries: number;
  'idle-timeout': string;
  deadline?: string;
  'output-dir'?: string;
  'streams-per-file': number;
  'chunk-size': string;
}

export function positiveInt(name: string, v: unknown, max = 64): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UserError(`--${name} must be an integer between 1 and ${max} (got ${JSON.stringify(v)})`, { exitCode: ExitCode.Usage });
  }
  return n;
}

/** `--idle-timeout` (download, mirror): how long a Hub answer may send nothing. */
export const idleTimeoutOption = {
  type: 'string',
  default: '60s',
  describe: 'Fail a Hub request (and retry it) when its answer sends no byte for this long: head or body, including hosts the Hub redirects to (e.g. 30s, 2m)',
} as const;

/** `--deadline` (download, mirror): stop cleanly once this much time has passed. */
export function deadlineOption(what: string) {
  return {
    type: 'string',
    describe: `Stop the ${what} when this much time has passed (e.g. 90m, 2h, or seconds): in-flight requests are aborted, partial files kept for a rerun to resume, exit 5`,
  } as const;
}

export const downloadCommand: CommandModule<object, DownloadArgs> = {
  command: 'download',
  describe: 'Download a model revision from the HuggingFace Hub, verify every file, write mirror-manifest.json',
  builder: (y: Argv) =>
    withPolicyOptions(y
      .usage(usageText(
        '$0 download --model-id ORG/NAME --dest DIR [options]',
        'Resolves --revision to its commit sha, lists the files once, downloads them in parallel to DIR (resuming partial `.part` files with HTTP Range), verifies size + sha256 / git blob sha1 against the Hub, and writes DIR/mirror-manifest.json. Rerunning is cheap: complete files are verified and kept.',
        'Environment: HF_ENDPOINT (Hub URL), HF_TOKEN (token), HF_TOKEN_PATH (file holding the token), ARGO_PROGRESS_FILE (progress for the Argo UI, written as N/M bytes).',
      ))
      .option('model-id', { type: 'string', demandOption: true, describe: 'Hub repo id, `org/name` (legacy single names like `gpt2` also work)' })
      .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or 40-hex commit sha; resolved to a commit sha first' })
      .option('allow-patterns', { type: 'string', array: true, describe: 'Only files matching one of these globs (comma-separated, repeatable; `*` matches `/` too; `dir/` = everything under dir)' })
      .option('ignore-patterns', { type: 'string', array: true, describe: 'Skip files matching any of these globs (comma-separated, repeatable)' })
      .option('dest', { type: 'string', demandOption: true, describe: 'Directory to download into (created if missing)' })
      .option('hub-url', { type: 'string', describe: 'Hub base URL [default: $HF_ENDPOINT, else https://huggingface.co]' })
      .option('token-file', { type: 'string', describe: 'File holding a Hub token (e.g. a mounted Secret) [default: $HF_TOKEN, else the file at $HF_TOKEN_PATH]' })
      .option('concurrency', { type: 'number', default: 4, describe: 'Files downloaded in parallel' })
      .option('retries', { type: 'number', default: 5, describe: 'Retries per request on 429/5xx/dropped connections (backoff + jitter, honours Retry-After)' })
      .option('idle-timeout', idleTimeoutOption)
      .option('deadline', deadlineOption('download'))
      .option('streams-per-file', streamsPerFileOption)
      .option('chunk-size', chunkSizeOption)
      .option('output-dir', { type: 'string', describe: 'Write Argo output parameters here: commit_sha, total_bytes, file_count' })
      .example('$0 download --model-id openai-community/gpt2 --dest /data/gpt2', 'Whole repo at main')
      .example('$0 download --model-id meta-llama/Llama-3.2-1B --revision v1.0 --token-file /secrets/hf/token --dest /data/llama', 'Gated repo with a mounted token')
      .example("$0 download --model-id org/name --allow-patterns '*.safetensors,*.json' --ignore-patterns 'original/' --dest /data/m", 'Only safetensors + json, not the original/ folder')) as unknown as Argv<DownloadArgs>,
  handler: async (args) => {
    const policy = policyFromArgs(args);
    const hub = resolveHubConfig({ hubUrl: args['hub-url'], tokenFile: args['token-file'] });
    const retries = Number(args.retries);
    if (!Number.isInteger(retries) || retries < 0 || retries > 50) {
      throw new UserError(`--retries must be an integer between 0 and 50 (got ${args.retries})`, { exitCode: ExitCode.Usage });
    }
    const idleTimeoutMs = parseDuration(args['idle-timeout'], '--idle-timeout');
    const streams = parseStreamOptions(args['streams-per-file'], args['chunk-size']);
    const deadline = Deadline.start(args.deadline);
    const manifest = await downloadModel({
      modelId: args['model-id'],
      revision: args.revision,
      dest: args.dest,
      hubUrl: hub.hubUrl,
      accessToken: hub.accessToken,
      allowPatterns: parsePatternList(args['allow-patterns']),
      ignorePatterns: parsePatternList(args['ignore-patterns']),
      concurrency: positiveInt('concurrency', args.concurrency),
      retry: { retries },
      policy,
      idleTimeoutMs,
      ...streams,
      signal: deadline?.signal,
    }).finally(() => deadline?.clear());
    await writeOutputs(args['output-dir'], {
      commit_sha: manifest.commitSha,
      total_bytes: manifest.totalBytes,
      file_count: manifest.fileCount,
    });
  },
};
