// Child process: the shaped S3 proxy of the WAN bench (see remote.ts). argv[2] is the JSON of
// ShapedProxyOptions.
import { failRemote, serveRemote } from './remote';
import { startShapedProxy, type ShapedProxyOptions } from './shaped-proxy';

export interface RemoteProxyInfo {
  readonly url: string;
}

async function main(): Promise<void> {
  const proxy = await startShapedProxy(JSON.parse(process.argv[2]) as ShapedProxyOptions);
  serveRemote({ url: proxy.url } satisfies RemoteProxyInfo, { bytes: () => proxy.bytes() }, () => proxy.close());
}

main().catch(failRemote);
