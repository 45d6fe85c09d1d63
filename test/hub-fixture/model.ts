// Deterministic content of the repos the fixture serves (generated in-process; no files on disk).
import * as crypto from 'node:crypto';
import type { FixtureFile, FixtureRepo } from './types';
import { GeneratedContent, cachedHashes } from './large';

export interface StoredFile extends FixtureFile {
  /** What the Hub reports as `oid` in tree listings: the git blob sha1 of the file git stores (the LFS pointer for LFS files). */
  readonly oid: string;
  /** LFS pointer text (LFS files only). */
  readonly pointer?: Buffer;
  readonly data?: Buffer;
  readonly gen?: GeneratedContent;
}

export interface Commit {
  readonly sha: string;
  readonly parent?: string;
  readonly title: string;
  readonly date: string;
  readonly files: ReadonlyMap<string, StoredFile>;
}

export interface RepoState extends FixtureRepo {
  readonly files: readonly StoredFile[];
  /** Refs that are neither branches nor tags, e.g. `refs/pr/1`. */
  readonly otherRefs: Readonly<Record<string, string>>;
  readonly commits: ReadonlyMap<string, Commit>;
  readonly createdAt: string;
  readonly author: string;
  /** The Hub's scan verdict per path (`securityFileStatus`); absent paths are `safe`. */
  readonly scan: Readonly<Record<string, ScanVerdict>>;
}

/** What the Hub's scanners say about one file (`securityFileStatus` on tree/paths-info with expand). */
export interface ScanVerdict {
  readonly status: 'safe' | 'unscanned' | 'caution' | 'suspicious' | 'unsafe';
  /** Which scanner found it, and its message (e.g. the AV signature). */
  readonly scanner?: 'avScan' | 'pickleImportScan';
  readonly message?: string;
}

