// Which byte ranges a big file is fetched in, and when a file is big enough for that. A file is
// cut into fixed-size chunks (the last one shorter); each chunk is one `Range: bytes=a-b` request
// (resumed inside the chunk after a drop), several in flight at once (ranged-download.ts).

export const MiB = 1024 * 1024;
/** @see DownloadFileOptions.chunkSize */
export const DEFAULT_CHUNK_SIZE = 64 * MiB;
/** @see DownloadFileOptions.streamsPerFile */
export const DEFAULT_STREAMS_PER_FILE = 8;
/** Open Hub streams shared by every file of one download. */
export const DEFAULT_MAX_HUB_STREAMS = 16;
/** Bounds of --chunk-size. */
export const MIN_CHUNK_SIZE = MiB;
export const MAX_CHUNK_SIZE = 1024 * MiB;
/** Bounds of --streams-per-file. */
export const MAX_STREAMS_PER_FILE = 64;
/**
 * Above this size a file is never fetched with a GET without Range (the Hub refuses whole-file
 * GETs of files over 50 GB; huggingface_hub fetches them in Range chunks).
 */
export const WHOLE_GET_LIMIT = 50_000_000_000;

export interface Chunk {
  readonly index: number;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

/** Chunks of `chunkSize` bytes covering [0, size); the last one holds the rest. */
export function planChunks(size: number, chunkSize: number): Chunk[] {
  if (!(chunkSize > 0)) throw new RangeError(`chunk size must be positive (got ${chunkSize})`);
  const chunks: Chunk[] = [];
  for (let start = 0, index = 0; start < size; start += chunkSize, index++) {
    chunks.push({ index, start, end: Math.min(size, start + chunkSize) });
  }
  return chunks;
}

/**
 * Several streams only pay off for a file of at least two chunks; a smaller one (and every
 * file with one stream per file) keeps the single-stream path.
 */
export function usesRangedStreams(size: number, chunkSize: number, streamsPerFile: number): boolean {
  return streamsPerFile > 1 && size >= 2 * chunkSize;
}

/** `64MiB`, `1GiB`, `512k`, `1048576`: a byte count (binary units; `MB` means MiB here too). */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Math.round(Number(m[1]) * 1024 ** pow);
  return Number.isSafeInteger(n) ? n : undefined;
}
