// PostgreSQL for one bench run: a fresh cluster (initdb) in a temp dir, loopback TCP only, unix
// socket in the temp dir, database `mlflow`. PostgreSQL refuses to run as root, so under root the
// cluster belongs to an unprivileged user (`postgres`, else `nobody`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PeerProcess, runOrThrow, PeerStartError } from './process';
import type { Tools } from './peers';

export const PG_SUPERUSER = 'postgres';
export const PG_DATABASE = 'mlflow';

export interface PostgresPeer {
  readonly process: PeerProcess;
  readonly port: number;
  /** libpq URL (psql, node clients). */
  readonly url: string;
  /**
   * The same database for SQLAlchemy/MLflow, naming the driver: SQLAlchemy 2.1 maps a bare
   * `postgresql://` to psycopg (v3), which the venv does not have; it has psycopg2-binary.
   */
  readonly sqlalchemyUrl: string;
  readonly socketDir: string;
}

interface RunAs { uid: number; gid: number; name: string; home: string }

/** The unprivileged account to run PostgreSQL as when we are root; undefined when not root. */
function unprivilegedUser(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const res = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
    if (res.status === 0 && res.stdout) {
      const f = res.stdout.trim().split(':');
      return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
    }
  }
  throw new Error('Test bench: postgres: running as root, but neither user `postgres` nor `nobody` exists (PostgreSQL refuses to run as root); create one: useradd -r postgres');
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}

export async function startPostgres(tools: Tools, opts: { dir: string; logDir: string; port: number }): Promise<PostgresPeer> {
  const { dir, logDir, port } = opts;
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'sock');
  fs.mkdirSync(socketDir, { recursive: true });
  const runAs = unprivilegedUser();
  if (runAs) chownTree(dir, runAs.uid, runAs.gid);
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: runAs ? runAs.home : (process.env.HOME ?? dir),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
  };
  const bin = (name: string) => path.join(tools.pgBin, name);

  const initdbArgs = ['-D', dataDir, '-U', PG_SUPERUSER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'];
  const initLog = path.join(logDir, 'postgres-initdb.log');
  try {
    const out = runOrThrow('postgres', bin('initdb'), initdbArgs, { cwd: dir, env, ...ids, timeoutMs: 60000 });
    fs.writeFileSync(initLog, out + '\n');
  } catch (e) {
    fs.writeFileSync(initLog, (e as Error).message + '\n');
    throw new PeerStartError('postgres (initdb)', port, [bin('initdb'), ...initdbArgs].join(' '), initLog,
      `initdb failed${runAs ? ` (run as user ${runAs.name})` : ''}`);
  }

  const proc = new PeerProcess({
    name: 'postgres',
    cmd: bin('postgres'),
    args: [
      '-D', dataDir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${socketDir}`,
      // A throwaway cluster: durability off for speed.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    cwd: dir,
    env,
    ...ids,
    logFile: path.join(logDir, 'postgres.log'),
    port,
    stopSignal: 'SIGINT', // "fast" shutdown; SIGTERM would wait for clients to disconnect
  });

  await proc.waitUntil(`pg_isready on 127.0.0.1:${port}`, async () => {
    const res = spawnSync(bin('pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', PG_SUPERUSER, '-d', 'postgres', '-t', '1'], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error((res.stdout + res.stderr).trim() || `pg_isready exit ${res.status}`);
    return true;
  }, 30000);

  try {
    runOrThrow('postgres', bin('psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', PG_SUPERUSER, '-d', 'postgres',
      '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', `CREATE DATABASE ${PG_DATABASE}`], { env });
  } catch (e) {
    throw proc.startError(`cannot create database ${PG_DATABASE}: ${(e as Error).message}`);
  }

  return {
    process: proc,
    port,
    socketDir,
    url: `postgresql://${PG_SUPERUSER}@127.0.0.1:${port}/${PG_DATABASE}`,
    sqlalchemyUrl: `postgresql+psycopg2://${PG_SUPERUSER}@127.0.0.1:${port}/${PG_DATABASE}`,
  };
}