export const sha1 = (b: Buffer | string): string => crypto.createHash('sha1').update(b).digest('hex');
export const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
export const gitBlobSha1 = (b: Buffer): string =>
  crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function lfsPointer(sha: string, size: number): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${size}\n`);
}

export function memFile(p: string, data: Buffer | string, lfs = false): StoredFile {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const s256 = sha256(buf);
  const blob = gitBlobSha1(buf);
  if (!lfs) return { path: p, size: buf.length, lfs, sha256: s256, gitBlobSha1: blob, oid: blob, data: buf };
  const pointer = lfsPointer(s256, buf.length);
  return { path: p, size: buf.length, lfs, sha256: s256, gitBlobSha1: blob, oid: gitBlobSha1(pointer), pointer, data: buf };
}

export async function generatedFile(p: string, size: number): Promise<StoredFile & { hashMs: number; hashCached: boolean }> {
  const gen = new GeneratedContent(p, size);
  const h = await cachedHashes(gen);
  const pointer = lfsPointer(h.sha256, size);
  return {
    path: p, size, lfs: true, sha256: h.sha256, gitBlobSha1: h.gitBlobSha1, oid: gitBlobSha1(pointer), pointer, gen,
    hashMs: h.ms, hashCached: h.cached,
  };
}

function makeCommit(repo: string, title: string, date: string, files: StoredFile[], parent?: string): Commit {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const listing = sorted.map((f) => `${f.oid} ${f.path}`).join('\n');
  const sha = sha1(`commit ${repo}\nparent ${parent ?? ''}\ndate ${date}\n\n${title}\n${listing}`);
  return { sha, parent, title, date, files: new Map(sorted.map((f) => [f.path, f])) };
}

function repoState(
  id: string,
  commits: Commit[],
  refs: { branches: Record<string, string>; tags?: Record<string, string>; other?: Record<string, string> },
  extra: { gated?: boolean; private?: boolean; pipelineTag?: string; libraryName?: string; scan?: Record<string, ScanVerdict> },
): RepoState {
  const byId = new Map(commits.map((c) => [c.sha, c]));
  const head = byId.get(refs.branches.main)!;
  return {
    id,
    branches: refs.branches,
    tags: refs.tags ?? {},
    otherRefs: refs.other ?? {},
    files: [...head.files.values()],
    gated: extra.gated ?? false,
    private: extra.private ?? false,
    pipelineTag: extra.pipelineTag,
    libraryName: extra.libraryName,
    commits: byId,
    createdAt: commits[0].date,
    author: id.split('/')[0],
    scan: extra.scan ?? {},
  };
}

// ---------------------------------------------------------------------------------------------
// Tiny GPT-2

/** mulberry32: small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 1024 positions like the real GPT-2: transformers 5 pipelines default to 256 new tokens.
export const TINY_GPT2 = { vocabSize: 1024, nEmbd: 96, nLayer: 2, nHead: 4, nPositions: 1024 } as const;

/** GPT-2 byte-level alphabet (bytes_to_unicode). */
function byteAlphabet(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map: string[] = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCharCode(cs[i])));
  return map;
}

function tokenizerFiles(): { vocab: Record<string, number>; merges: string[] } {
  const alphabet = byteAlphabet();
  const tokens = [...alphabet].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  // Deterministic merges favouring lowercase letters and the space marker, like a real English BPE.
  const common = 'Ġetaoinshrdlucmfwypvbgk'.split('');
  const rand = prng(1234);
  const merges: string[] = [];
  const pool: string[] = [...common];
  const target = TINY_GPT2.vocabSize - 1; // last id is <|endoftext|>
  while (Object.keys(vocab).length < target) {
    const a = pool[Math.floor(rand() * pool.length)];
    const b = common.slice(1)[Math.floor(rand() * (common.length - 1))];
    const merged = a + b;
    if (merged.length > 8 || vocab[merged] !== undefined) continue;
    vocab[merged] = Object.keys(vocab).length;
    merges.push(`${a} ${b}`);
    pool.push(merged);
  }
  vocab['<|endoftext|>'] = TINY_GPT2.vocabSize - 1;
  return { vocab, merges };
}

export function safetensors(tensors: Array<{ name: string; shape: number[]; data: Float32Array }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    const n = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + json.length + off);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  out.write(json, 8, 'utf8');
  let p = 8 + json.length;
  for (const t of tensors) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
    p += t.data.byteLength;
  }
  return out;
}

function gpt2Weights(seed: number): Buffer {
  const { vocabSize: V, nEmbd: E, nLayer: L, nPositions: P } = TINY_GPT2;
  const rand = prng(seed);
  const normal = (n: number, std = 0.02) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * std * 1.7;
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const zeros = (n: number) => new Float32Array(n);
  const t: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  t.push({ name: 'wte.weight', shape: [V, E], data: normal(V * E) });
  t.push({ name: 'wpe.weight', shape: [P, E], data: normal(P * E, 0.01) });
  for (let l = 0; l < L; l++) {
    const h = `h.${l}.`;
    t.push({ name: `${h}ln_1.weight`, shape: [E], data: ones(E) });
    t.push({ name: `${h}ln_1.bias`, shape: [E], data: zeros(E) });
    t.push({ name: `${h}attn.c_attn.weight`, shape: [E, 3 * E], data: normal(E * 3 * E) });
    t.push({ name: `${h}attn.c_attn.bias`, shape: [3 * E], data: zeros(3 * E) });
    t.push({ name: `${h}attn.c_proj.weight`, shape: [E, E], data: normal(E * E) });
    t.push({ name: `${h}attn.c_proj.bias`, shape: [E], data: zeros(E) });
    t.push({ name: `${h}ln_2.weight`, shape: [E], data: ones(E) });
    t.push({ name: `${h}ln_2.bias`, shape: [E], data: zeros(E) });
    t.push({ name: `${h}mlp.c_fc.weight`, shape: [E, 4 * E], data: normal(E * 4 * E) });
    t.push({ name: `${h}mlp.c_fc.bias`, shape: [4 * E], data: zeros(4 * E) });
    t.push({ name: `${h}mlp.c_proj.weight`, shape: [4 * E, E], data: normal(4 * E * E) });
    t.push({ name: `${h}mlp.c_proj.bias`, shape: [E], data: zeros(E) });
  }
  t.push({ name: 'ln_f.weight', shape: [E], data: ones(E) });
  t.push({ name: 'ln_f.bias', shape: [E], data: zeros(E) });
  return safetensors(t);
}

const GITATTRIBUTES = [
  '*.7z', '*.arrow', '*.bin', '*.bz2', '*.ckpt', '*.ftz', '*.gz', '*.h5', '*.joblib', '*.lfs.*', '*.mlmodel',
  '*.model', '*.msgpack', '*.npy', '*.npz', '*.onnx', '*.ot', '*.parquet', '*.pb', '*.pickle', '*.pkl', '*.pt',
  '*.pth', '*.rar', '*.safetensors', 'saved_model/**/*', '*.tar.*', '*.tar', '*.tflite', '*.tgz', '*.wasm',
  '*.xz', '*.zip', '*.zst', '*tfevents*',
].map((p) => `${p} filter=lfs diff=lfs merge=lfs -text`).join('\n') + '\n';

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

function readme(title: string, extra = ''): string {
  return `---
