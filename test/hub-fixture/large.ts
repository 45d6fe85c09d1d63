// Deterministic, seekable byte generator for large fixture files (never held in memory).
//
// Bytes = an optional small prefix (a valid safetensors header for `*.safetensors` names) followed by an
// AES-128-CTR keystream (key derived from name + size). CTR mode makes any offset reachable in O(1), so
// Range requests into a 10 GB file cost only the bytes actually served. The sha256 and git blob sha1 are
// computed once by streaming the generator and cached on disk (os.tmpdir()), keyed by name + size.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';

const GENERATOR_VERSION = 'v1';
const CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);

export interface GeneratedHashes {
  readonly sha256: string;
  readonly gitBlobSha1: string;
}

export class GeneratedContent {
  readonly prefix: Buffer;
  private readonly key: Buffer;

  constructor(readonly name: string, readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`invalid size for ${name}: ${size}`);
    this.key = crypto.createHash('sha256').update(`hub-fixture:${GENERATOR_VERSION}:${name}:${size}`).digest().subarray(0, 16);
    this.prefix = name.endsWith('.safetensors') ? safetensorsPrefix(size) : Buffer.alloc(0);
    if (this.prefix.length > size) this.prefix = this.prefix.subarray(0, size);
  }

  /** Yields bytes [start, end) in chunks of at most 1 MiB. */
  *chunks(start = 0, end = this.size): Generator<Buffer> {
    let pos = Math.max(0, start);
    end = Math.min(end, this.size);
    if (pos < this.prefix.length && pos < end) {
      const stop = Math.min(end, this.prefix.length);
      yield this.prefix.subarray(pos, stop);
      pos = stop;
    }
    if (pos >= end) return;
    // Keystream offset (relative to the end of the prefix).
    const ksStart = pos - this.prefix.length;
    const block = Math.floor(ksStart / 16);
    const skip = ksStart - block * 16;
    const iv = Buffer.alloc(16);
    // 128-bit big-endian counter; blocks < 2^53 so the low 64 bits suffice.
    iv.writeBigUInt64BE(BigInt(block), 8);
    const cipher = crypto.createCipheriv('aes-128-ctr', this.key, iv);
    let remaining = end - pos;
    let toSkip = skip;
    while (remaining > 0) {
      const want = Math.min(CHUNK, remaining + toSkip);
      let out = cipher.update(want === CHUNK ? ZEROS : ZEROS.subarray(0, want));
      if (toSkip) {
        out = out.subarray(toSkip);
        toSkip = 0;
      }
      if (out.length > remaining) out = out.subarray(0, remaining);
      remaining -= out.length;
      yield out;
    }
  }

  stream(start = 0, end = this.size): Readable {
    return Readable.from(this.chunks(start, end), { objectMode: false });
  }
}

export function hashCacheDir(): string {
  return path.join(os.tmpdir(), 'model-mirror-hub-fixture');
}

/** Returns the hashes, from the on-disk cache if present, else computes (yielding to the event loop) and caches. */
export async function cachedHashes(gen: GeneratedContent): Promise<GeneratedHashes & { cached: boolean; ms: number }> {
  const safe = gen.name.replace(/[^A-Za-z0-9._-]/g, '_');
  const file = path.join(hashCacheDir(), `${GENERATOR_VERSION}-${safe}-${gen.size}.json`);
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as GeneratedHashes & { name?: string };
    if (j.name === gen.name && /^[0-9a-f]{64}$/.test(j.sha256) && /^[0-9a-f]{40}$/.test(j.gitBlobSha1)) {
      return { sha256: j.sha256, gitBlobSha1: j.gitBlobSha1, cached: true, ms: 0 };
    }
  } catch {
    // not cached yet
  }
  const t0 = Date.now();
  const sha256 = crypto.createHash('sha256');
  const sha1 = crypto.createHash('sha1');
  sha1.update(`blob ${gen.size}\0`);
  let n = 0;
  for (const c of gen.chunks()) {
    sha256.update(c);
    sha1.update(c);
    // Let other work (e.g. a running test's servers) breathe on very large files.
    if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  const res = { sha256: sha256.digest('hex'), gitBlobSha1: sha1.digest('hex') };
  try {
    fs.mkdirSync(hashCacheDir(), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ name: gen.name, size: gen.size, ...res }));
    fs.renameSync(tmp, file);
  } catch {
    // cache is best effort
  }
  return { ...res, cached: false, ms: Date.now() - t0 };
}

/** A valid safetensors header declaring one U8 tensor `data` that covers the rest of the file. */
function safetensorsPrefix(size: number): Buffer {
  for (let headerLen = 64; headerLen < 4096; headerLen += 8) {
    const dataLen = size - 8 - headerLen;
    if (dataLen < 0) break;
    const json = JSON.stringify({
      __metadata__: { format: 'pt', generator: `hub-fixture ${GENERATOR_VERSION}` },
      data: { dtype: 'U8', shape: [dataLen], data_offsets: [0, dataLen] },
    });
    if (json.length <= headerLen) {
      const buf = Buffer.alloc(8 + headerLen, 0x20);
      buf.writeBigUInt64LE(BigInt(headerLen), 0);
      buf.write(json, 8, 'utf8');
      return buf;
    }
  }
  return Buffer.alloc(0);
}
