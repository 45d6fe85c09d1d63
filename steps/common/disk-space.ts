// Free-space check before a download starts, so a full volume fails in seconds with a clear
// message instead of hours later with ENOSPC.
import { promises as fs } from 'node:fs';
import { ExitCode, UserError } from './errors';

export type StatFsFn = (dir: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

/** Bytes an unprivileged process can still write on the filesystem holding `dir`. */
export async function freeDiskBytes(dir: string, statfs: StatFsFn = (d) => fs.statfs(d)): Promise<number> {
  const st = await statfs(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/**
 * Safety margin: 1% of what is needed, at least 64 MiB, at most 2 GiB. The 64 MiB floor never
 * exceeds the download itself, so a 1 MB model still fits a small volume (the margin covers
 * filesystem overhead, which scales with what is written).
 */
export function defaultDiskMargin(neededBytes: number): number {
  const floor = Math.min(64 * 1024 ** 2, Math.max(0, neededBytes));
  return Math.min(2 * 1024 ** 3, Math.max(floor, Math.ceil(neededBytes * 0.01)));
}

export function formatGiB(n: number): string {
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Throws a LocalStorage UserError when `dir` has less than `neededBytes + margin` free. */
export async function assertEnoughDiskSpace(
  dir: string,
  neededBytes: number,
  opts: { marginBytes?: number; statfs?: StatFsFn } = {},
): Promise<{ free: number; needed: number; margin: number }> {
  const margin = opts.marginBytes ?? defaultDiskMargin(neededBytes);
  const free = await freeDiskBytes(dir, opts.statfs);
  if (neededBytes > 0 && free < neededBytes + margin) {
    throw new UserError(
      `Not enough disk space in ${dir}: ${formatGiB(neededBytes)} still to download (+ ${formatGiB(margin)} margin), ${formatGiB(free)} free`,
      {
        exitCode: ExitCode.LocalStorage,
        hint: 'Give the download volume more space (the Argo workflow\'s volume size), or narrow the files with --allow-patterns/--ignore-patterns.',
      },
    );
  }
  return { free, needed: neededBytes, margin };
}
