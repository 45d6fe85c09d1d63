#!/usr/bin/env node
// Bundles the model-mirror CLI (steps/cli.ts) and every runtime dependency into ONE CommonJS
// file, so the container image needs nothing but a Node runtime: no node_modules, no npm.
//
//   node scripts/bundle.mjs                       -> dist-cli/model-mirror.js (+ .map, notices, meta)
//   node scripts/bundle.mjs --outfile /x/y.js     -> elsewhere (tests bundle into a temp dir)
//   node scripts/bundle.mjs --shebang /nodejs/bin/node
//                                                 -> first line `#!/nodejs/bin/node <flag>` (the distroless
//                                                    runtime has no /usr/bin/env; see Dockerfile)
//   The Node/V8 flags on the #! line and set at start come from steps/common/node-flags.json.
//   node scripts/bundle.mjs --print-defaults      -> prints {"entry","outfile","shebang"} as JSON, builds nothing
//
// Decisions:
// - format cjs, platform node, target node20: the CLI's `if (require.main === module)` guard keeps
//   working because esbuild hoists an ESM entry into the bundle's top-level scope, where `require`
//   and `module` are Node's own (asserted after every build by running `--help` and `--version`).
// - no minification: the CLI prints stacks for internal errors into Argo pod logs; readable frames
//   matter more than a few hundred KB next to a ~100 MB Node runtime. A linked source map is
//   written next to the bundle for local use (`node --enable-source-maps`); the image omits it.
// - @huggingface/hub pulls in @huggingface/xetchunk-wasm -> blake3-jit / gearhash-jit. Despite the
//   name, those ship their WebAssembly as bytes inlined in JS (`new WebAssembly.Module(bytes)`), so
//   nothing has to be copied next to the bundle. The check below enforces that the bundle has no
//   require() of anything but Node built-ins, and that no input is a .wasm/.node file.
// - Third-party licence texts of every bundled package go to THIRD_PARTY_LICENSES.txt next to
//   the bundle (MIT/Apache/BSD require the notice to travel with the code); the image ships it.
import * as esbuild from 'esbuild';
import { builtinModules, createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Node/V8 flags of the CLI (memory flat in the number of files): one place, see the file.
const NODE_FLAGS = JSON.parse(fs.readFileSync(path.join(ROOT, 'steps/common/node-flags.json'), 'utf8'));
export const DEFAULTS = {
  entry: 'steps/cli.ts',
  outfile: 'dist-cli/model-mirror.js',
  shebang: '/usr/bin/env node',
};

const { values: opts } = parseArgs({
  options: {
    outfile: { type: 'string', default: DEFAULTS.outfile },
    shebang: { type: 'string', default: DEFAULTS.shebang },
    'print-defaults': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
  strict: true,
});

if (opts['print-defaults']) {
  process.stdout.write(JSON.stringify(DEFAULTS) + '\n');
  process.exit(0);
}

const say = (msg) => { if (!opts.quiet) process.stdout.write(msg + '\n'); };
const outfile = path.resolve(ROOT, opts.outfile);
const outdir = path.dirname(outfile);
const base = path.basename(outfile, '.js');
const metaFile = path.join(outdir, `${base}.meta.json`);
const noticesFile = path.join(outdir, 'THIRD_PARTY_LICENSES.txt');

// yargs' ESM entry pulls cliui's ESM shim, which wraps `--help` text at a fixed column in the
// middle of words; its CommonJS entry wraps on word boundaries. Bundle the CommonJS one (what
// ts-node and `require` load too).
const yargsCommonJs = {
  name: 'yargs-commonjs',
  setup(build) {
    const require = createRequire(path.join(ROOT, 'package.json'));
    build.onResolve({ filter: /^yargs(\/helpers)?$/ }, (args) => ({ path: require.resolve(args.path) }));
  },
};

fs.mkdirSync(outdir, { recursive: true });
const entryHasShebang = fs.readFileSync(path.join(ROOT, DEFAULTS.entry), 'utf8').startsWith('#!');

const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: [DEFAULTS.entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: false,
  sourcemap: 'linked',
  metafile: true,
  // esbuild keeps the entry's own `#!` line as line 1; only add one when the entry has none.
  ...(entryHasShebang ? {} : { banner: { js: `#!${opts.shebang}` } }),
  logLevel: 'warning',
  // package.json is imported for the version; everything else is code.
  loader: { '.json': 'json' },
  plugins: [yargsCommonJs],
});
fs.writeFileSync(metaFile, JSON.stringify(result.metafile, null, 1) + '\n');
{
  // Exactly one interpreter line, the requested one (same line count: the source map stays valid).
  const code = fs.readFileSync(outfile, 'utf8');
  if (!code.startsWith('#!')) throw new Error(`bundle: ${outfile} does not start with a #! line`);
  const body = code.slice(code.indexOf('\n') + 1);
  if (body.startsWith('#!')) throw new Error(`bundle: ${outfile} has two #! lines`);
  // The runtime flags go on line 2 after esbuild's "use strict" (which must stay the first statement).
  const strict = body.startsWith('"use strict";') ? '"use strict";' : '';
  fs.writeFileSync(outfile, `${shebangLine(opts.shebang, NODE_FLAGS.shebangArgs, NODE_FLAGS.processEnv ?? {})}\n${strict}${runtimeFlagsStatement(NODE_FLAGS.runtimeV8Flags)}${body.slice(strict.length)}`);
}

/**
 * `#!<interpreter> <flags>`. Through /usr/bin/env the flags need `env -S` to be split, and the
 * process environment goes there too (NAME=VALUE before the command); a direct interpreter path
 * gets the rest of the line as ONE argument (Linux), so it takes one flag at most and no
 * environment (the image sets that as ENV in the Dockerfile).
 */
function shebangLine(interpreter, flags, env) {
  const viaEnv = /^\/usr\/bin\/env\s+/.exec(interpreter);
  const assignments = Object.entries(env).map(([k, v]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || /[\s\\'"$]/.test(v)) throw new Error(`bundle: processEnv ${k}=${v} cannot go on a #! line`);
    return `${k}=${v}`;
  });
  if (viaEnv && (flags.length || assignments.length)) {
    const line = `#!/usr/bin/env -S ${[...assignments, interpreter.slice(viaEnv[0].length).replace(/^-S\s+/, ''), ...flags].join(' ')}`;
    // Linux reads at most 255 bytes of a #! line (BINPRM_BUF_SIZE 256) and cuts the rest.
    if (Buffer.byteLength(line) > 255) throw new Error(`bundle: the #! line is ${Buffer.byteLength(line)} bytes; Linux reads 255`);
    return line;
  }
  if (!flags.length) return `#!${interpreter}`;
  if (flags.length > 1 || /\s/.test(interpreter)) {
    throw new Error(`bundle: #!${interpreter} can carry one argument, not ${flags.join(' ')} (steps/common/node-flags.json shebangArgs)`);
  }
  return `#!${interpreter} ${flags[0]}`;
}

/** A statement on line 2, before the bundle's code (the line count, hence the source map, stays). */
function runtimeFlagsStatement(flags) {
  return flags.length ? ` require("node:v8").setFlagsFromString(${JSON.stringify(flags.join(' '))});` : '';
}
fs.chmodSync(outfile, 0o755);

// --- Self-containment: nothing but Node built-ins may be left to require() at runtime. -------
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const relOut = path.relative(ROOT, outfile).split(path.sep).join('/');
const output = result.metafile.outputs[relOut];
if (!output) throw new Error(`bundle: esbuild metafile has no output ${relOut}`);
const externals = output.imports.filter((i) => i.external && !builtins.has(i.path));
const nativeInputs = Object.keys(result.metafile.inputs).filter((p) => /\.(wasm|node)$/.test(p));
if (externals.length > 0 || nativeInputs.length > 0) {
  throw new Error(
    'bundle: not self-contained:\n' +
      externals.map((i) => `  runtime require of ${i.path} (${i.kind})\n`).join('') +
      nativeInputs.map((p) => `  binary input ${p} would have to ship next to the bundle\n`).join(''),
  );
}

// --- Licence notices of every bundled package. ---------------------------------------------------
const packages = new Map(); // dir -> {name, version, license}
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!m || packages.has(m[1])) continue;
  const dir = path.join(ROOT, m[1]);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const licenseFile = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f));
  packages.set(m[1], {
    name: pkg.name,
    version: pkg.version,
    license: typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license ?? 'UNKNOWN'),
    text: licenseFile ? fs.readFileSync(path.join(dir, licenseFile), 'utf8').trim() : '(no licence file shipped in the package)',
  });
}
const sorted = [...packages.values()].sort((a, b) => `${a.name}@${a.version}`.localeCompare(`${b.name}@${b.version}`));
fs.writeFileSync(
  noticesFile,
  `model-mirror bundles the following third-party packages.\n\n` +
    sorted.map((p) => `${'='.repeat(78)}\n${p.name}@${p.version} (${p.license})\n${'-'.repeat(78)}\n${p.text}\n`).join('\n'),
);

