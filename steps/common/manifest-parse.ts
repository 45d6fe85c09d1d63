// mirror-manifest.json parsed one file entry at a time into a FileTable. JSON.parse of a
// 100,000-file manifest (24 MB) made 100,000 objects and 300,000 strings at once, after decoding
// the bytes into a second 24 MB copy as a string; here the bytes are scanned as they are (JSON's
// structural characters are ASCII, which never occurs inside a UTF-8 multi-byte sequence) and
// each entry is parsed, put into the table's columns and dropped. Anything that is not a manifest
// fails the same way JSON.parse would say it.
import { FileTable } from './file-table';

/** The manifest without its files, and the files as a table (every row complete). */
export interface ParsedManifest {
  readonly head: Record<string, unknown>;
  readonly files: FileTable;
}

/** Why the text is not a manifest (the caller words the error). */
export class ManifestShapeError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Bytes that end a scalar: , } ] and white space. */
const SCALAR_END = new Set([0x2c, 0x7d, 0x5d, 0x20, 0x0a, 0x0d, 0x09]);

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index just past the JSON string that starts at `i` (a quote). */
function endOfString(text: Buffer, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  throw new ManifestShapeError('unterminated string');
}

/** Index just past the JSON value that starts at `i` (object, array, string or scalar). */
function endOfValue(text: Buffer, i: number): number {
  const first = text[i];
  if (first === QUOTE) return endOfString(text, i);
  if (first !== 0x7b && first !== 0x5b) {
    let j = i;
    while (j < text.length && !SCALAR_END.has(text[j])) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === QUOTE) j = endOfString(text, j) - 1;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  throw new ManifestShapeError('unterminated value');
}

function skipSpace(text: Buffer, i: number): number {
  while (i < text.length && isSpace(text[i])) i++;
  return i;
}

/** [start, end) of the top-level `files` value, or undefined when there is none. */
function findFiles(text: Buffer): [number, number] | undefined {
  let i = skipSpace(text, 0);
  if (text[i] !== 0x7b) throw new ManifestShapeError('not a JSON object');
  i = skipSpace(text, i + 1);
  while (i < text.length && text[i] !== 0x7d) {
    if (text[i] !== QUOTE) throw new ManifestShapeError('expected a key');
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.toString('utf8', i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== 0x3a) throw new ManifestShapeError('expected a colon');
    const start = skipSpace(text, i + 1);
    const end = endOfValue(text, start);
    if (key === 'files') return [start, end];
    i = skipSpace(text, end);
    if (text[i] === 0x2c) i = skipSpace(text, i + 1);
  }
  return undefined;
}

function str(v: unknown): v is string {
  return typeof v === 'string';
}

/** One entry of `files` into the table; throws ManifestShapeError unless it is a file entry. */
function addEntry(b: FileTable, entry: unknown, n: number): void {
  const e = entry as { path?: unknown; size?: unknown; sha256?: unknown; gitBlobSha1?: unknown; lfs?: unknown };
  const ok = typeof entry === 'object' && entry !== null && str(e.path) && typeof e.size === 'number' && Number.isSafeInteger(e.size) && e.size >= 0
    && str(e.sha256) && /^[0-9a-f]{64}$/.test(e.sha256) && typeof e.lfs === 'boolean'
    && (e.gitBlobSha1 === undefined || (str(e.gitBlobSha1) && /^[0-9a-f]{40}$/.test(e.gitBlobSha1)));
  if (!ok) throw new ManifestShapeError(`files[${n}] is not a file entry (path, size, sha256, lfs)`);
  const i = b.add({ path: e.path as string, size: e.size as number, lfs: e.lfs as boolean, sha256: e.sha256 as string, gitBlobSha1: e.gitBlobSha1 as string | undefined });
  b.complete(i, e.sha256 as string);
}

/**
 * Parses a manifest's text: the `files` array entry by entry into a table, the rest with
 * JSON.parse. Throws SyntaxError (from JSON.parse) for text that is not JSON, ManifestShapeError
 * for JSON that is not a manifest.
 */
export function parseManifest(text: Buffer): ParsedManifest {
  const asJson = () => JSON.parse(text.toString('utf8')) as unknown;
  let span: [number, number] | undefined;
  try {
    span = findFiles(text);
  } catch (e) {
    if (!(e instanceof ManifestShapeError)) throw e;
    asJson(); // not JSON: its own error says where
    throw e;
  }
  if (!span || text[span[0]] !== 0x5b) {
    asJson();
    throw new ManifestShapeError('no files array');
  }
  const head = JSON.parse(`${text.toString('utf8', 0, span[0])}[]${text.toString('utf8', span[1])}`) as Record<string, unknown>;
  const b = new FileTable();
  let i = skipSpace(text, span[0] + 1);
  let n = 0;
  while (text[i] !== 0x5d) {
    if (i >= text.length) throw new ManifestShapeError('unterminated files array');
    const end = endOfValue(text, i);
    addEntry(b, JSON.parse(text.toString('utf8', i, end)), n++);
    i = skipSpace(text, end);
    if (text[i] === 0x2c) i = skipSpace(text, i + 1);
    else if (text[i] !== 0x5d) throw new ManifestShapeError(`files[${n}]: expected , or ]`);
  }
  return { head, files: b };
}
