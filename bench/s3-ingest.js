// Raw SeaweedFS ingest probe (no disk, no hashing): for each requested object size, a multipart
// upload whose parts are one pre-generated random buffer sent again and again; objects in
// parallel, `queue` parts in flight per object. Payload not hashed for SigV4 (UNSIGNED-PAYLOAD)
// and no flexible checksums, so the client does as little per-byte work as an S3 client can.
// Usage: node s3-ingest.js '<json: {endpoint,region,bucket,prefix,accessKeyId,secretAccessKey,sizes:[..],partSize,queue}>'
// Prints {"bytes":N,"seconds":S}. Timed inside (process start excluded).
'use strict';
const crypto = require('node:crypto');
const {
  S3Client, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand, PutObjectCommand,
} = require('@aws-sdk/client-s3');

async function main() {
  const o = JSON.parse(process.argv[2]);
  const client = new S3Client({
    endpoint: o.endpoint, region: o.region, forcePathStyle: true,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: 64 } },
  });
  client.middlewareStack.add((next) => (args) => {
    args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    return next(args);
  }, { step: 'build', name: 'unsignedPayload' });
  const buf = crypto.randomBytes(o.partSize);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  await Promise.all(o.sizes.map(async (size, i) => {
    const Key = `${o.prefix}/object-${i}`;
    if (size <= o.partSize) {
      await client.send(new PutObjectCommand({ Bucket: o.bucket, Key, Body: buf.subarray(0, size), ContentLength: size }));
      bytes += size;
      return;
    }
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key }));
    const n = Math.ceil(size / o.partSize);
    const parts = new Array(n);
    let next = 0;
    await Promise.all(Array.from({ length: o.queue }, async () => {
      while (next < n) {
        const p = next++;
        const len = Math.min(o.partSize, size - p * o.partSize);
        const r = await client.send(new UploadPartCommand({
          Bucket: o.bucket, Key, UploadId, PartNumber: p + 1, Body: buf.subarray(0, len), ContentLength: len,
        }));
        parts[p] = { PartNumber: p + 1, ETag: r.ETag };
        bytes += len;
      }
    }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.destroy();
  process.stdout.write(JSON.stringify({ bytes, seconds }) + '\n');
}
main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
