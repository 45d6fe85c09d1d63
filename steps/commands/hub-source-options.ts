// The options of every command that reads a model from the Hub (download, transfer, mirror),
// declared once so their names, defaults and help agree, and parsed once, at the edge, into the
// typed options downloadModel takes. Also the small integer/duration options other commands share.
import type { Argv } from 'yargs';
import { parseDuration } from '../common/abort';
import { ExitCode, UserError } from '../common/errors';
import type { DownloadModelOptions } from '../hub/download-model';
import { resolveHubConfig } from '../hub/hub-config';
import { parsePatternList } from '../hub/patterns';
import { chunkSizeOption, parseStreamOptions, streamsPerFileOption } from './stream-options';

/** An integer option in [min, max]; anything else is a usage error (exit 2) naming the option. */
export function integerIn(name: string, v: unknown, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserError(`--${name} must be an integer between ${min} and ${max} (got ${JSON.stringify(v)})`, { exitCode: ExitCode.Usage });
  }
  return n;
}

export const positiveInt = (name: string, v: unknown, max = 64): number => integerIn(name, v, 1, max);

/** `--idle-timeout`: how long a Hub answer may send nothing. */
export const idleTimeoutOption = {
  type: 'string',
  default: '60s',
  describe: 'Fail a Hub request (and retry it) when its answer sends no byte for this long: head or body, including hosts the Hub redirects to (e.g. 30s, 2m)',
} as const;

/** `--deadline`: stop cleanly once this much time has passed. */
export function deadlineOption(what: string) {
  return {
    type: 'string',
    describe: `Stop the ${what} when this much time has passed (e.g. 90m, 2h, or seconds): in-flight requests are aborted, partial files kept for a rerun to resume, exit 5`,
  } as const;
}

/** `--commit` (download, transfer): the commit prepare checked; see DownloadModelOptions.commitSha. */
export const commitOption = {
  type: 'string',
  describe: "Fetch exactly this 40-hex commit (prepare's commit_sha output) and record --revision as the requested revision: a branch that moved after prepare is not followed",
} as const;

/** What to download and from where, and how hard to try. `--concurrency` is each command's own (its help differs). */
export function withHubSourceOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('allow-patterns', { type: 'string', array: true, describe: 'Only files matching one of these globs (comma-separated, repeatable; `*` matches `/` too; `dir/` = everything under dir)' })
    .option('ignore-patterns', { type: 'string', array: true, describe: 'Skip files matching any of these globs (comma-separated, repeatable)' })
    .option('hub-url', { type: 'string', describe: 'Hub base URL [default: $HF_ENDPOINT, else https://huggingface.co]' })
    .option('token-file', { type: 'string', describe: 'File holding a Hub token (e.g. a mounted Secret) [default: $HF_TOKEN, else the file at $HF_TOKEN_PATH]' })
    .option('retries', { type: 'number', default: 5, describe: 'Retries per Hub request on 429/5xx/dropped connections (backoff + jitter, honours Retry-After)' })
    .option('idle-timeout', idleTimeoutOption)
    .option('streams-per-file', streamsPerFileOption)
    .option('chunk-size', chunkSizeOption) as unknown as Argv<T>;
}

/** The arguments withHubSourceOptions declares (yargs gives both spellings; the dashed ones are read). */
export interface HubSourceArgs {
  'allow-patterns'?: string[];
  'ignore-patterns'?: string[];
  'hub-url'?: string;
  'token-file'?: string;
  retries: number;
  'idle-timeout': string;
  'streams-per-file': number;
  'chunk-size': string;
  concurrency: number;
}

export type HubSource = Required<Pick<DownloadModelOptions, 'hubUrl' | 'retry' | 'idleTimeoutMs' | 'streamsPerFile' | 'chunkSize' | 'concurrency'>>
  & Pick<DownloadModelOptions, 'accessToken' | 'allowPatterns' | 'ignorePatterns'>;

/** Checks and converts the Hub source options; a bad value is a usage error (exit 2). */
export function hubSourceFromArgs(args: HubSourceArgs): HubSource {
  const hub = resolveHubConfig({ hubUrl: args['hub-url'], tokenFile: args['token-file'] });
  return {
    hubUrl: hub.hubUrl,
    accessToken: hub.accessToken,
    allowPatterns: parsePatternList(args['allow-patterns']),
    ignorePatterns: parsePatternList(args['ignore-patterns']),
    concurrency: positiveInt('concurrency', args.concurrency),
    retry: { retries: integerIn('retries', args.retries, 0, 50) },
    idleTimeoutMs: parseDuration(args['idle-timeout'], '--idle-timeout'),
    ...parseStreamOptions(args['streams-per-file'], args['chunk-size']),
  };
}
