// The bench's port picker never hands out a port the test cluster binds at a fixed number: the
// cluster file and the integration files start servers at the same time under `npm test`.
import { freePortPair, freePorts, freePortsTop, reservedForCluster } from '../peers/ports';

afterEach(() => jest.restoreAllMocks());

it('knows the cluster host ports', () => {
  for (const p of [10248, 10249, 10250, 10256, 10257, 10259, 2379, 2380, 6443, 6060, 9090, 53]) expect(reservedForCluster(p)).toBe(true);
  for (const p of [10000, 10247, 10260, 19514, 23985, 8333]) expect(reservedForCluster(p)).toBe(false);
});

it('freePorts skips a draw that lands on the controller-manager port 10257', async () => {
  const top = freePortsTop();
  // The first draw is 10257 exactly (as a seaweedfs peer once got); the next ones are random.
  const random = Math.random.bind(Math);
  let first = true;
  jest.spyOn(Math, 'random').mockImplementation(() => {
    if (!first) return random();
    first = false;
    return (10257 - 10000 + 0.5) / (top - 10000);
  });
  const [port] = await freePorts(1);
  expect(first).toBe(false);
  expect(port).not.toBe(10257);
  expect(reservedForCluster(port)).toBe(false);
});

it('freePortPair skips pairs that touch the NodePort range', async () => {
  const random = Math.random.bind(Math);
  // First p = 30100 (a NodePort itself), then p = 20257 (p + 10000 = 30257, a NodePort); then random.
  const wanted = [30100, 20257];
  jest.spyOn(Math, 'random').mockImplementation(() => {
    const w = wanted.shift();
    return w === undefined ? random() : (w - 20000 + 0.5) / (65535 - 10000 - 20000);
  });
  const p = await freePortPair(10000);
  expect(wanted).toEqual([]);
  expect([30100, 20257]).not.toContain(p);
  for (const q of [p, p + 10000]) {
    expect(reservedForCluster(q)).toBe(false);
    expect(q >= 30000 && q <= 32767).toBe(false);
  }
});
