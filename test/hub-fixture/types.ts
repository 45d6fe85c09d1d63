// Public API of the Hub-compatible fixture server (implementation: ./server.ts, ./model.ts).
// Tests and benchmarks code against this; keep it stable.
import type { ShapingOptions } from './shaping';

export interface FixtureFile {
  /** Path in the repo, forward slashes, may contain subfolders. */
  readonly path: string;
  readonly size: number;
  /** Served via a 302 to the LFS host with X-Linked-Etag = sha256, like the real Hub. */
  readonly lfs: boolean;
  readonly sha256: string;
  /** Git blob sha1 = sha1("blob <size>\0" + content); the Hub's `oid` for non-LFS files. */
  readonly gitBlobSha1: string;
}

export interface FixtureRepo {
  /** `org/name` */
  readonly id: string;
  /** Branch name -> 40-hex commit sha. Always has `main`. */
  readonly branches: Readonly<Record<string, string>>;
  /** Tag name -> commit sha. */
  readonly tags: Readonly<Record<string, string>>;
  readonly files: readonly FixtureFile[];
  /** 'manual' => 403 GatedRepo unless the request carries an accepted token. */
  readonly gated: boolean;
  readonly private: boolean;
  readonly pipelineTag?: string;
  readonly libraryName?: string;
}

export interface HubFixtureOptions {
  /** @default 0 (random free port) */
  readonly port?: number;
  /**
   * WAN-like shaping of file bodies (per-connection and total token buckets) and a first-byte delay on
   * every request; unset fields take DEFAULT_SHAPING (12.5 MB/s per connection, 100 MB/s total, 30 ms).
   * @default none (loopback speed)
   */
  readonly shaping?: ShapingOptions;
  /** Tokens accepted as `Authorization: Bearer <token>`. @default ['hf_fixturetoken0123456789'] */
  readonly tokens?: readonly string[];
  /** Tree page size, to force `Link` pagination. @default 50 */
  readonly treePageSize?: number;
  /**
   * Extra large LFS files generated on the fly (deterministic bytes, never held in memory),
   * e.g. for benchmarks: `{ 'model-00001-of-00004.safetensors': 512 * 1024 ** 2 }` in repo
   * `bench/large`. @default none
   */
  readonly largeFiles?: Readonly<Record<string, number>>;
  /**
   * A generated repo `bench/many` with this many tiny text files (100 per folder, plus a
   * config.json), for many-file tests: cheap to build and to serve. @default none
   */
  readonly manyFiles?: number;
}

/** Fault switches. Each applies to the next `times` matching requests (default 1), then disarms. */
export interface FaultControls {
  /** Close the socket after `bytes` bytes of the body of `path` (resolve requests). */
  dropAfterBytes(repo: string, path: string, bytes: number, times?: number): void;
  /** Serve wrong bytes (same length) for `path`. */
  corrupt(repo: string, path: string, times?: number): void;
  /** Answer the next requests (any path) with 429 + `Retry-After: <seconds>` and `RateLimit` headers. */
  rateLimit(times: number, retryAfterSeconds: number): void;
  /** Answer 5xx for requests to `path` (resolve). */
  serverError(repo: string, path: string, status?: number, times?: number): void;
  /** 404 EntryNotFound for `path` though the tree lists it. */
  missing(repo: string, path: string, times?: number): void;
  /**
   * Answers with the bytes of `path` wait (before their status line) until the returned function
   * is called, so a test can order one file's fate after another's. `reset` releases every hold.
   */
  hold(repo: string, path: string): () => void;
  reset(): void;
}

export interface RequestRecord {
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly range?: string;
  readonly status: number;
  readonly bytesSent: number;
  readonly authorization: boolean;
  /** performance.now() when the request arrived and when its answer closed (undefined while open). */
  readonly startedAt: number;
  readonly endedAt?: number;
}

export interface HubFixture {
  /** http://127.0.0.1:<port>: the API/resolve host. */
  readonly url: string;
  /** http://localhost:<port>: the "CDN" host LFS resolves redirect to (a different host name). */
  readonly lfsUrl: string;
  /** A token that passes gated checks. */
  readonly token: string;
  /** Repos served: `test/tiny-model` (normal), `test/gated-model` (gated), `test/hostile-model` (tree has `../evil.txt`), the `policy/*` repos (POLICY_REPOS), plus `bench/large` when largeFiles is set. */
  readonly repos: ReadonlyMap<string, FixtureRepo>;
  readonly faults: FaultControls;
  /** Every request served, for assertions like "no byte downloaded twice". */
  readonly requests: RequestRecord[];
  /** Bytes of file content the fixture has sent, per repo path. */
  bytesServed(repo: string, path?: string): number;
  /** Content of a fixture file (for tests comparing bytes). Not for large generated files. */
  content(repo: string, path: string): Buffer;
  close(): Promise<void>;
}


