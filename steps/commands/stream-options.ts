// `--streams-per-file` and `--chunk-size` (download, mirror): how big files are fetched as
// several Range requests at once (steps/hub/ranged-download.ts). Checked here, at the edge.
import { ExitCode, UserError } from '../common/errors';
import { DEFAULT_STREAMS_PER_FILE, MAX_CHUNK_SIZE, MAX_STREAMS_PER_FILE, MIN_CHUNK_SIZE, parseByteSize } from '../hub/chunk-plan';

export const streamsPerFileOption = {
  type: 'number',
  default: DEFAULT_STREAMS_PER_FILE,
  describe: `Range requests in flight at once for one big file (1 = one stream per file); at most 16 Hub streams are open in all (or --concurrency, if higher)`,
} as const;

export const chunkSizeOption = {
  type: 'string',
  default: '64MiB',
  describe: 'Bytes per Range request of a big file (e.g. 16MiB, 1GiB); files smaller than two chunks use one stream',
} as const;

export interface StreamArgs {
  readonly streamsPerFile: number;
  readonly chunkSize: number;
}

/** Validates `--streams-per-file` and `--chunk-size`; a bad value is a usage error (exit 2). */
export function parseStreamOptions(streamsPerFile: unknown, chunkSize: unknown): StreamArgs {
  const streams = Number(streamsPerFile);
  if (!Number.isInteger(streams) || streams < 1 || streams > MAX_STREAMS_PER_FILE) {
    throw new UserError(`--streams-per-file must be an integer between 1 and ${MAX_STREAMS_PER_FILE} (got ${JSON.stringify(streamsPerFile)})`, { exitCode: ExitCode.Usage });
  }
  const bytes = typeof chunkSize === 'number' ? chunkSize : parseByteSize(String(chunkSize ?? ''));
  if (bytes === undefined || !Number.isInteger(bytes) || bytes < MIN_CHUNK_SIZE || bytes > MAX_CHUNK_SIZE) {
    throw new UserError(`--chunk-size must be a size between 1MiB and 1GiB, like 64MiB (got ${JSON.stringify(chunkSize)})`, { exitCode: ExitCode.Usage });
  }
  return { streamsPerFile: streams, chunkSize: bytes };
}