license: apache-2.0
language:
- en
pipeline_tag: text-generation
library_name: transformers
tags:
- gpt2
- fixture
---

# ${title}

A tiny, randomly initialised GPT-2 generated by the model-mirror test fixture. It is useless for
anything but testing.
${extra}`;
}

function tinyModelFiles(version: 1 | 2): StoredFile[] {
  const { vocabSize, nEmbd, nLayer, nHead, nPositions } = TINY_GPT2;
  const { vocab, merges } = tokenizerFiles();
  const eos = vocabSize - 1;
  const config = {
    _name_or_path: 'test/tiny-model',
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: eos,
    embd_pdrop: 0.1,
    eos_token_id: eos,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: nPositions,
    n_embd: nEmbd,
    n_head: nHead,
    n_inner: null,
    n_layer: nLayer,
    n_positions: nPositions,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    torch_dtype: 'float32',
    transformers_version: version === 1 ? '4.40.0' : '4.44.2',
    use_cache: true,
    vocab_size: vocabSize,
  };
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: eos, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
  const files: StoredFile[] = [
    memFile('.gitattributes', GITATTRIBUTES),
    memFile('README.md', readme('tiny-model', version === 2 ? '\n## Changelog\n\n- v2: retrained (new random weights).\n' : '')),
    memFile('config.json', json(config)),
    memFile('generation_config.json', json({
      _from_model_config: true, bos_token_id: eos, eos_token_id: eos, transformers_version: config.transformers_version,
    })),
    memFile('tokenizer.json', json(tokenizer)),
    memFile('tokenizer_config.json', json({
      add_bos_token: false, add_prefix_space: false,
      added_tokens_decoder: {
        [String(eos)]: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
      },
      bos_token: '<|endoftext|>', clean_up_tokenization_spaces: true, eos_token: '<|endoftext|>',
      model_max_length: nPositions, tokenizer_class: 'GPT2Tokenizer', unk_token: '<|endoftext|>',
    })),
    memFile('special_tokens_map.json', json({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' })),
    memFile('vocab.json', JSON.stringify(vocab)),
    memFile('merges.txt', `#version: 0.2\n${merges.join('\n')}\n`),
    memFile('model.safetensors', gpt2Weights(version === 1 ? 1 : 2), true),
  ];
  if (version === 2) {
    files.push(memFile('original/params.json', json({ dim: nEmbd, n_layers: nLayer, n_heads: nHead, vocab_size: vocabSize, norm_eps: 1e-5 })));
    files.push(memFile('original/notes/LICENSE.txt', 'Apache License 2.0 (fixture)\n'));
  }
  return files;
}

