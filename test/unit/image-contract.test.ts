// The container contract between the Dockerfile, the CLI bundle (scripts/bundle.mjs), the CLI
// (steps/) and the synthesized Argo WorkflowTemplate. Docker cannot run here, so the Dockerfile is
// parsed and its file operations are simulated; the bundle is built for real.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yargs, { type CommandModule } from 'yargs';
import { commands } from '../../steps/commands';
import { CLI_COMMANDS, runWorkflowTemplate, validateWorkflowTemplate, type StepInfo } from '../argo-runner';
import { dummyStoresFor, REPO_ROOT, synthesize, type Synthesized } from '../argo-runner/synth';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const versions = JSON.parse(read('versions.json'));
const pkg = JSON.parse(read('package.json'));

// ---- a small Dockerfile parser -----------------------------------------------------------------

interface Instr { readonly cmd: string; readonly flags: Record<string, string>; readonly rest: string; readonly line: number }
interface Stage { readonly from: string; readonly name?: string; readonly instrs: Instr[] }

function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const logical: { text: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!buf && /^\s*(#|$)/.test(line)) return; // comments (and the syntax directive) and blanks
    if (buf && /^\s*#/.test(line)) return; // comment lines inside a continuation
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(line)) { buf += line.replace(/\\\s*$/, ' '); return; }
    logical.push({ text: (buf + line).trim(), line: start });
    buf = '';
  });
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l.text);
    if (!m) throw new Error(`Dockerfile line ${l.line}: cannot parse ${l.text}`);
    const cmd = m[1].toUpperCase();
    let rest = m[2];
    const flags: Record<string, string> = {};
    for (let f = /^--([\w-]+)=(\S+)\s+/.exec(rest); f; f = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]] = f[2];
      rest = rest.slice(f[0].length);
    }
    if (cmd === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: fm![1], name: fm![2], instrs: [] });
      continue;
    }
    if (!stages.length) {
      if (cmd !== 'ARG') throw new Error(`Dockerfile line ${l.line}: ${cmd} before FROM`);
      const [k, v] = rest.split('=');
      globalArgs[k] = v ?? '';
      continue;
    }
    stages[stages.length - 1].instrs.push({ cmd, flags, rest, line: l.line });
  }
  return { globalArgs, stages };
}

const expand = (s: string, vars: Record<string, string>) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a, b) => vars[a ?? b] ?? '');

/** key=value pairs of ENV / LABEL (values may be "quoted"). */
function keyValues(rest: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let m = re.exec(rest); m; m = re.exec(rest)) out[m[1]] = m[2].startsWith('"') ? JSON.parse(m[2]) : m[2];
  return out;
}

type FsEntry = { kind: 'file'; origin: string; mode?: number } | { kind: 'symlink'; target: string } | { kind: 'dir'; owner?: string };

/**
 * Simulates the build stage's RUN file operations (mkdir -p, cp, chmod, ln -s, chown) and the
 * runtime stage's COPY --from, returning the runtime image's files that came from the build stage.
 * `origin` of a file is its path relative to the build stage's WORKDIR (= the repo root copy).
 */
