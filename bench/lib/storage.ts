// Disk and S3 housekeeping of the bench: local byte counts, deleting an S3 prefix (and its multipart
// leftovers), then vacuuming SeaweedFS so the deleted bytes really leave the disk (10 GiB x several
// tools would not fit otherwise).
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client,
} from '@aws-sdk/client-s3';
import { say } from './child';

export function dirBytes(dir: string): number {
  let n = 0;
  const walk = (d: string) => {
    let ents: fs.Dirent[];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) { try { n += fs.statSync(p).size; } catch { /* racing a rename */ } }
    }
  };
  walk(dir);
  return n;
}

export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const mp = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` })).catch(() => undefined);
  for (const u of mp?.Uploads ?? []) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
  }
}

export function weedMasterUrl(s3Endpoint: string): string | undefined {
  const s3Port = new URL(s3Endpoint).port;
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try { argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!argv.includes('mini') || !argv.includes(`-s3.port=${s3Port}`)) continue;
    const m = argv.find((x) => x.startsWith('-master.port='));
    if (m) return `http://127.0.0.1:${m.split('=')[1]}`;
  }
  return undefined;
}

export async function vacuum(master: string | undefined): Promise<void> {
  if (!master) return;
  try {
    await fetch(`${master}/vol/vacuum?garbageThreshold=0.0001`, { signal: AbortSignal.timeout(300_000) });
  } catch (e) {
    say(`vacuum failed (disk may fill up): ${(e as Error).message}`);
  }
}
