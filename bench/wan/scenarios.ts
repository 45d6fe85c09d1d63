// The WAN profile's scenarios (issue #15): what the fixture serves at each scale, and the targets.
import * as crypto from 'node:crypto';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** `full`: the sizes the targets are about; `small`: a quick run; `tiny`: seconds (the smoke test). */
export type WanScale = 'full' | 'small' | 'tiny';
export const WAN_SCALES: readonly WanScale[] = ['full', 'small', 'tiny'];

export interface WanTargets {
  /** `mirror` MB/s at least this share of the total cap (the smaller of the download and upload caps). */
  readonly capShare?: number;
  /** `mirror` at least this many times faster than snapshot_download + boto3 (wall time). */
  readonly vsPython?: number;
}

export interface WanScenario {
  /** `a`, `b`, `c`: picked with `--wan-scenarios`. */
  readonly key: string;
  readonly id: string;
  readonly label: string;
  /** Repo path -> bytes, generated on the fly by the fixture (test/hub-fixture/large.ts). */
  readonly files: Readonly<Record<string, number>>;
  readonly targets: WanTargets;
}

/** Every model-mirror step stays under this peak RSS, in every scenario. */
export const WAN_RSS_BUDGET_MB = 150;

const shards = (n: number, each: number) => Object.fromEntries(
  Array.from({ length: n }, (_, i) => [`model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`, each]),
);

/** `count` sizes between 100 kB and 2 MB, the same on every run (from sha256 of the index). */
export function smallFileSizes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => {
    const u = crypto.createHash('sha256').update(`wan-small-file:${i}`).digest().readUInt32BE(0) / 2 ** 32;
    return 100_000 + Math.floor(u * 1_900_000);
  });
}

const smallFiles = (count: number) => Object.fromEntries(
  smallFileSizes(count).map((size, i) => [`files/part-${String(Math.floor(i / 100)).padStart(2, '0')}/chunk-${String(i).padStart(4, '0')}.bin`, size]),
);

export function wanScenarios(scale: WanScale): WanScenario[] {
  const [single, shard, count] = scale === 'full' ? [10 * GiB, 2.5 * GiB, 300]
    : scale === 'small' ? [1 * GiB, 256 * MiB, 60]
      : [2_000_000, 1 * MiB, 6];
  const human = (b: number) => (b % (GiB / 2) === 0 ? `${b / GiB} GiB` : b % MiB === 0 ? `${b / MiB} MiB` : `${b / 1e6} MB`);
  return [
    { key: 'a', id: `wan-single-${human(single).replace(/\s/g, '')}`, label: `one ${human(single)} file`, files: { 'model.safetensors': single }, targets: { capShare: 0.9, vsPython: 5 } },
    { key: 'b', id: `wan-shards-4x${human(shard).replace(/\s/g, '')}`, label: `4 shards x ${human(shard)}`, files: shards(4, shard), targets: { capShare: 0.9 } },
    { key: 'c', id: `wan-small-${count}`, label: `${count} files of 100 kB-2 MB`, files: smallFiles(count), targets: { vsPython: 2 } },
  ];
}
