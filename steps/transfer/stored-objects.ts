// Which files of a model are already complete in the run's S3 prefix, with the digests the upload
// stored on them (x-amz-meta-sha256, set only after upload-file.ts verified the bytes). A bounded
// scratch transfer's rerun uses it so the download side skips them too: their local copies are gone.
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { RepoFile } from '../hub/list-files';
import { mapLimit } from '../common/retry';
import { s3ErrorName, s3Status, toS3UserError } from '../s3/errors';
import type { S3Location } from '../s3/s3-uri';

export interface StoredObjectsProps {
  readonly client: S3Client;
  readonly loc: S3Location;
  /** Manifest path -> key under the prefix (the same mapping as the upload). */
  readonly keyOf: (manifestPath: string) => string;
  readonly files: readonly RepoFile[];
  /** The commit being mirrored: an object another commit left is never taken. */
  readonly commitSha: string;
  /** @default 8 */
  readonly concurrency?: number;
}

/** Manifest path -> sha256 of each file whose object has its size, this commit and (LFS) the tree's sha256. */
export async function findStoredObjects(p: StoredObjectsProps): Promise<Map<string, { sha256: string }>> {
  // One listing of the prefix first, so HeadObject is asked only for keys of the right size.
  const listed = await listSizes(p.client, p.loc);
  const stored = new Map<string, { sha256: string }>();
  await mapLimit(p.files, p.concurrency ?? 8, async (f) => {
    const key = p.keyOf(f.path);
    if (listed !== undefined && listed.get(key) !== f.size) return;
    let head;
    try {
      head = await p.client.send(new HeadObjectCommand({ Bucket: p.loc.bucket, Key: key }));
    } catch (e) {
      if (s3Status(e) === 404 || s3ErrorName(e) === 'NotFound' || s3ErrorName(e) === 'NoSuchKey') return;
      throw toS3UserError(e, { bucket: p.loc.bucket, key });
    }
    const sha256 = head.Metadata?.sha256;
    if (head.ContentLength !== f.size || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return;
    if (head.Metadata?.['source-commit'] !== p.commitSha) return;
    if (f.lfs && f.sha256 !== sha256) return;
    stored.set(f.path, { sha256 });
  });
  return stored;
}

/** key -> size under the prefix; undefined when listing is not permitted (then every key is asked). */
async function listSizes(client: S3Client, loc: S3Location): Promise<Map<string, number> | undefined> {
  const out = new Map<string, number>();
  let token: string | undefined;
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix ? `${loc.prefix}/` : undefined, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, o.Size ?? -1);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (e) {
    if (s3ErrorName(e) === 'AccessDenied') return undefined;
    throw toS3UserError(e, { bucket: loc.bucket, key: loc.prefix });
  }
  return out;
}