function tinyModel(): RepoState {
  const id = 'test/tiny-model';
  const c1 = makeCommit(id, 'Initial commit', '2024-01-15T10:00:00.000Z', tinyModelFiles(1));
  const c2 = makeCommit(id, 'Retrain; add original/ params', '2024-03-01T12:30:00.000Z', tinyModelFiles(2), c1.sha);
  const c3files = [...c2.files.values(), memFile('extra/notes.md', '# Proposed notes\n')];
  const c3 = makeCommit(id, 'Add notes (PR #1)', '2024-03-02T08:00:00.000Z', c3files, c2.sha);
  return repoState(
    id,
    [c1, c2, c3],
    { branches: { main: c2.sha }, tags: { 'v1.0': c1.sha }, other: { 'refs/pr/1': c3.sha } },
    { pipelineTag: 'text-generation', libraryName: 'transformers' },
  );
}

function gatedModel(): RepoState {
  const id = 'test/gated-model';
  const files = tinyModelFiles(2).filter((f) => !f.path.startsWith('original/'));
  const readmeFile = memFile('README.md', readme('gated-model').replace('tags:', 'extra_gated_prompt: Accept the fixture terms\ntags:'));
  const c = makeCommit(id, 'Initial commit', '2024-02-01T09:00:00.000Z', files.map((f) => (f.path === 'README.md' ? readmeFile : f)));
  return repoState(id, [c], { branches: { main: c.sha } }, { gated: true, pipelineTag: 'text-generation', libraryName: 'transformers' });
}

function hostileModel(): RepoState {
  const id = 'test/hostile-model';
  const files = [
    memFile('.gitattributes', GITATTRIBUTES),
    memFile('README.md', '---\nlibrary_name: transformers\n---\n# hostile\n'),
    memFile('config.json', json({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] })),
    memFile('../evil.txt', 'escaped the snapshot directory via ..\n'),
    memFile('/abs.txt', 'absolute path\n'),
    memFile('sub/../../x', 'escaped via sub/../..\n'),
  ];
  const c = makeCommit(id, 'Initial commit', '2024-02-02T09:00:00.000Z', files);
  return repoState(id, [c], { branches: { main: c.sha } }, { libraryName: 'transformers' });
}

async function largeRepo(largeFiles: Readonly<Record<string, number>>): Promise<{ repo: RepoState; stats: LargeStats[] }> {
  const id = 'bench/large';
  const stats: LargeStats[] = [];
  const files: StoredFile[] = [memFile('.gitattributes', GITATTRIBUTES), memFile('config.json', json({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }))] // loadable by `register`;
  for (const [name, size] of Object.entries(largeFiles)) {
    const f = await generatedFile(name, size);
    stats.push({ path: name, size, hashMs: f.hashMs, cached: f.hashCached });
    const { hashMs: _ms, hashCached: _c, ...file } = f;
    files.push(file);
  }
  const c = makeCommit(id, 'Large files', '2024-04-01T00:00:00.000Z', files);
  return { repo: repoState(id, [c], { branches: { main: c.sha } }, { libraryName: 'transformers' }), stats };
}

// ---------------------------------------------------------------------------------------------
// Repos a mirroring policy refuses or trims (test/integration/policy.test.ts): each differs from
// the tiny GPT-2 in one respect only.

/** A stand-in for a torch.save() archive: the bytes are never unpickled, only counted. */
function picklePlaceholder(name: string): Buffer {
  return Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.from(`fixture pickle ${name}\n`.repeat(64))]);
}

function tinyVariant(id: string, title: string, change: (files: StoredFile[]) => StoredFile[], extra: Parameters<typeof repoState>[3] = {}): RepoState {
  const files = change(tinyModelFiles(2).filter((f) => !f.path.startsWith('original/')));
  const c = makeCommit(id, title, '2024-05-01T09:00:00.000Z', files);
  return repoState(id, [c], { branches: { main: c.sha } }, { pipelineTag: 'text-generation', libraryName: 'transformers', ...extra });
}

export const POLICY_REPOS = {
  /** Weights only as pytorch_model.bin (pickle). */
  pickleOnly: 'policy/pickle-only',
  /** model.safetensors plus pickle duplicates (pytorch_model.bin, training_args.bin). */
  dualWeights: 'policy/dual-weights',
  /** configuration/modeling *.py and an auto_map in config.json (trust_remote_code). */
  remoteCode: 'policy/remote-code',
  /** A model card without `license:`. */
  noLicense: 'policy/no-license',
  /** A file the Hub's AV scan marks unsafe. */
  unsafeFile: 'policy/unsafe-file',
  /** Licensed cc-by-nc-4.0 (for licence allowlists). */
  nonCommercial: 'policy/non-commercial',
} as const;

