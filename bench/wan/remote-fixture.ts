// Child process: the shaped Hub fixture of the WAN bench (see remote.ts). argv[2] is the JSON of
// ExtendedHubFixtureOptions.
import { startHubFixture, type ExtendedHubFixtureOptions } from '../../test/hub-fixture';
import { failRemote, serveRemote } from './remote';

export interface RemoteFixtureInfo {
  readonly url: string;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2]) as ExtendedHubFixtureOptions;
  const fx = await startHubFixture(opts);
  serveRemote({ url: fx.url } satisfies RemoteFixtureInfo, {
    bytesServed: (repo: string) => fx.bytesServed(repo),
  }, () => fx.close());
}

main().catch(failRemote);