function simulate(df: ReturnType<typeof parseDockerfile>): { image: Map<string, FsEntry>; runtime: Stage; build: Stage; bundleCmd?: string } {
  const build = df.stages.find((s) => s.name === 'build');
  const runtime = df.stages[df.stages.length - 1];
  if (!build) throw new Error('Dockerfile has no stage named "build"');
  const buildFs = new Map<string, FsEntry>();
  let workdir = '/';
  let bundleCmd: string | undefined;
  const abs = (p: string) => path.posix.resolve(workdir, p);
  for (const i of build.instrs) {
    if (i.cmd === 'WORKDIR') workdir = abs(i.rest);
    if (i.cmd !== 'RUN') continue;
    for (const part of i.rest.split(/\s*&&\s*/)) {
      const w = part.trim().split(/\s+/);
      if (w[0] === 'npm' && w[1] === 'run' && w[2] === 'bundle') bundleCmd = part.trim();
      if (w[0] === 'mkdir') w.slice(1).filter((x) => !x.startsWith('-')).forEach((d) => buildFs.set(abs(d), { kind: 'dir' }));
      if (w[0] === 'cp') {
        const args = w.slice(1).filter((x) => !x.startsWith('-'));
        const dest = args.pop()!;
        for (const src of args) buildFs.set(dest.endsWith('/') ? abs(path.posix.join(dest, path.posix.basename(src))) : abs(dest), { kind: 'file', origin: path.posix.relative('/src', abs(src)) });
      }
      if (w[0] === 'chmod') {
        const e = buildFs.get(abs(w[2]));
        if (e?.kind === 'file') e.mode = parseInt(w[1], 8);
      }
      if (w[0] === 'ln' && w[1] === '-s') buildFs.set(abs(w[3]), { kind: 'symlink', target: w[2] });
      if (w[0] === 'chown') { const e = buildFs.get(abs(w[2])); if (e?.kind === 'dir') e.owner = w[1]; }
    }
  }
  const image = new Map<string, FsEntry>();
  for (const i of runtime.instrs) {
    if (i.cmd !== 'COPY' || i.flags.from !== 'build') continue;
    const [src, dest] = i.rest.split(/\s+/);
    const s = src.replace(/\/$/, '');
    for (const [p, e] of buildFs) {
      if (p !== s && !p.startsWith(s + '/')) continue;
      const rel = path.posix.relative(s, p);
      const target = rel ? path.posix.join(dest, rel) : dest.replace(/\/$/, '') || '/';
      image.set(target, e.kind === 'dir' && i.flags.chown ? { kind: 'dir', owner: i.flags.chown } : e);
    }
  }
  return { image, runtime, build, bundleCmd };
}

