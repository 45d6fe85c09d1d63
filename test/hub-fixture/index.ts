// Hub-compatible HTTP fixture: startHubFixture() serves deterministic repos over the huggingface.co protocol.
// See ./types.ts for the API, ./model.ts for the repo contents, ./server.ts for the protocol.
import type { HubFixture, HubFixtureOptions } from './types';
import { buildRepos, type LargeStats, type RepoState } from './model';
import { HubServer } from './server';
import { NetworkShaper } from './shaping';

export * from './types';
export type { LargeStats, RepoState, ScanVerdict, StoredFile } from './model';
export { POLICY_REPOS } from './model';
export { GeneratedContent, hashCacheDir } from './large';
export { DEFAULT_SHAPING, NetworkShaper, TokenBucket, type ShapingOptions } from './shaping';

export const DEFAULT_TOKEN = 'hf_fixturetoken0123456789';

export interface HubFixtureExtras {
  readonly repos: ReadonlyMap<string, RepoState>;
  /** Startup hashing of generated large files (bench/large). */
  readonly largeStats: readonly LargeStats[];
}

/** What startHubFixture returns: the HubFixture API with the richer repo model (commits, refs, LFS pointers). */
export type StartedHubFixture = Omit<HubFixture, 'repos'> & HubFixtureExtras;

export interface ExtendedHubFixtureOptions extends HubFixtureOptions {
  /**
   * Answer non-LFS `resolve` requests with a same-host 307 to `/api/resolve-cache/...` (as huggingface.co does
   * today). @default true
   */
  readonly resolveCacheRedirect?: boolean;
  /** Address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Host name in the Hub URL it hands out. @default - the listen address */
  readonly hubHostName?: string;
  /** Host name of the LFS redirect target (a different name for the same server). @default 'localhost' */
  readonly lfsHostName?: string;
  /** Answer Range requests for file bodies with 200 and the whole body (a CDN quirk). @default false */
  readonly rangeAnswersWhole?: boolean;
}

export async function startHubFixture(opts: ExtendedHubFixtureOptions = {}): Promise<StartedHubFixture> {
  const tokens = opts.tokens?.length ? [...opts.tokens] : [DEFAULT_TOKEN];
  const { repos, largeStats } = await buildRepos(opts.largeFiles, opts.manyFiles);
  const server = new HubServer({
    repos,
    shaper: opts.shaping ? new NetworkShaper(opts.shaping) : undefined,
    tokens,
    treePageSize: opts.treePageSize ?? 50,
    resolveCacheRedirect: opts.resolveCacheRedirect ?? true,
    rangeAnswersWhole: opts.rangeAnswersWhole,
  });
  await server.listen(opts.port ?? 0, opts.host, { hub: opts.hubHostName, lfs: opts.lfsHostName });
  return {
    url: server.url,
    lfsUrl: server.lfsUrl,
    token: tokens[0],
    repos,
    largeStats,
    faults: server.faults,
    requests: server.requests,
    bytesServed: (repo, path) => server.bytesServed(repo, path),
    content(repo: string, path: string): Buffer {
      const r = repos.get(repo);
      const f = r?.files.find((x) => x.path === path);
      if (!f) throw new Error(`no file ${repo}:${path}`);
      if (!f.data) throw new Error(`${repo}:${path} is generated on the fly (large); stream it from the server instead`);
      return f.data;
    },
    close: () => server.close(),
  };
}
