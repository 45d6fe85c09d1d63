// SeaweedFS for one bench run: `weed mini` (master, volume, filer and S3 gateway in one process)
// on loopback, telemetry off, with an identities file so S3 requests are really authenticated:
// an admin identity and a read-only one. The bucket is created through the S3 API.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  S3Client, ListBucketsCommand, CreateBucketCommand, HeadBucketCommand,
} from '@aws-sdk/client-s3';
import { PeerProcess } from './process';
import { freePortPair, freePorts } from './ports';
import type { S3Peer, Tools } from './peers';

export const S3_REGION = 'us-east-1';
export const S3_BUCKET = 'mlflow';

export interface SeaweedPeer {
  readonly process: PeerProcess;
  readonly s3: S3Peer;
}

function randomKey(prefix: string, bytes: number): string {
  return prefix + crypto.randomBytes(bytes).toString('hex').toUpperCase();
}

/** The S3 client settings every bench client needs against SeaweedFS. */
export function benchS3Client(endpoint: string, accessKeyId: string, secretAccessKey: string, region = S3_REGION): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}

export async function startSeaweedfs(tools: Tools, opts: { dir: string; logDir: string }): Promise<SeaweedPeer> {
  const dataDir = path.join(opts.dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });

  const s3: S3Peer = {
    endpoint: '', // set below
    region: S3_REGION,
    bucket: S3_BUCKET,
    accessKeyId: randomKey('MMADMIN', 6),
    secretAccessKey: crypto.randomBytes(24).toString('base64url'),
    readOnlyAccessKeyId: randomKey('MMREAD', 6),
    readOnlySecretAccessKey: crypto.randomBytes(24).toString('base64url'),
  };
  const identities = {
    identities: [
      {
        name: 'bench-admin',
        credentials: [{ accessKey: s3.accessKeyId, secretKey: s3.secretAccessKey }],
        actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
      },
      {
        name: 'bench-readonly',
        credentials: [{ accessKey: s3.readOnlyAccessKeyId, secretKey: s3.readOnlySecretAccessKey }],
        actions: ['Read', 'List'],
      },
    ],
  };
  const s3Config = path.join(opts.dir, 's3.json');
  fs.writeFileSync(s3Config, JSON.stringify(identities, null, 2), { mode: 0o600 });

  // Every listener gets an explicit free port (gRPC ports default to HTTP + 10000, which can
  // exceed 65535 or collide). The admin component's plugin worker dials admin HTTP + 10000 even
  // when -admin.port.grpc is given, so the admin port is picked with that port free too.
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3Port, s3Grpc] = await freePorts(8);
  const admin = await freePortPair(10000, [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3Port, s3Grpc]);
  const endpoint = `http://127.0.0.1:${s3Port}`;

  const args = [
    // glog's files (weed.INFO, weed.<host>.<user>.log.*) go with the peer's other logs, not to /tmp
    `-logdir=${opts.logDir}`,
    'mini',
    `-dir=${dataDir}`,
    '-ip=127.0.0.1',
    '-ip.bind=127.0.0.1',
    '-master.telemetry=false',
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`,
    `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`,
    `-s3.port=${s3Port}`, `-s3.port.grpc=${s3Grpc}`,
    `-admin.port=${admin}`, `-admin.port.grpc=${admin + 10000}`, '-admin.ui=false',
    '-s3.port.iceberg=0', '-s3.port.lance=0', '-webdav=false',
    `-s3.config=${s3Config}`,
    `-filer.localSocket=${path.join(opts.dir, 'filer.sock')}`,
    `-s3.localSocket=${path.join(opts.dir, 's3.sock')}`,
  ];
  const proc = new PeerProcess({
    name: 'seaweedfs',
    cmd: tools.weed,
    args,
    cwd: opts.dir,
    env: { ...process.env, HOME: opts.dir },
    logFile: path.join(opts.logDir, 'seaweedfs.log'),
    port: s3Port,
  });

  const client = benchS3Client(endpoint, s3.accessKeyId, s3.secretAccessKey);
  try {
    // Authenticated ListBuckets succeeding means the gateway is up and has loaded the identities.
    await proc.waitUntil(`the S3 endpoint ${endpoint} to answer ListBuckets`, async () => {
      await client.send(new ListBucketsCommand({}));
      return true;
    }, 45000);
    try {
      await client.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
    } catch (e) {
      const name = (e as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
        throw proc.startError(`CreateBucket ${S3_BUCKET} failed: ${name}: ${(e as Error).message}`);
      }
    }
    await proc.waitUntil(`bucket ${S3_BUCKET} to exist`, async () => {
      await client.send(new HeadBucketCommand({ Bucket: S3_BUCKET }));
      return true;
    }, 15000);
  } finally {
    client.destroy();
  }
  return { process: proc, s3: { ...s3, endpoint } };
}
