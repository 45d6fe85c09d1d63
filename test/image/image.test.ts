// The built image, checked for real: `bash image/build.sh` (npm run image) builds the repository's
// Dockerfile with BuildKit on the stand-in base images and writes an OCI archive; this unpacks it
// and runs its rootfs with runc the way the WorkflowTemplate's pods get it (read-only root, a
// scratch volume at /work, an emptyDir at /tmp, uid 65532), and imports it into a throwaway
// containerd with `ctr -n k8s.io images import`.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { commands } from '../../steps/commands';
import { startHubFixture, type HubFixture } from '../hub-fixture';
import { REPO_ROOT, synthesize } from '../argo-runner/synth';
import { must, readOciArchive, runImage, runImageAsync, sh, unpackLayers, type OciImage, type RunOptions } from './oci';
import NODE_FLAGS from '../../steps/common/node-flags.json';

/* eslint-disable @typescript-eslint/no-explicit-any */
const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const versions = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'versions.json'), 'utf8'));
const UID = 65532;
const MB = 1024 * 1024;

let tmp: string;
let archive: string;
let img: OciImage;
let rootfs: string;
let state: string;
let uncompressedBytes = 0;

function freshWork(): string {
  const w = fs.mkdtempSync(path.join(tmp, 'work-'));
  fs.chownSync(w, UID, UID); // the workflow's volumes are writable by 65532 (pod fsGroup)
  return w;
}
const run = (o: Partial<RunOptions> = {}) => runImage(img, rootfs, state, { work: freshWork(), ...o });
const node = (code: string, o: Partial<RunOptions> = {}) => run({ entrypoint: ['/nodejs/bin/node', '-e', code], ...o });
const commandNames = commands.map((c) => String(Array.isArray(c.command) ? c.command[0] : c.command).split(/\s+/)[0]);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'model-mirror-image-test-'));
  const t0 = Date.now();
  const r = sh('bash', [path.join(REPO_ROOT, 'image/build.sh')], { cwd: REPO_ROOT, timeout: 3_600_000 });
  process.stderr.write(r.stderr.split('\n').filter((l) => /^\[(build|buildkit|standins)\.sh/.test(l)).join('\n') + '\n');
  if (r.status !== 0) throw new Error(`image/build.sh failed (${r.status ?? r.signal}):\n${r.stderr.slice(-8000)}`);
  archive = r.stdout.trim().split('\n').pop()!;
  process.stderr.write(`image/build.sh: ${archive} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  img = readOciArchive(archive, path.join(tmp, 'oci'));
  rootfs = path.join(tmp, 'rootfs');
  unpackLayers(img, rootfs);
  uncompressedBytes = Number(must('du', ['-sb', rootfs]).split(/\s/)[0]);
  state = path.join(tmp, 'state');
  fs.mkdirSync(state);
}, 3_600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the archive is named as the WorkflowTemplate references the image by default, and is small', () => {
  const wft = synthesize({ env: { MODEL_MIRROR_CONFIG: undefined, MODEL_MIRROR_SET: undefined } }).workflowTemplates[0];
  const images = new Set<string>((wft.spec.templates as any[]).map((t) => t.container?.image ?? t.script?.image).filter(Boolean));
  expect([...images]).toEqual([`localhost:5000/model-mirror:${pkg.version}`]);
  const want = process.env.IMAGE_NAME ?? [...images][0];
  expect(img.index.manifests[0].annotations?.['io.containerd.image.name']).toBe(want);
  expect(img.index.manifests[0].annotations?.['org.opencontainers.image.ref.name']).toBe(want.slice(want.lastIndexOf(':') + 1));
  expect(path.basename(archive)).toBe(`model-mirror-${pkg.version}.oci.tar`);
  const archiveBytes = fs.statSync(archive).size;
  process.stderr.write(`image size: archive ${(archiveBytes / MB).toFixed(1)} MiB, layers ${(img.compressedBytes / MB).toFixed(1)} MiB compressed, rootfs ${(uncompressedBytes / MB).toFixed(1)} MiB unpacked (${img.layers.length} layers)\n`);
  // Node alone is ~120 MB unpacked; a Debian userland (node:*-slim as runtime) would add ~80 MB more.
  expect(uncompressedBytes).toBeLessThan(200 * MB);
  expect(archiveBytes).toBeLessThan(80 * MB);
});

test('config: user 65532, ENTRYPOINT model-mirror, CMD --help, WORKDIR /work', () => {
  const c = img.config.config;
  expect(img.config.os).toBe('linux');
  expect(img.config.architecture).toBe('amd64');
  expect(c.User).toBe(`${UID}:${UID}`);
  expect(c.Entrypoint).toEqual(['/usr/local/bin/model-mirror']);
  expect(c.Cmd).toEqual(['--help']);
  expect(c.WorkingDir).toBe('/work');
  expect(c.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'HOME=/home/nonroot', ...Object.entries(NODE_FLAGS.processEnv).map(([k, v]) => `${k}=${v}`)]));
});

test('the OCI labels are set from the build args', () => {
  const l = img.config.config.Labels ?? {};
  const head = must('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT }).trim();
  expect(l['org.opencontainers.image.title']).toBe('model-mirror');
  expect(l['org.opencontainers.image.version']).toBe(process.env.VERSION ?? pkg.version);
  expect(l['org.opencontainers.image.revision']).toBe(process.env.REVISION ?? head);
  expect(l['org.opencontainers.image.licenses']).toBe(pkg.license);
  expect(l['org.opencontainers.image.base.name']).toBe(`gcr.io/distroless/nodejs${versions.node}-debian13:nonroot`);
  expect(l['org.opencontainers.image.description']).toMatch(/HuggingFace/);
  expect(Object.keys(l)).toContain('org.opencontainers.image.source');
  const created = l['org.opencontainers.image.created'];
  expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(Math.abs(Date.parse(created) - Date.now())).toBeLessThan(7 * 24 * 3600 * 1000);
});

test('runs as 65532:65532 (nonroot, HOME /home/nonroot), in /work', () => {
  const r = node('const o=require("os").userInfo();console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),groups:process.getgroups(),user:o.username,home:process.env.HOME,cwd:process.cwd()}))');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ uid: UID, gid: UID, groups: [UID], user: 'nonroot', home: '/home/nonroot', cwd: '/work' });
});

test('has no shell', () => {
  const r = node('const fs=require("fs");console.log(JSON.stringify(["/bin/sh","/usr/bin/sh","/bin/bash","/bin/dash","/bin/busybox","/usr/bin/env"].filter(p=>fs.existsSync(p))))');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([]);
  const sh1 = run({ entrypoint: ['/bin/sh'], args: ['-c', 'echo hello'] });
  expect(sh1.code).not.toBe(0);
  expect(sh1.stdout).not.toContain('hello');
});

test('`model-mirror --help` works as the ENTRYPOINT (and is the default CMD)', () => {
  for (const r of [run({ args: ['--help'] }), run()]) {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model-mirror <command>/);
    for (const c of commandNames) expect(r.stdout).toContain(`model-mirror ${c}`);
  }
  const v = run({ args: ['--version'] });
  expect(v.code).toBe(0);
  expect(v.stdout.trim()).toBe(pkg.version);
});

test('model-mirror is the bundle behind a symlink, run by #!/nodejs/bin/node; node is the pinned Node', () => {
  const r = node('const fs=require("fs");console.log(JSON.stringify({link:fs.readlinkSync("/usr/local/bin/model-mirror"),first:fs.readFileSync("/opt/model-mirror/model-mirror.js","utf8").split("\\n")[0],mode:(fs.statSync("/opt/model-mirror/model-mirror.js").mode&0o777).toString(8),licenses:fs.existsSync("/opt/model-mirror/THIRD_PARTY_LICENSES.txt")}))');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ link: '/opt/model-mirror/model-mirror.js', first: ['#!/nodejs/bin/node', ...NODE_FLAGS.shebangArgs].join(' '), mode: '755', licenses: true });
  const v = run({ entrypoint: ['/nodejs/bin/node'], args: ['--version'] });
  expect(v.code).toBe(0);
  expect(v.stdout.trim()).toMatch(new RegExp(`^v${versions.node}\\.`));
  expect(v.stdout.trim()).toBe(`v${versions.nodeRelease}`);
});

test('read-only root filesystem: only /work and /tmp are writable; `download --help` runs', () => {
  const h = run({ args: ['download', '--help'] });
  expect(h.stderr).toBe('');
  expect(h.code).toBe(0);
  expect(h.stdout).toContain('--model-id');
  const w = node('const fs=require("fs");const r={};for(const d of ["/work","/tmp","/","/opt/model-mirror","/home/nonroot","/usr/local/bin"]){try{fs.writeFileSync(d.replace(/\\/$/,"")+"/probe","x");r[d]="ok"}catch(e){r[d]=e.code}}console.log(JSON.stringify(r))');
  expect(w.code).toBe(0);
  expect(JSON.parse(w.stdout)).toEqual({ '/work': 'ok', '/tmp': 'ok', '/': 'EROFS', '/opt/model-mirror': 'EROFS', '/home/nonroot': 'EROFS', '/usr/local/bin': 'EROFS' });
});

describe('model-mirror download writes into /work (Hub fixture on 127.0.0.1)', () => {
  let hub: HubFixture;
  beforeAll(async () => { hub = await startHubFixture(); });
  afterAll(async () => { await hub?.close(); });

  test('every file lands in /work byte-identical, owned by 65532', async () => {
    const REPO = 'test/tiny-model';
    const work = freshWork();
    const r = await runImageAsync(img, rootfs, state, {
      work, args: ['download', '--model-id', REPO, '--dest', '/work/model', '--hub-url', hub.url, '--output-dir', '/work/out'],
    });
    expect(r.stderr).not.toMatch(/ERROR|internal error/);
    expect(r.code).toBe(0);
    const files = hub.repos.get(REPO)!.files;
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const p = path.join(work, 'model', f.path);
      expect(fs.readFileSync(p).equals(hub.content(REPO, f.path))).toBe(true);
      expect(fs.statSync(p).uid).toBe(UID);
    }
    expect(fs.existsSync(path.join(work, 'model', 'mirror-manifest.json'))).toBe(true);
    expect(fs.readFileSync(path.join(work, 'out', 'commit_sha'), 'utf8').trim()).toBe(hub.repos.get(REPO)!.branches.main);
  });
});

describe('ctr -n k8s.io images import (a throwaway containerd under /tmp)', () => {
  let dir: string;
  let containerd: ChildProcess | undefined;
  const ctr = (...a: string[]) => sh('ctr', ['--address', path.join(dir, 'containerd.sock'), '-n', 'k8s.io', ...a]);

  beforeAll(async () => {
    dir = fs.mkdtempSync('/tmp/mm-ctrd-');
    fs.writeFileSync(path.join(dir, 'config.toml'), [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${dir}/containerd.sock"`,
      '[ttrpc]',
      `  address = "${dir}/containerd.sock.ttrpc"`,
      '[debug]',
      `  address = "${dir}/debug.sock"`,
      '[metrics]',
      '  address = ""',
    ].join('\n') + '\n');
    const log = fs.openSync(path.join(dir, 'containerd.log'), 'w');
    containerd = spawn('containerd', ['--config', path.join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    for (let i = 0; i < 100; i++) {
      if (ctr('version').status === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`containerd did not start:\n${fs.readFileSync(path.join(dir, 'containerd.log'), 'utf8').slice(-4000)}`);
  }, 60_000);

  afterAll(async () => {
    if (containerd && containerd.exitCode === null) {
      const exited = new Promise((r) => containerd!.once('exit', r));
      containerd.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (containerd.exitCode === null) containerd.kill('SIGKILL');
    }
    if (dir) {
      sh('umount', ['-R', path.join(dir, 'root')]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('imports under its name and unpacks', () => {
    const imp = ctr('images', 'import', archive);
    expect(imp.stderr).toBe('');
    expect(imp.status).toBe(0);
    const name = img.index.manifests[0].annotations['io.containerd.image.name'];
    const ls = ctr('images', 'ls');
    expect(ls.status).toBe(0);
    const row = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === name);
    expect(row).toBeDefined();
    expect(row).toContain(img.index.manifests[0].digest);
    const check = ctr('images', 'check');
    expect(check.stdout.split('\n').find((l) => l.startsWith(name))).toMatch(/complete/);
  });
});
