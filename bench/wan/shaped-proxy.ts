// A shaped TCP proxy on 127.0.0.1 in front of SeaweedFS's S3 port, so uploads in the WAN bench see a
// capped link and a round trip too. Each direction has its own token buckets (a full-duplex link); the
// latency is added each time the server starts answering after the client has sent something (once per
// request/response turn, e.g. before `100 Continue` and before the response), as a round trip would.
import * as net from 'node:net';
import { NetworkShaper, type ShapingOptions } from '../../test/hub-fixture/shaping';

export interface ShapedProxyOptions {
  /** Where to forward, e.g. SeaweedFS's S3 endpoint `http://127.0.0.1:8333`. */
  readonly upstream: string;
  /**
   * Shaping of both directions. Unset fields: total cap only, plus the latency.
   * @default { totalBytesPerSec: 100_000_000, perConnectionBytesPerSec: 0, firstByteDelayMs: 30 }
   */
  readonly shaping?: ShapingOptions;
}

export interface ShapedProxy {
  /** `http://127.0.0.1:<port>`: use it as the S3 endpoint. */
  readonly url: string;
  /** Bytes forwarded client -> server (request bodies: the upload side) and back. */
  bytes(): { up: number; down: number };
  close(): Promise<void>;
}

export const PROXY_SHAPING_DEFAULTS: Required<ShapingOptions> = { totalBytesPerSec: 100_000_000, perConnectionBytesPerSec: 0, firstByteDelayMs: 30 };

export async function startShapedProxy(opts: ShapedProxyOptions): Promise<ShapedProxy> {
  const target = new URL(opts.upstream);
  const shaping = { ...PROXY_SHAPING_DEFAULTS, ...Object.fromEntries(Object.entries(opts.shaping ?? {}).filter(([, v]) => v !== undefined)) };
  const upShaper = new NetworkShaper(shaping);
  const downShaper = new NetworkShaper(shaping);
  const counters = { up: 0, down: 0 };
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const server = net.connect({ host: target.hostname, port: Number(target.port || 80) });
    for (const s of [client, server]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); server.destroy(); });
    }
    // Set when the client has sent bytes the server has not answered yet: the next answer waits a round trip.
    let turn = false;
    const pump = async (from: net.Socket, to: net.Socket, up: boolean) => {
      try {
        for await (const chunk of from as AsyncIterable<Buffer>) {
          if (up) turn = true;
          else if (turn) {
            turn = false;
            await downShaper.firstByte();
          }
          if (up) counters.up += chunk.length;
          else counters.down += chunk.length;
          await (up ? upShaper : downShaper).write(to, client, chunk);
        }
        to.end();
      } catch {
        client.destroy();
        server.destroy();
      }
    };
    void pump(client, server, true);
    void pump(server, client, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bytes: () => ({ ...counters }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}
