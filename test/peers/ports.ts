// Free TCP ports on 127.0.0.1 for one bench run.
import * as net from 'node:net';

function listen(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(srv));
  });
}

function close(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/**
 * `count` distinct free ports chosen by the kernel. All are held open until every one is picked,
 * so they differ from each other; something else may still grab one before the peer binds it,
 * which then shows up as a start failure naming that port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    while (held.length < count) {
      const srv = await listen(0);
      if (!srv) throw new Error('Test bench: cannot bind a free port on 127.0.0.1');
      held.push(srv);
    }
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map(close));
  }
}

/**
 * A free port P such that P + offset is free too, for servers that derive a second port from
 * the first and ignore the flag for it (SeaweedFS: gRPC = HTTP + 10000 in some components).
 */
export async function freePortPair(offset: number, avoid: readonly number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const p = 20000 + Math.floor(Math.random() * (65535 - offset - 20000));
    if (avoid.includes(p) || avoid.includes(p + offset)) continue;
    const a = await listen(p);
    if (!a) continue;
    const b = await listen(p + offset);
    await close(a);
    if (!b) continue;
    await close(b);
    return p;
  }
  throw new Error(`Test bench: no free port pair (P, P+${offset}) on 127.0.0.1`);
}