function policyRepos(): RepoState[] {
  const replace = (files: StoredFile[], p: string, f: StoredFile) => files.map((x) => (x.path === p ? f : x));
  const readmeWith = (license: string | undefined, title: string) =>
    memFile('README.md', readme(title).replace('license: apache-2.0\n', license ? `license: ${license}\n` : ''));
  return [
    tinyVariant(POLICY_REPOS.pickleOnly, 'Pickle weights only', (files) => [
      ...files.filter((f) => f.path !== 'model.safetensors'),
      memFile('pytorch_model.bin', picklePlaceholder('pytorch_model.bin'), true),
    ], { scan: { 'pytorch_model.bin': { status: 'safe', scanner: 'pickleImportScan' } } }),
    tinyVariant(POLICY_REPOS.dualWeights, 'safetensors and pickle weights', (files) => [
      ...files,
      memFile('pytorch_model.bin', picklePlaceholder('pytorch_model.bin'), true),
      memFile('training_args.bin', picklePlaceholder('training_args.bin'), true),
    ]),
    tinyVariant(POLICY_REPOS.remoteCode, 'Custom modeling code', (files) => {
      const config = JSON.parse(files.find((f) => f.path === 'config.json')!.data!.toString()) as Record<string, unknown>;
      config.auto_map = { AutoConfig: 'configuration_tiny.TinyConfig', AutoModelForCausalLM: 'modeling_tiny.TinyForCausalLM' };
      return [
        ...replace(files, 'config.json', memFile('config.json', json(config))),
        memFile('configuration_tiny.py', 'from transformers import GPT2Config\n\nclass TinyConfig(GPT2Config):\n    model_type = "tiny"\n'),
        memFile('modeling_tiny.py', 'from transformers import GPT2LMHeadModel\n\nclass TinyForCausalLM(GPT2LMHeadModel):\n    pass\n'),
      ];
    }),
    tinyVariant(POLICY_REPOS.noLicense, 'No licence stated', (files) => replace(files, 'README.md', readmeWith(undefined, 'no-license'))),
    tinyVariant(POLICY_REPOS.unsafeFile, 'Add a data file', (files) => [...files, memFile('extras/danger.dat', 'Harmless bytes that the fixture\'s AV scanner reports as unsafe.\n')], {
      scan: { 'extras/danger.dat': { status: 'unsafe', scanner: 'avScan', message: 'Eicar-Test-Signature' } },
    }),
    tinyVariant(POLICY_REPOS.nonCommercial, 'Non-commercial licence', (files) => replace(files, 'README.md', readmeWith('cc-by-nc-4.0', 'non-commercial'))),
  ];
}

/** `license:` of a model card's YAML front matter (what the Hub reports as cardData.license). */
export function cardLicense(readmeText: string | undefined): string | undefined {
  const front = readmeText ? /^---\n([\s\S]*?)\n---/.exec(readmeText)?.[1] : undefined;
  return front ? /^license:\s*(\S+)\s*$/m.exec(front)?.[1] : undefined;
}

export interface LargeStats {
  readonly path: string;
  readonly size: number;
  /** Time spent hashing at startup (0 when the hash came from the on-disk cache). */
  readonly hashMs: number;
  readonly cached: boolean;
}

export async function buildRepos(largeFiles?: Readonly<Record<string, number>>): Promise<{ repos: Map<string, RepoState>; largeStats: LargeStats[] }> {
  const repos = new Map<string, RepoState>();
  for (const r of [tinyModel(), gatedModel(), hostileModel(), ...policyRepos()]) repos.set(r.id, r);
  let largeStats: LargeStats[] = [];
  if (largeFiles && Object.keys(largeFiles).length) {
    const { repo, stats } = await largeRepo(largeFiles);
    repos.set(repo.id, repo);
    largeStats = stats;
  }
  return { repos, largeStats };
}