/** .dockerignore semantics for the simple patterns used here: last match wins, `!` re-includes. */
function dockerignoreAllows(patterns: string[], file: string): boolean {
  let allowed = true;
  const toRe = (p: string) => new RegExp('^' + p.replace(/\/$/, '').split('**').map((x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*') + '(/.*)?$');
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw).replace(/^\//, '');
    if (toRe(p).test(file)) allowed = neg;
  }
  return allowed;
}

// ---- the Dockerfile --------------------------------------------------------------------------------

describe('Dockerfile', () => {
  const df = parseDockerfile(read('Dockerfile'));
  const { image, runtime, build, bundleCmd } = simulate(df);
  const vars = { ...df.globalArgs };
  const bundleDefaults = JSON.parse(execFileSync(process.execPath, ['scripts/bundle.mjs', '--print-defaults'], { cwd: REPO_ROOT, encoding: 'utf8' }));
  const last = (cmd: string) => [...runtime.instrs].reverse().find((i) => i.cmd === cmd);

  it('pins the Node major of versions.json in both stages', () => {
    expect(df.globalArgs.NODE_MAJOR).toBe(versions.node);
    expect(expand(build.from, vars)).toMatch(new RegExp(`^node:${versions.node}-`));
    expect(expand(runtime.from, vars)).toContain(`nodejs${versions.node}`);
  });

  it('builds the bundle with npm ci + npm run bundle, with an interpreter the runtime has', () => {
    expect(build.instrs.some((i) => i.cmd === 'RUN' && /\bnpm ci\b/.test(i.rest))).toBe(true);
    expect(bundleCmd).toBeDefined();
    const shebang = /--shebang\s+(\S+)/.exec(bundleCmd!)?.[1] ?? '/usr/bin/env node';
    // distroless has no /usr/bin/env and no shell: node lives at /nodejs/bin/node
    if (expand(runtime.from, vars).startsWith('gcr.io/distroless/nodejs')) expect(shebang).toBe('/nodejs/bin/node');
  });

  it('runs as a numeric non-root user', () => {
    const user = last('USER')?.rest;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    for (const id of user!.split(':')) expect(Number(id)).toBeGreaterThan(0);
  });

  it('ships the bundle that scripts/bundle.mjs writes at /opt/model-mirror/model-mirror.js, executable', () => {
    expect(bundleDefaults.outfile).toBe('dist-cli/model-mirror.js');
    const e = image.get('/opt/model-mirror/model-mirror.js');
    expect(e).toEqual({ kind: 'file', origin: bundleDefaults.outfile, mode: 0o755 });
    expect(image.get('/opt/model-mirror/THIRD_PARTY_LICENSES.txt')).toMatchObject({ kind: 'file', origin: 'dist-cli/THIRD_PARTY_LICENSES.txt' });
    // nothing else from the build stage (no node_modules, no sources)
    expect([...image.keys()].filter((p) => image.get(p)!.kind === 'file').sort()).toEqual(['/opt/model-mirror/THIRD_PARTY_LICENSES.txt', '/opt/model-mirror/model-mirror.js']);
  });

  it('puts `model-mirror` on PATH at /usr/local/bin/model-mirror', () => {
    expect(image.get('/usr/local/bin/model-mirror')).toEqual({ kind: 'symlink', target: '/opt/model-mirror/model-mirror.js' });
    const env = Object.assign({}, ...runtime.instrs.filter((i) => i.cmd === 'ENV').map((i) => keyValues(i.rest)));
    expect(env.PATH.split(':')).toContain('/usr/local/bin');
    // ENTRYPOINT is the CLI (Argo's `command` replaces it anyway)
    expect(JSON.parse(last('ENTRYPOINT')!.rest)).toEqual(['/usr/local/bin/model-mirror']);
    expect(CLI_COMMANDS).toContainEqual(['model-mirror']);
  });

  it('sets the process environment of steps/common/node-flags.json (its #! line cannot)', () => {
    const env = Object.assign({}, ...runtime.instrs.filter((i) => i.cmd === 'ENV').map((i) => keyValues(i.rest))) as Record<string, string>;
    const { processEnv } = JSON.parse(read('steps/common/node-flags.json')) as { processEnv: Record<string, string> };
    expect(Object.keys(processEnv).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(processEnv)) expect({ k, v: env[k] }).toEqual({ k, v });
  });

  it('has WORKDIR /work owned by the runtime user', () => {
    expect(last('WORKDIR')?.rest).toBe('/work');
    const uid = last('USER')!.rest.split(':')[0];
    expect(image.get('/work')).toEqual({ kind: 'dir', owner: expect.stringMatching(new RegExp(`^${uid}(:|$)`)) });
  });

  it('carries OCI labels', () => {
    const labels = Object.assign({}, ...runtime.instrs.filter((i) => i.cmd === 'LABEL').map((i) => keyValues(i.rest)));
    for (const k of ['title', 'description', 'source', 'version', 'revision', 'created', 'licenses']) {
      expect(Object.keys(labels)).toContain(`org.opencontainers.image.${k}`);
    }
    expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(labels['org.opencontainers.image.title']).toBe('model-mirror');
  });
});

// ---- the bundle ------------------------------------------------------------------------------------

describe('CLI bundle (as the image build makes it)', () => {
  let dir: string;
  let meta: Obj;
  let bundle: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'image-contract-'));
    bundle = path.join(dir, 'out', 'model-mirror.js');
    execFileSync(process.execPath, ['scripts/bundle.mjs', '--outfile', bundle, '--shebang', '/nodejs/bin/node', '--quiet'], { cwd: REPO_ROOT, stdio: 'pipe' });
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'model-mirror.meta.json'), 'utf8'));
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts with the runtime interpreter line and runs every command from a dir without node_modules', () => {
    // The Node flags of steps/common/node-flags.json ride on the #! line (one argument at most there).
    const { shebangArgs } = JSON.parse(read('steps/common/node-flags.json')) as { shebangArgs: string[] };
    expect(fs.readFileSync(bundle, 'utf8').split('\n')[0]).toBe(['#!/nodejs/bin/node', ...shebangArgs].join(' '));
    const clean = path.join(dir, 'clean');
    fs.mkdirSync(clean);
    fs.copyFileSync(bundle, path.join(clean, 'model-mirror.js'));
    const run = (args: string[]) => spawnSync(process.execPath, [path.join(clean, 'model-mirror.js'), ...args], { cwd: clean, encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR } });
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const c of commands) {
      const name = commandName(c);
      expect(help.stdout).toContain(`model-mirror ${name}`);
      const r = run([name, '--help']);
      expect({ name, status: r.status, stderr: r.stderr }).toEqual({ name, status: 0, stderr: '' });
      // Help text wraps between words: every word of the description (the prose between the
      // usage line and the option list) is a word of the command's source. yargs' ESM build cut
      // words at a fixed column ("commit sh" / "a, lists").
      const prose = r.stdout.split(/\n(?:Options|Positionals):/)[0].replace(/^Commands:$/m, '').split('\n').slice(1).join(' '); // a group's own header is yargs'
      const words = (t: string) => new Set(t.split(/[\s'`"()]+/).map((w) => w.replace(/^[^\w$-]+|[^\w]+$/g, '')).filter((w) => w.length >= 3));
      // A command group (e.g. `models`) describes its subcommands in steps/commands/<name>/*.ts.
      const groupDir = path.join(REPO_ROOT, 'steps/commands', name);
      const groupFiles = fs.existsSync(groupDir) ? fs.readdirSync(groupDir).filter((f) => f.endsWith('.ts')).map((f) => `steps/commands/${name}/${f}`) : [];
      const source = words([`steps/commands/${name}.ts`, ...groupFiles].map(read).join('\n'));
      expect({ name, notInSource: [...words(prose)].filter((w) => !source.has(w)) }).toEqual({ name, notInSource: [] });
    }
    // A missing option is a usage error (exit 2); the command itself never runs.
    const missing = run(['upload']);
    expect({ status: missing.status, stderr: missing.stderr }).toEqual({ status: 2, stderr: 'error: Missing required arguments: source, dest\nRun with --help for usage.\n' });
  });

  it('bundles only sources the Docker build context contains', () => {
    const ignore = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const df = parseDockerfile(read('Dockerfile'));
    const build = df.stages.find((s) => s.name === 'build')!;
    const copied = build.instrs.filter((i) => i.cmd === 'COPY' && !i.flags.from).flatMap((i) => i.rest.split(/\s+/).slice(0, -1));
    const sources = Object.keys(meta.inputs).filter((p) => !p.includes('node_modules/'));
    expect(sources.length).toBeGreaterThan(0);
    const problems = sources.flatMap((src) => [
      ...(dockerignoreAllows(ignore, src) ? [] : [`${src} is excluded by .dockerignore`]),
      ...(copied.some((c) => src === c || src.startsWith(c.replace(/\/?$/, '/'))) ? [] : [`${src} is not COPY'd into the build stage`]),
    ]);
    expect(problems).toEqual([]);
    for (const f of ['package.json', 'package-lock.json', 'scripts/bundle.mjs']) expect(dockerignoreAllows(ignore, f)).toBe(true);
    for (const f of ['node_modules/yargs/index.cjs', 'dist-cli/model-mirror.js', '.git/config', 'test/unit/x.test.ts', 'steps/x.test.ts', '.env']) {
      expect({ f, allowed: dockerignoreAllows(ignore, f) }).toEqual({ f, allowed: false });
    }
  });

  it('never needs a shell at run time (the distroless runtime has none)', () => {
    const sources = Object.keys(meta.inputs).filter((p) => !p.includes('node_modules/') && /\.[cm]?[jt]s$/.test(p));
    const offenders = sources.filter((p) => /\bexecSync?\s*\(|shell\s*:\s*true|spawn(Sync)?\(\s*['"](sh|bash|\/bin\/sh)['"]/.test(fs.readFileSync(path.join(REPO_ROOT, p), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

// ---- the synthesized WorkflowTemplate ---------------------------------------------------------------

function commandName(c: CommandModule<any, any>): string {
  const spec = Array.isArray(c.command) ? c.command[0] : c.command;
  return String(spec).split(/\s+/)[0];
}

function positionalsOf(c: CommandModule<any, any>): { required: number; optional: number; variadic: boolean } {
  const spec = String(Array.isArray(c.command) ? c.command[0] : c.command).split(/\s+/).slice(1);
  return {
    required: spec.filter((s) => s.startsWith('<')).length,
    optional: spec.filter((s) => s.startsWith('[')).length,
    variadic: spec.some((s) => s.includes('..')),
  };
}

/** The options a command declares, read from its yargs builder on a fresh instance. */
function optionsOf(c: CommandModule<any, any>): { names: Set<string>; booleans: Set<string>; demanded: string[] } {
  let y: any = yargs([]);
  if (typeof c.builder === 'function') y = c.builder(y) ?? y;
  else if (c.builder) y = y.options(c.builder);
  const o = y.getOptions();
  const names = new Set<string>(Object.keys(o.key));
  for (const [k, aliases] of Object.entries(o.alias as Record<string, string[]>)) { names.add(k); aliases.forEach((a) => names.add(a)); }
  for (const g of ['json', 'debug', 'help', 'h', 'version']) names.add(g); // cli.ts globals and built-ins
  return { names, booleans: new Set(o.boolean as string[]), demanded: Object.keys(o.demandedOptions ?? {}) };
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_m, c) => c.toUpperCase());

/** Static check of one container's args against the CLI's declared commands and options. */
function checkArgs(args: string[]): string[] {
  const problems: string[] = [];
  const cmd = commands.find((c) => commandName(c) === args[0] || (c.aliases ?? []).includes(args[0]));
  if (!cmd) return [`args[0] ${JSON.stringify(args[0])} is not a model-mirror command (${commands.map(commandName).join(', ')})`];
  const { names, booleans, demanded } = optionsOf(cmd);
  const seen = new Set<string>();
  let positionals = 0;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) { positionals++; continue; }
    let name = a.slice(2).split('=')[0];
    if (!names.has(name) && name.startsWith('no-') && booleans.has(name.slice(3))) name = name.slice(3);
    if (!names.has(name) && !names.has(camel(name))) {
      problems.push(`${args[0]}: --${name} is not an option of the command`);
      if (!a.includes('=') && args[i + 1] !== undefined && !args[i + 1].startsWith('--')) i++; // assume it took a value
      continue;
    }
    seen.add(name);
    if (!a.includes('=') && !booleans.has(name) && !booleans.has(camel(name))) i++; // consumes its value
  }
  const pos = positionalsOf(cmd);
  if (positionals < pos.required || (!pos.variadic && positionals > pos.required + pos.optional)) {
    problems.push(`${args[0]}: ${positionals} positional argument(s), command ${JSON.stringify(cmd.command)} takes ${pos.required}..${pos.required + pos.optional}`);
  }
  for (const d of demanded) if (!seen.has(d) && !seen.has(camel(d))) problems.push(`${args[0]}: required option --${d} missing`);
  return problems;
}

/** Parses substituted args with the real command definitions (strict, handlers replaced by no-ops). */
function parseWithCli(args: readonly string[]): string | undefined {
  let failure: string | undefined;
  const noop = commands.map((c) => ({ ...c, handler: () => undefined }));
  try {
    yargs([...args])
      .option('json', { type: 'boolean' }).option('debug', { type: 'boolean' })
      .command(noop as any).demandCommand(1).strict().exitProcess(false).help(false).version(false)
      .fail((msg, err) => { failure = msg ?? err?.message; })
      .parse();
  } catch (e) {
    failure = (e as Error).message;
  }
  return failure;
}

describe('the contract checkers themselves', () => {
  it('flag unknown commands, unknown options, missing required options and bad values', () => {
    expect(checkArgs(['bogus'])).toEqual([expect.stringMatching(/not a model-mirror command/)]);
    expect(checkArgs(['finalize', '--workflow-status', 'Failed', '--nope', 'x'])).toEqual(['finalize: --nope is not an option of the command']);
    expect(checkArgs(['finalize'])).toEqual(['finalize: required option --workflow-status missing']);
    expect(checkArgs(['finalize', '--workflow-status', 'Failed', 'extra'])).toEqual([expect.stringMatching(/1 positional argument/)]);
    expect(parseWithCli(['finalize', '--workflow-status', 'Failed'])).toBeUndefined();
    expect(parseWithCli(['finalize', '--workflow-status', 'Weird'])).toMatch(/Invalid values/);
    expect(parseWithCli(['finalize', '--workflow-status', 'Failed', '--nope'])).toMatch(/Unknown argument/);
  });
  it('simulate the Dockerfile file operations', () => {
    const df = parseDockerfile([
      'ARG NODE_MAJOR=20', 'FROM node:${NODE_MAJOR}-slim AS build', 'WORKDIR /src',
      'RUN mkdir -p /out/a /out/bin && cp dist-cli/x.js /out/a/ && chmod 0755 /out/a/x.js \\', ' && ln -s /a/x.js /out/bin/x',
      'FROM scratch', 'COPY --from=build /out/a/ /a/', 'COPY --from=build /out/bin/ /usr/local/bin/', 'USER 1:1',
    ].join('\n'));
    const { image } = simulate(df);
    expect(image.get('/a/x.js')).toEqual({ kind: 'file', origin: 'dist-cli/x.js', mode: 0o755 });
    expect(image.get('/usr/local/bin/x')).toEqual({ kind: 'symlink', target: '/a/x.js' });
    expect(dockerignoreAllows(['*', '!steps/', '**/*.test.ts'], 'steps/a/b.ts')).toBe(true);
    expect(dockerignoreAllows(['*', '!steps/', '**/*.test.ts'], 'steps/a/b.test.ts')).toBe(false);
    expect(dockerignoreAllows(['*', '!steps/'], 'lib/x.ts')).toBe(false);
  });
});

describe('synthesized WorkflowTemplate vs. the image and the CLI', () => {
  let synth: Synthesized | undefined;
  let synthError: Error | undefined;
  beforeAll(() => {
    try { synth = synthesize(); } catch (e) { synthError = e as Error; }
  }, 360_000);
  afterAll(() => { if (synth) fs.rmSync(synth.outDir, { recursive: true, force: true }); });
  const wfts = (): Obj[] => {
    if (synthError) throw new Error(`Cannot check the container contract: ${synthError.message}`);
    return synth!.workflowTemplates as Obj[];
  };
  const containers = (wft: Obj) => (wft.spec.templates as Obj[]).filter((t) => t.container).map((t) => ({ name: t.name as string, c: t.container as Obj }));

  it('runs `model-mirror <registered command>` with declared options in every container', () => {
    const problems: string[] = [];
    for (const wft of wfts()) {
      const cs = containers(wft);
      expect(cs.length).toBeGreaterThan(0);
      for (const { name, c } of cs) {
        if (JSON.stringify(c.command) !== JSON.stringify(['model-mirror'])) problems.push(`${name}: command ${JSON.stringify(c.command)}, want ["model-mirror"]`);
        problems.push(...checkArgs((c.args ?? []).map(String)).map((p) => `${name}: ${p}`));
        if (c.workingDir && !String(c.workingDir).startsWith('/')) problems.push(`${name}: workingDir must be absolute`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('makes mounted claims writable by the image user (pod securityContext fsGroup)', () => {
    const df = parseDockerfile(read('Dockerfile'));
    const uid = [...df.stages[df.stages.length - 1].instrs].reverse().find((i) => i.cmd === 'USER')!.rest.split(':')[0];
    for (const wft of wfts()) {
      if (!(wft.spec.volumeClaimTemplates ?? []).length) continue;
      const sc = wft.spec.securityContext ?? {};
      expect({ fsGroup: sc.fsGroup !== undefined, runAsUser: sc.runAsUser ?? Number(uid) }).toEqual({ fsGroup: true, runAsUser: Number(uid) });
    }
  });

  it('is within the local Argo runner feature set and runs end to end with stand-in steps', async () => {
    for (const wft of wfts()) {
      validateWorkflowTemplate(wft);
      const params = Object.fromEntries(((wft.spec.arguments?.parameters ?? []) as Obj[]).filter((p) => p.value === undefined && p.default === undefined).map((p) => [p.name, p.name === 'model_id' ? 'org/model' : `x-${p.name}`]));
      const stores = dummyStoresFor(wft);
      const bundle = path.join(REPO_ROOT, 'test', 'argo-runner', 'fixtures', 'fake-cli.js');
      const parseProblems: string[] = [];
      // Each step is stood in for: its substituted args are parsed by the real CLI definitions,
      // its declared outputs are written, and it exits 0 (or fails, for `failStep`).
      const standIn = (failStep?: string) => (s: StepInfo) => {
        const err = parseWithCli(s.args);
        if (err) parseProblems.push(`${s.template} (${s.args.join(' ')}): ${err}`);
        if (s.step === failStep) return { kind: 'fail' as const, exitCode: 5 };
        for (const [name, file] of Object.entries(s.outputPaths)) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, name === 'version' ? '1\n' : `${name}-value\n`);
        }
        return { kind: 'exit' as const, exitCode: 0 };
      };
      const ok = await runWorkflowTemplate(wft, { bundle, parameters: params, ...stores, onStep: standIn(), reportFailures: false });
      expect({ status: ok.status, message: ok.message }).toEqual({ status: 'Succeeded', message: undefined });
      if (wft.spec.onExit) expect(ok.exitHandler?.workflowStatus).toBe('Succeeded');
      ok.cleanup();

      const steps = ok.nodes.map((n) => n.displayName);
      const failing = steps[Math.min(1, steps.length - 1)];
      const bad = await runWorkflowTemplate(wft, { bundle, parameters: params, ...stores, onStep: standIn(failing), reportFailures: false });
      expect(bad.status).toBe('Failed');
      if (wft.spec.onExit) expect(bad.exitHandler?.workflowStatus).toBe('Failed');
      bad.cleanup();
      expect(parseProblems).toEqual([]);
    }
  }, 120_000);
});
