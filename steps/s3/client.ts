// S3 client for MLflow's artifact store (AWS S3 or an S3-compatible server like SeaweedFS/MinIO).
import { HeadBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { log, registerSecret } from '../common/log';
import { AvailabilityGate, PeerUnavailableError, unavailableReason, unavailableTimeoutMs } from '../common/retry';

export interface S3Config {
  /** Custom endpoint (S3-compatible stores); undefined => AWS S3. */
  readonly endpoint?: string;
  readonly region: string;
  /** True whenever a custom endpoint is set: bucket in the path, not the host name. */
  readonly forcePathStyle: boolean;
  /** Where the endpoint came from (for logs and errors). */
  readonly endpointSource?: '--s3-endpoint' | 'AWS_ENDPOINT_URL_S3' | 'AWS_ENDPOINT_URL' | 'MLFLOW_S3_ENDPOINT_URL';
}

/** What logs and errors call the store when no endpoint is set. */
export const NO_ENDPOINT_LABEL = 'AWS S3 (no AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL set)';

/** `http://host:port (MLFLOW_S3_ENDPOINT_URL)`, or NO_ENDPOINT_LABEL. */
export function endpointLabel(cfg: Pick<S3Config, 'endpoint' | 'endpointSource'>): string {
  return cfg.endpoint ? `${cfg.endpoint}${cfg.endpointSource ? ` (${cfg.endpointSource})` : ''}` : NO_ENDPOINT_LABEL;
}

const LABELS = new WeakMap<S3Client, string>();

/** The endpoint a client made by createS3Client talks to, for logs and errors; undefined for other clients. */
export function endpointLabelOf(client: S3Client): string | undefined {
  return LABELS.get(client);
}

/** Like endpointLabelOf, and for other clients the endpoint from their own config (never a guess). */
export async function describeEndpoint(client: S3Client): Promise<string | undefined> {
  const known = LABELS.get(client);
  if (known) return known;
  try {
    const ep = await (client.config as { endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path?: string }> }).endpoint?.();
    if (ep?.hostname) return `${ep.protocol}//${ep.hostname}${ep.port ? `:${ep.port}` : ''}${ep.path && ep.path !== '/' ? ep.path : ''}`;
  } catch {
    // no static endpoint (AWS resolves one per request)
  }
  return undefined;
}

export interface ResolveS3ConfigOptions {
  /** `--s3-endpoint` */
  readonly endpoint?: string;
  /** `--region` */
  readonly region?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Endpoint: `--s3-endpoint`, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else
 * MLFLOW_S3_ENDPOINT_URL (what MLflow itself uses). Region: `--region`, else AWS_REGION, else
 * AWS_DEFAULT_REGION, else us-east-1.
 */
export function resolveS3Config(opts: ResolveS3ConfigOptions = {}): S3Config {
  const env = opts.env ?? process.env;
  const sources = [
    ['--s3-endpoint', opts.endpoint], ['AWS_ENDPOINT_URL_S3', env.AWS_ENDPOINT_URL_S3], ['AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL],
    ['MLFLOW_S3_ENDPOINT_URL', env.MLFLOW_S3_ENDPOINT_URL],
  ] as const;
  const found = sources.find(([, v]) => !!v);
  const raw = found?.[1] || undefined;
  let endpoint: string | undefined;
  if (raw) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new UserError(`Invalid S3 endpoint ${JSON.stringify(raw)}`, { exitCode: ExitCode.Usage, hint: 'Use a URL like http://seaweedfs-s3.storage:8333' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new UserError(`Invalid S3 endpoint ${JSON.stringify(raw)}: must be http(s)`, { exitCode: ExitCode.Usage });
    }
    if (u.username || u.password) {
      throw new UserError('The S3 endpoint must not contain credentials; use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', { exitCode: ExitCode.Usage });
    }
    endpoint = raw.replace(/\/+$/, '');
  }
  const region = opts.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  return { endpoint, region, forcePathStyle: !!endpoint, ...(endpoint && found ? { endpointSource: found[0] } : {}) };
}

export interface CreateS3ClientOptions extends S3Config {
  /** Explicit credentials; default is the SDK's chain (env AWS_ACCESS_KEY_ID/..., profile, IRSA, IMDS). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** SDK attempts per request. @default 4 */
  readonly maxAttempts?: number;
  /** Max sockets to the endpoint. @default 64 */
  readonly maxSockets?: number;
  /** How long the store may stay unavailable before a request fails. @default unavailableTimeoutMs() */
  readonly unavailableTimeoutMs?: number;
  /** Longest wait between two probes while the store is unavailable. @default 10 s */
  readonly maxRetryDelayMs?: number;
}

export function createS3Client(opts: CreateS3ClientOptions): S3Client {
  // The SDK warns on every run under Node < 22 (multi-line, on stderr). The image runs Node 24;
  // a local run on an older Node keeps its logs clean unless someone opted back in.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  registerSecret(opts.credentials?.secretAccessKey);
  registerSecret(opts.credentials?.sessionToken);
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY);
  registerSecret(process.env.AWS_SESSION_TOKEN);
  const config: S3ClientConfig = {
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : { forcePathStyle: opts.forcePathStyle }),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // S3-compatible stores do not all accept the SDK's default CRC32 request checksums
    // (flexible checksums, on by default since 3.729): only send them when an API requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 4,
    // Without a logger the SDK prints "An error was encountered in a non-retryable streaming
    // request." on stderr for every failed part; uploadFile retries those itself.
    logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (...m: unknown[]) => log.debug(`aws-sdk: ${m.map(String).join(' ')}`), error: () => undefined },
    requestHandler: {
      connectionTimeout: 10_000,
      // idle-socket timeout: a stuck transfer fails and is retried instead of hanging forever
      requestTimeout: 300_000,
      httpAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 64 },
      httpsAgent: { keepAlive: true, maxSockets: opts.maxSockets ?? 64 },
    },
  };
  const client = new S3Client(config);
  LABELS.set(client, endpointLabel(opts));
  waitOutRestarts(client, opts);
  return client;
}

