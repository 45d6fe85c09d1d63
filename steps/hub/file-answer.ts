// Is a 2xx answer to a file GET the file? The Hub redirects file GETs elsewhere (its Xet/LFS CDN,
// a same-host resolve cache), and whatever answers there is trusted with the work dir. An answer
// that announces another length than the tree listed, or a content type that says it is an API or
// a web page, is not the file: its bytes are never kept.
//
// What real answers look like (../shared/notes/hub-and-serving.md): the CDN answers
// application/octet-stream (or the file's own type) with the full length, or 206 with
// `Content-Range: bytes a-b/<size>`; a Range request may come back 200 with the whole body;
// small text files come from the resolve cache typed by extension (application/json for .json).
import type { IncomingHttpHeaders } from 'node:http';

/** Content types that name a document of their own: only files of these extensions may come with them. */
const DOCUMENT_TYPES: ReadonlyArray<{ readonly test: (mime: string) => boolean; readonly extensions: readonly string[]; readonly what: string }> = [
  { test: (m) => m === 'application/json' || m === 'text/json' || m.endsWith('+json'), extensions: ['.json', '.jsonl', '.ndjson', '.ipynb', '.geojson'], what: 'JSON' },
  { test: (m) => m === 'text/html' || m === 'application/xhtml+xml', extensions: ['.html', '.htm', '.xhtml'], what: 'HTML' },
  { test: (m) => m === 'text/xml' || m === 'application/xml', extensions: ['.xml', '.svg'], what: 'XML' },
];

export interface FileAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Bytes already on disk (the Range start asked for; 0 without Range). */
  readonly offset: number;
  /** Exclusive end of the Range asked for (a chunk). @default size */
  readonly end?: number;
  /** Path and size as the tree listed them. */
  readonly path: string;
  readonly size: number;
}

export interface RefusedAnswer {
  /** `type`: the answer says it is something else (never retried); `length`: it is not the bytes asked for. */
  readonly kind: 'type' | 'length';
  readonly reason: string;
}

/** Why this 2xx answer cannot be the file's bytes, or undefined when it may be. */
export function refuseFileAnswer(a: FileAnswer): RefusedAnswer | undefined {
  const mime = (a.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const lower = a.path.toLowerCase();
  for (const t of DOCUMENT_TYPES) {
    if (mime && t.test(mime) && !t.extensions.some((e) => lower.endsWith(e))) {
      return { kind: 'type', reason: `Content-Type ${mime} (${t.what}), which ${a.path} is not` };
    }
  }
  // A body in a content coding has another length than the file: nothing to compare.
  const coding = (a.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (coding && coding !== 'identity') return undefined;
  const range = a.headers['content-range'];
  if (a.status === 206 && range) {
    const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(range.trim());
    if (m && m[3] !== '*' && Number(m[3]) !== a.size) {
      return { kind: 'length', reason: `Content-Range ${range} for a file of ${a.size} bytes` };
    }
    const end = a.end ?? a.size;
    if (m && Number(m[2]) !== end - 1) {
      return { kind: 'length', reason: end === a.size ? `Content-Range ${range} that does not reach the end of ${a.size} bytes` : `Content-Range ${range} where bytes ${a.offset}-${end - 1} were asked for` };
    }
  }
  const length = a.headers['content-length'];
  if (length !== undefined && /^\d+$/.test(length.trim())) {
    const expected = a.status === 206 ? (a.end ?? a.size) - a.offset : a.size;
    if (Number(length) !== expected) {
      return { kind: 'length', reason: `Content-Length ${Number(length)} where ${expected} bytes of the ${a.size}-byte file were expected` };
    }
  }
  return undefined;
}
