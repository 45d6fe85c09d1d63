// steps/common/hash.ts: hashing a file through one reused buffer gives the same digests as
// hashing its bytes in memory, for sizes on and off the read-buffer boundary, and stops on abort.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gitBlobSha1, hashFile } from '../../steps/common/hash';

const MiB = 1024 * 1024;
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hash-file-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

/** Bytes that differ in every MiB, so a stale or reused-too-early buffer changes the digest. */
function content(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) if (i % 4096 === 0 || i === size - 1) b[i] = (i * 2654435761) % 251;
  return b;
}

it.each([0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345])('%d bytes: sha256, git blob sha1 and size match the in-memory hashes', async (size) => {
  const bytes = content(size);
  const file = path.join(dir, `f-${size}`);
  await fs.writeFile(file, bytes);
  let seen = 0;
  const d = await hashFile(file, { gitBlob: true, onBytes: (n) => { seen += n; } });
  expect(d).toEqual({ size, sha256: createHash('sha256').update(bytes).digest('hex'), gitBlobSha1: gitBlobSha1(bytes) });
  expect(seen).toBe(size);
});

it('an aborted signal stops the read with an AbortError carrying the reason', async () => {
  const file = path.join(dir, 'abort');
  await fs.writeFile(file, content(4 * MiB));
  const ac = new AbortController();
  const reason = new Error('deadline');
  let calls = 0;
  const p = hashFile(file, { signal: ac.signal, onBytes: () => { if (++calls === 1) ac.abort(reason); } });
  await expect(p).rejects.toMatchObject({ name: 'AbortError', cause: reason });
  expect(calls).toBe(1);
});