/** Inputs of the HeadBucket probes the gate sends itself: they pass through it untouched. */
const PROBES = new WeakSet<object>();

function isReplayable(body: unknown): boolean {
  return body === undefined || typeof body === 'string' || body instanceof Uint8Array;
}

/**
 * Makes every request of `client` wait out a restart of the store (connection refused/reset, DNS
 * failure, timeouts, 502/503/504/429 after the SDK's own quick retries): one probing loop per
 * client (HeadBucket on the failed request's bucket) with capped backoff, up to the budget. Then a
 * request with a replayable body is sent again; one with a stream body fails with its original
 * error at once, and its caller (uploadFile) retries it with a fresh stream, now that the store
 * answers. Past the budget: PeerUnavailableError (exit 5), which no outer loop retries.
 */
function waitOutRestarts(client: S3Client, opts: CreateS3ClientOptions): void {
  const peer = `S3 at ${opts.endpoint ?? NO_ENDPOINT_LABEL}`;
  let probeBucket: string | undefined;
  const gate = new AvailabilityGate(peer, async () => {
    const input = { Bucket: probeBucket };
    PROBES.add(input);
    try {
      await client.send(new HeadBucketCommand(input));
      return undefined;
    } catch (e) {
      // Any answer but "unavailable" (403, 404 ...) means the store is up again.
      return unavailableReason(e, statusOf(e));
    }
  }, {
    budgetMs: () => opts.unavailableTimeoutMs ?? unavailableTimeoutMs(),
    maxDelayMs: opts.maxRetryDelayMs,
    report: (line) => log.warn(line),
    onRecovered: (line) => log.info(line),
  });
  client.middlewareStack.add((next, context) => async (args) => {
    const input = args.input as { Bucket?: unknown; Body?: unknown };
    if (PROBES.has(input)) return next(args);
    for (;;) {
      try {
        return await next(args);
      } catch (e) {
        const reason = (e as Error)?.name === 'AbortError' ? undefined : unavailableReason(e, statusOf(e));
        if (!reason || typeof input.Bucket !== 'string') throw e;
        probeBucket = input.Bucket;
        if (!(await gate.waitUntilUp(`${reason} (${context.commandName ?? 'request'})`))) {
          throw new PeerUnavailableError(`Cannot reach ${peer}: ${gate.outage?.gaveUpMessage() ?? reason}`, { cause: e });
        }
        if (!isReplayable(input.Body)) throw e;
      }
    }
  }, { step: 'initialize', name: 'waitOutRestarts', priority: 'high' });
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
