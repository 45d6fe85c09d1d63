// Starts the Hub fixture from the command line (for benchmarks) and prints its URLs as one JSON line.
//   npx ts-node --transpile-only test/hub-fixture/cli.ts --port 0 --large model-00001-of-00002.safetensors=512MiB ...
// Sizes accept plain bytes or KB/MB/GB (10^n) and KiB/MiB/GiB (2^n) suffixes. Runs until SIGINT/SIGTERM.
import { startHubFixture } from './index';

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s}`);
  const unit = (m[2] ?? '').toLowerCase().replace(/b$/, '');
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit.replace('i', '')] ?? NaN;
  const base = unit.includes('i') ? 1024 : 1000;
  const n = Math.round(Number(m[1]) * base ** pow);
  if (!Number.isSafeInteger(n)) throw new Error(`bad size: ${s}`);
  return n;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let port = 0;
  let treePageSize: number | undefined;
  let host: string | undefined;
  let hubHostName: string | undefined;
  let lfsHostName: string | undefined;
  let manyFiles: number | undefined;
  // WAN shaping: `--wan` takes the defaults; any of the three rate/delay flags implies it.
  let shaping: { perConnectionBytesPerSec?: number; firstByteDelayMs?: number; totalBytesPerSec?: number } | undefined;
  const large: Record<string, number> = {};
  const tokens: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const val = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') port = Number(val());
    else if (a === '--tree-page-size') treePageSize = Number(val());
    else if (a === '--host') host = val();
    else if (a === '--hub-host-name') hubHostName = val();
    else if (a === '--lfs-host-name') lfsHostName = val();
    else if (a === '--token') tokens.push(val());
    else if (a === '--many-files') manyFiles = Number(val());
    else if (a === '--wan') shaping = { ...shaping };
    else if (a === '--per-connection-rate') shaping = { ...shaping, perConnectionBytesPerSec: parseSize(val()) };
    else if (a === '--total-rate') shaping = { ...shaping, totalBytesPerSec: parseSize(val()) };
    else if (a === '--first-byte-delay-ms') shaping = { ...shaping, firstByteDelayMs: Number(val()) };
    else if (a === '--large') {
      const v = val();
      const eq = v.lastIndexOf('=');
      if (eq <= 0) throw new Error(`--large expects name=bytes, got ${v}`);
      large[v.slice(0, eq)] = parseSize(v.slice(eq + 1));
    } else if (a === '--help' || a === '-h') {
      process.stderr.write('usage: cli.ts [--port N] [--host ADDR] [--hub-host-name NAME] [--lfs-host-name NAME] [--tree-page-size N] [--token hf_...] [--large name=size]... [--many-files N]\n'
        + '       [--wan] [--per-connection-rate BYTES/s] [--total-rate BYTES/s] [--first-byte-delay-ms MS]\n'
        + '  --wan shapes file bodies like a WAN (defaults 12.5MB/s per connection, 100MB/s total, 30 ms per request);\n'
        + '  the three value flags set one of them (rates take the --large size suffixes, per second; 0 = no cap).\n');
      return;
    } else throw new Error(`unknown argument ${a}`);
  }
  const t0 = Date.now();
  const fx = await startHubFixture({ port, host, hubHostName, lfsHostName, treePageSize, tokens: tokens.length ? tokens : undefined, largeFiles: large, manyFiles, shaping });
  const largeFiles = fx.largeStats.map((s) => ({
    ...s,
    sha256: fx.repos.get('bench/large')!.files.find((f) => f.path === s.path)!.sha256,
    hashMBps: s.hashMs ? Math.round(s.size / 1e6 / (s.hashMs / 1000)) : undefined,
  }));
  process.stdout.write(JSON.stringify({
    url: fx.url,
    lfsUrl: fx.lfsUrl,
    token: fx.token,
    repos: [...fx.repos.keys()],
    largeFiles,
    startupMs: Date.now() - t0,
  }) + '\n');
  const stop = () => {
    void fx.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
