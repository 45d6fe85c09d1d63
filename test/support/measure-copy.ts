// Measures what `register --logged-model copy` costs on the bench's SeaweedFS: the rate of a
// server-side copy (CopyObject / multipart UploadPartCopy, as steps/s3/copy-object.ts does it) and
// the bytes SeaweedFS stores before and after. Starts its own `weed mini` on 127.0.0.1 in a temp
// dir and removes it afterwards.
//
//   bash test/peers/with-node.sh npx ts-node --transpile-only test/support/measure-copy.ts [GiB=2]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { copyS3Object, GiB } from '../../steps/s3/copy-object';
import { createS3Client } from '../../steps/s3/client';
import { readTools } from '../peers/peers';
import { setPidsFile } from '../peers/process';
import { startSeaweedfs, S3_BUCKET } from '../peers/seaweedfs';

const MiB = 1024 ** 2;

function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

async function main(): Promise<void> {
  const gib = Number(process.argv[2] ?? '2');
  const size = Math.round(gib * GiB);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-copy-'));
  setPidsFile(path.join(dir, 'pids'));
  const weed = await startSeaweedfs(readTools(), { dir, logDir: dir });
  const s3 = createS3Client({ endpoint: weed.s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: weed.s3.accessKeyId, secretAccessKey: weed.s3.secretAccessKey } });
  const data = path.join(dir, 'data');
  const out: Record<string, unknown> = { sizeBytes: size };
  try {
    out.storedEmpty = du(data);
    // The source: one object of `size` bytes, multipart (64 MiB parts of random bytes).
    const part = randomBytes(64 * MiB);
    const key = 'src/model.safetensors';
    let t = Date.now();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: S3_BUCKET, Key: key }));
    const parts = [];
    for (let off = 0, n = 1; off < size; off += part.length, n++) {
      const body = part.subarray(0, Math.min(part.length, size - off));
      const r = await s3.send(new UploadPartCommand({ Bucket: S3_BUCKET, Key: key, UploadId, PartNumber: n, Body: body }));
      parts.push({ PartNumber: n, ETag: r.ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: S3_BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    out.uploadSeconds = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    out.storedAfterUpload = du(data);

    // Multipart UploadPartCopy (what objects > 5 GiB need; 512 MiB ranges, 4 in flight).
    t = Date.now();
    await copyS3Object(s3, `s3://${S3_BUCKET}/${key}`, `s3://${S3_BUCKET}/copy-multipart/model.safetensors`, { size, multipartThreshold: 0 });
    out.uploadPartCopySeconds = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    out.storedAfterPartCopy = du(data);

    // One CopyObject (objects up to 5 GiB).
    if (size <= 5 * GiB) {
      t = Date.now();
      await copyS3Object(s3, `s3://${S3_BUCKET}/${key}`, `s3://${S3_BUCKET}/copy-single/model.safetensors`, { size });
      out.copyObjectSeconds = (Date.now() - t) / 1000;
      await new Promise((r) => setTimeout(r, 2000));
      out.storedAfterCopyObject = du(data);
    }
    const rate = (s: number) => Number((size / MiB / s).toFixed(1));
    out.uploadPartCopyMiBps = rate(out.uploadPartCopySeconds as number);
    if (out.copyObjectSeconds) out.copyObjectMiBps = rate(out.copyObjectSeconds as number);
    out.uploadMiBps = rate(out.uploadSeconds as number);
    out.extrapolated10GiBSeconds = Number(((10 * GiB) / size * (out.uploadPartCopySeconds as number)).toFixed(1));
    out.extraStoredPerCopyBytes = (out.storedAfterPartCopy as number) - (out.storedAfterUpload as number);
    console.log(JSON.stringify(out, null, 2));
  } finally {
    s3.destroy();
    await weed.process.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