// --- Smoke: the bundle runs from a directory with no node_modules anywhere above it. -----------
const smokeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-mirror-bundle-smoke-'));
try {
  const copy = path.join(smokeDir, 'model-mirror.js');
  fs.copyFileSync(outfile, copy);
  const run = (args) =>
    execFileSync(process.execPath, [copy, ...args], { cwd: smokeDir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
  const help = run(['--help']);
  if (!/model-mirror <command>/.test(help)) {
    throw new Error(`bundle: \`--help\` did not print usage (is the require.main guard intact?):\n${help}`);
  }
  const version = run(['--version']).trim();
  const expected = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  if (version !== expected) throw new Error(`bundle: --version printed ${JSON.stringify(version)}, want ${expected}`);
  // Started as the npm bin is (through its #! line, flags included), where this machine has the interpreter.
  const interpreter = opts.shebang.split(/\s+/)[0];
  if (fs.existsSync(interpreter) && (interpreter !== '/usr/bin/env' || /^\/usr\/bin\/env\s+node$/.test(opts.shebang))) {
    const direct = execFileSync(copy, ['--version'], { cwd: smokeDir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } }).trim();
    if (direct !== expected) throw new Error(`bundle: ${copy} --version (through its #! line) printed ${JSON.stringify(direct)}, want ${expected}`);
  }
} finally {
  fs.rmSync(smokeDir, { recursive: true, force: true });
}

const bytes = fs.statSync(outfile).size;
say(
  `bundle: ${path.relative(process.cwd(), outfile) || outfile} ${(bytes / 1024 / 1024).toFixed(2)} MiB (${bytes} bytes), ` +
    `${Object.keys(result.metafile.inputs).length} inputs from ${packages.size} packages, ${fs.readFileSync(outfile, 'utf8').split('\n', 1)[0]}`,
);
