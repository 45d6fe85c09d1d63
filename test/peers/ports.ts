// Free TCP ports on 127.0.0.1 for one bench run.
import * as fs from 'node:fs';
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
 * Ports the test cluster's host processes (test/cluster/harness/up.sh) bind at fixed numbers, while
 * the bench's peers may be starting beside it (`npm test` runs the cluster file and the integration
 * files at once): kubelet healthz 10248, kube-proxy 10249 and 10256, kubelet 10250, the
 * controller-manager 10257, the scheduler 10259 (10248-10259 all kept out); etcd 2379-2381,
 * the API server 6443, Argo's controller 6060 and 9090, CoreDNS 53. A peer that took 10257 once
 * kept the controller-manager from starting and failed the whole cluster file.
 */
export function reservedForCluster(port: number): boolean {
  return (port >= 10248 && port <= 10259) || (port >= 2379 && port <= 2381) || [53, 6060, 6443, 9090].includes(port);
}

/** Kubernetes' NodePort range, which the cluster's kube-proxy rewrites on the node. */
const isNodePort = (port: number): boolean => port >= 30000 && port <= 32767;

/** The kernel's ephemeral range (outgoing connections take their source ports from it). */
function ephemeralRange(): { lo: number; hi: number } {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return { lo, hi };
  } catch {
    // not Linux: assume the IANA range
  }
  return { lo: 49152, hi: 65535 };
}

/**
 * freePorts draws from [10000, this): below the kernel's ephemeral range and below Kubernetes'
 * NodePort range (30000-32767), which the cluster suite's node uses.
 */
export const freePortsTop = (): number => Math.min(ephemeralRange().lo, 30000);

/**
 * `count` distinct free ports, held open until every one is picked so they differ from each
 * other. They are taken below the kernel's ephemeral range: a port from that range can become
 * the source port of some client connection in the seconds before a slow peer (MLflow needs up
 * to a minute on a loaded box) binds it, which failed bench starts with "address already in use".
 * (The cluster suite's NodePorts, 30000-32767, are avoided too.)
 */
export async function freePorts(count: number): Promise<number[]> {
  const lo = freePortsTop();
  const held: net.Server[] = [];
  try {
    for (let attempt = 0; held.length < count; attempt++) {
      const below = lo > 12000 && attempt < 500;
      const candidate = below ? 10000 + Math.floor(Math.random() * (lo - 10000)) : 0;
      if (reservedForCluster(candidate)) continue;
      const srv = await listen(candidate);
      if (srv && reservedForCluster((srv.address() as net.AddressInfo).port)) {
        await close(srv);
        continue;
      }
      if (srv) held.push(srv);
      else if (!below) throw new Error('Test bench: cannot bind a free port on 127.0.0.1');
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
    if ([p, p + offset].some((q) => reservedForCluster(q) || isNodePort(q))) continue;
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
