// Helpers for test/image: read an OCI image archive (as `buildctl --output type=oci` writes it),
// unpack its layers into a root filesystem, and run that rootfs with runc directly, the way a
// kubelet would (read-only root, a writable /work volume and a /tmp emptyDir), no Docker involved.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface OciImage {
  readonly dir: string;
  readonly index: any;
  readonly manifest: any;
  readonly config: any;
  /** Layer blob paths, lowest first. */
  readonly layers: string[];
  /** Sum of the layers' uncompressed sizes is computed on unpack; this is the compressed sum. */
  readonly compressedBytes: number;
}

export function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: opts.timeout ?? 300_000, cwd: opts.cwd, input: opts.input });
}

export function must(cmd: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): string {
  const r = sh(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const blob = (dir: string, digest: string) => path.join(dir, 'blobs', ...String(digest).split(':'));

/** Extracts the archive into `dir` and follows index.json (through nested indexes) to the linux/amd64 manifest. */
export function readOciArchive(archive: string, dir: string): OciImage {
  fs.mkdirSync(dir, { recursive: true });
  must('tar', ['-xf', archive, '-C', dir]);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  let desc = index.manifests?.[0];
  if (!desc) throw new Error(`${archive}: index.json has no manifests`);
  let m = JSON.parse(fs.readFileSync(blob(dir, desc.digest), 'utf8'));
  while (m.manifests) {
    desc = m.manifests.find((d: any) => !d.platform || (d.platform.os === 'linux' && d.platform.architecture === 'amd64'));
    if (!desc) throw new Error(`${archive}: no linux/amd64 manifest`);
    m = JSON.parse(fs.readFileSync(blob(dir, desc.digest), 'utf8'));
  }
  const config = JSON.parse(fs.readFileSync(blob(dir, m.config.digest), 'utf8'));
  return {
    dir, index, manifest: m, config,
    layers: m.layers.map((l: any) => blob(dir, l.digest)),
    compressedBytes: m.layers.reduce((n: number, l: any) => n + l.size, 0),
  };
}

/** Applies the layers in order into `rootfs` (as root: owners kept), honouring OCI whiteouts. */
export function unpackLayers(img: OciImage, rootfs: string): void {
  fs.mkdirSync(rootfs, { recursive: true });
  for (const layer of img.layers) {
    const entries = must('tar', ['-tzf', layer]).split('\n').filter(Boolean).map((e) => e.replace(/^\.\//, '').replace(/\/$/, ''));
    for (const e of entries) {
      const base = path.posix.basename(e);
      const parent = path.join(rootfs, path.posix.dirname(e));
      if (base === '.wh..wh..opq') {
        if (fs.existsSync(parent)) for (const c of fs.readdirSync(parent)) fs.rmSync(path.join(parent, c), { recursive: true, force: true });
      } else if (base.startsWith('.wh.')) {
        fs.rmSync(path.join(parent, base.slice(4)), { recursive: true, force: true });
      }
    }
    must('tar', ['--numeric-owner', '-xpzf', layer, '-C', rootfs]);
    for (const e of entries.filter((x) => path.posix.basename(x).startsWith('.wh.'))) fs.rmSync(path.join(rootfs, e), { force: true });
  }
}

export interface RunOptions {
  /** Replaces the image's ENTRYPOINT (like `docker run --entrypoint`, or a pod's `command`). */
  entrypoint?: string[];
  /** Replaces CMD (a pod's `args`); default: the image's CMD. */
  args?: string[];
  env?: Record<string, string>;
  /** Host directory bind-mounted read-write at /work (the workflow's scratch volume). */
  work: string;
  /** Extra read-only bind mounts host -> container. */
  binds?: Record<string, string>;
}

export interface RunResult { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** uid/gid from the image config's User ("uid[:gid]" or names looked up in the rootfs' passwd/group). */
export function resolveUser(rootfs: string, user: string | undefined): { uid: number; gid: number } {
  const [u = '0', g] = String(user ?? '').split(':');
  const table = (f: string) => fs.existsSync(path.join(rootfs, f))
    ? fs.readFileSync(path.join(rootfs, f), 'utf8').split('\n').filter(Boolean).map((l) => l.split(':')) : [];
  const passwd = table('etc/passwd');
  const group = table('etc/group');
  const pw = /^\d+$/.test(u) ? passwd.find((p) => p[2] === u) : passwd.find((p) => p[0] === u);
  const uid = /^\d+$/.test(u) ? Number(u) : Number(pw?.[2] ?? NaN);
  let gid = pw ? Number(pw[3]) : uid;
  if (g !== undefined) gid = /^\d+$/.test(g) ? Number(g) : Number(group.find((x) => x[0] === g)?.[2] ?? NaN);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve image user ${JSON.stringify(user)}`);
  return { uid, gid };
}

let seq = 0;

/**
 * Runs the image's rootfs with `runc run`: root filesystem read-only, /work = opts.work (rw bind),
 * /tmp = a fresh tmpfs, /etc/hosts bound from the host, no capabilities, no-new-privileges, the
 * image config's User/Env/WorkingDir/Entrypoint/Cmd. Host network namespace (reaches 127.0.0.1).
 */
function prepare(img: OciImage, rootfs: string, stateDir: string, opts: RunOptions): { runcArgs: string[]; done: () => void } {
  const c = img.config.config ?? {};
  const { uid, gid } = resolveUser(rootfs, c.User);
  const argv = [...(opts.entrypoint ?? c.Entrypoint ?? []), ...(opts.args ?? (opts.entrypoint ? [] : c.Cmd ?? []))];
  const env = [...(c.Env ?? []), ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const id = `model-mirror-image-test-${process.pid}-${++seq}`;
  const bundle = path.join(stateDir, id);
  fs.mkdirSync(bundle, { recursive: true });
  const ro = ['rbind', 'ro', 'nosuid', 'nodev'];
  const spec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid, gid, additionalGids: [gid] },
      args: argv,
      env,
      cwd: c.WorkingDir || '/',
      capabilities: { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    hostname: 'model-mirror',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/work', type: 'bind', source: opts.work, options: ['rbind', 'rw', 'nosuid', 'nodev'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=262144k'] },
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ro },
      ...Object.entries(opts.binds ?? {}).map(([src, dst]) => ({ destination: dst, type: 'bind', source: src, options: ro })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  const root = path.join(stateDir, 'runc-root');
  return {
    runcArgs: ['--root', root, 'run', '--bundle', bundle, id],
    done: () => {
      sh('runc', ['--root', root, 'delete', '--force', id]);
      fs.rmSync(bundle, { recursive: true, force: true });
    },
  };
}

export function runImage(img: OciImage, rootfs: string, stateDir: string, opts: RunOptions): RunResult {
  const { runcArgs, done } = prepare(img, rootfs, stateDir, opts);
  const r = spawnSync('runc', runcArgs, { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  done();
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** runImage without blocking the event loop (for containers that talk to a server in this process). */
export function runImageAsync(img: OciImage, rootfs: string, stateDir: string, opts: RunOptions): Promise<RunResult> {
  const { runcArgs, done } = prepare(img, rootfs, stateDir, opts);
  return new Promise((resolve) => {
    const child = spawn('runc', runcArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (e) => { stderr += String(e); });
    child.on('close', (code) => { clearTimeout(timer); done(); resolve({ code, stdout, stderr }); });
  });
}
