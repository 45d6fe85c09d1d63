// The mirroring policy: validation of a policy document (config / --policy-file), narrowing
// layers that can never widen, and each rule's decision.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../lib/config';
import { ExitCode, PERMANENT_EXIT_CODES } from '../../steps/common/errors';
import type { RepoFile } from '../../steps/hub/list-files';
import { decide, PolicyRefusal, type RepoFacts } from '../../steps/policy/decide';
import { policyFromArgs } from '../../steps/policy/cli-options';
import { buildPolicy, parsePolicyLayer, type Policy, type PolicyLayer } from '../../steps/policy/policy';
import { policyTags } from '../../steps/policy/tags';

const BASE = { name: 'corp', publishers: ['Qwen', 'openai-community/gpt2', 'test'], licenses: ['apache-2.0', 'mit'] };
const base = (over: Record<string, unknown> = {}): PolicyLayer => parsePolicyLayer({ ...BASE, ...over }, 'config.policy', 'base');
const narrowing = (raw: Record<string, unknown>): PolicyLayer => parsePolicyLayer(raw, 'narrowing', 'narrowing');
const policy = (b: PolicyLayer | undefined, ...n: PolicyLayer[]): Policy => buildPolicy(b, n)!;

const file = (p: string, size = 10): RepoFile => ({ path: p, size, lfs: /\.(safetensors|bin|pt)$/.test(p), ...(/\.(safetensors|bin|pt)$/.test(p) ? { sha256: 'a'.repeat(64) } : { gitBlobSha1: 'b'.repeat(40) }) });
const SAFE_FILES = ['config.json', 'README.md', 'tokenizer.json', 'model.safetensors'].map((p) => file(p));
const facts = (over: Partial<RepoFacts> = {}): RepoFacts => ({ repo: 'test/m', gated: false, licenses: ['apache-2.0'], files: SAFE_FILES, autoMap: false, scan: new Map(), ...over });

function refusal(p: Policy, f: RepoFacts): PolicyRefusal {
  try {
    decide(p, f);
  } catch (e) {
    if (e instanceof PolicyRefusal) return e;
    throw e;
  }
  throw new Error('expected a PolicyRefusal');
}

describe('policy documents', () => {
  test('a base policy gets strict defaults; narrowing layers restrict nothing they do not name', () => {
    expect(base()).toEqual({ name: 'corp', publishers: ['Qwen', 'openai-community/gpt2', 'test'].sort(), licenses: ['apache-2.0', 'mit'], allowPickle: false, keepPickleDuplicates: false, allowRemoteCode: false, allowGated: false });
    expect(narrowing({ licenses: ['mit'] })).toEqual({ licenses: ['mit'], allowPickle: true, keepPickleDuplicates: true, allowRemoteCode: true, allowGated: true });
  });

  test.each([
    [{ publisher: ['x'] }, /config\.policy\.publisher: unknown field/],
    [{ publishers: ['Qwen/*/x'] }, /config\.policy\.publishers\[0\]: must be a glob of a Hub org/],
    [{ publishers: ['Qwen/**'] }, /publishers\[0\]/],
    [{ publishers: ['[abc]'] }, /publishers\[0\]/],
    [{ publishers: [''] }, /publishers\[0\]/],
    [{ publishers: [' Qwen'] }, /publishers\[0\]/],
    [{ publishers: 'Qwen' }, /config\.policy\.publishers: must be a list of globs/],
    [{ licenses: ['Apache 2.0'] }, /config\.policy\.licenses\[0\]: must be a licence id/],
    [{ licenses: undefined }, /config\.policy\.licenses: required in the base policy/],
    [{ publishers: undefined }, /config\.policy\.publishers: required in the base policy/],
    [{ allowPickle: 'yes' }, /config\.policy\.allowPickle: must be true or false/],
    [{ keepPickleDuplicates: true }, /keepPickleDuplicates: needs allowPickle: true/],
    [{ name: 'has space' }, /config\.policy\.name/],
  ])('%j is refused with the field named', (over, message) => {
    const raw: Record<string, unknown> = { ...BASE, ...over };
    for (const k of Object.keys(over)) if ((over as Record<string, unknown>)[k] === undefined) delete raw[k];
    expect(() => parsePolicyLayer(raw, 'config.policy', 'base')).toThrow(message);
  });

  test('the deployment config validates `policy:` with the same rules and names the field', () => {
    expect(validateConfig({ policy: BASE }).policy).toEqual(base());
    expect(validateConfig({}).policy).toBeUndefined();
    expect(() => validateConfig({ policy: { ...BASE, allowPickles: true } })).toThrow(/^config\.policy\.allowPickles: unknown field/);
    expect(() => validateConfig({ policy: { ...BASE, licenses: ['MIT License'] } })).toThrow(/^config\.policy\.licenses\[0\]/);
  });

  test('the example config documents a valid policy', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', 'model-mirror.config.example.yaml'), 'utf8');
    const block = text.slice(text.indexOf('# policy:')).split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^# ?/, '')).join('\n');
    const YAML = require('yaml') as typeof import('yaml');
    const cfg = validateConfig(YAML.parse(block));
    expect(cfg.policy).toMatchObject({ name: 'corp-default', allowPickle: false, allowRemoteCode: false, allowGated: false });
  });

  test('the hash names the rules, not the spelling: same rules, same hash; any change, another hash', () => {
    const a = policy(base());
    const b = policy(parsePolicyLayer({ licenses: ['mit', 'apache-2.0', 'MIT'], publishers: ['test', 'openai-community/gpt2', 'Qwen'], name: 'corp', allowGated: false }, 'x', 'base'));
    expect(a.hash).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(b.hash).toBe(a.hash);
    expect(policy(base({ allowGated: true })).hash).not.toBe(a.hash);
    expect(policy(base(), narrowing({ licenses: ['mit'] })).hash).not.toBe(a.hash);
    expect(policy(base(), narrowing({ licenses: ['mit'] })).name).toBe('corp+narrowed');
  });

  test('refusals exit 9, which Argo never retries', () => {
    expect(ExitCode.Policy).toBe(9);
    expect(PERMANENT_EXIT_CODES).toContain(9);
    expect(refusal(policy(base()), facts({ licenses: ['gpl-3.0'] })).exitCode).toBe(9);
  });
});

describe('narrowing never widens', () => {
  // Every way a narrowing layer could try to lift a base restriction.
  const WIDENING: Array<[string, Record<string, unknown>, Partial<RepoFacts>, string]> = [
    ['publishers', { publishers: ['*', '*/*'] }, { repo: 'evil/model' }, 'publishers'],
    ['licenses', { licenses: ['*', 'unknown'] }, { licenses: undefined }, 'license'],
    ['pickle', { allowPickle: true, keepPickleDuplicates: true }, { files: [file('config.json'), file('pytorch_model.bin')] }, 'pickle'],
    ['remote code', { allowRemoteCode: true }, { files: [...SAFE_FILES, file('modeling_x.py')], autoMap: true }, 'remoteCode'],
    ['gated', { allowGated: true }, { gated: 'manual' }, 'gated'],
  ];
  test.each(WIDENING)('a layer allowing %s cannot lift the base', (_what, layer, f, rule) => {
    const p = policy(base(), narrowing(layer));
    expect(refusal(p, facts(f)).rule).toBe(rule);
    // The base alone refuses it too: the layer changed nothing.
    expect(refusal(policy(base()), facts(f)).rule).toBe(rule);
  });

  test('a permissive layer cannot bring back skipped pickle duplicates', () => {
    const files = [...SAFE_FILES, file('pytorch_model.bin')];
    const d = decide(policy(base(), narrowing({ allowPickle: true, keepPickleDuplicates: true })), facts({ files }));
    expect(d.files.map((f) => f.path)).not.toContain('pytorch_model.bin');
  });

  test('a narrowing layer does restrict: licence, publisher, pickle duplicates, remote code, gated', () => {
    const wide = base({ licenses: ['*'], publishers: ['*'], allowPickle: true, keepPickleDuplicates: true, allowRemoteCode: true, allowGated: true });
    expect(refusal(policy(wide, narrowing({ licenses: ['mit'] })), facts()).rule).toBe('license');
    expect(refusal(policy(wide, narrowing({ publishers: ['Qwen'] })), facts()).rule).toBe('publishers');
    expect(refusal(policy(wide, narrowing({ allowGated: false })), facts({ gated: 'auto' })).rule).toBe('gated');
    expect(refusal(policy(wide, narrowing({ allowRemoteCode: false })), facts({ files: [...SAFE_FILES, file('m.py')], autoMap: true })).rule).toBe('remoteCode');
    const dual = [...SAFE_FILES, file('pytorch_model.bin')];
    expect(decide(policy(wide), facts({ files: dual })).files).toHaveLength(5);
    expect(decide(policy(wide, narrowing({ keepPickleDuplicates: false })), facts({ files: dual })).files).toHaveLength(4);
  });

  test('the CLI: --policy-file is the base, flags and --narrow-policy only add layers', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-policy-'));
    try {
      const f = path.join(dir, 'policy.yaml');
      fs.writeFileSync(f, 'policy:\n  name: corp\n  publishers: ["*"]\n  licenses: [apache-2.0]\n');
      const p = policyFromArgs({ policyFile: f, narrowPolicy: ['', '{licenses: ["*", unknown], allowPickle: true}'], refuseRemoteCode: true, onlyLicenses: ['mit,apache-2.0'] })!;
      expect(p.layers).toHaveLength(3);
      expect(p.hasBase).toBe(true);
      expect(refusal(p, facts({ licenses: undefined })).rule).toBe('license');
      expect(refusal(p, facts({ files: [file('config.json'), file('pytorch_model.bin')] })).rule).toBe('pickle');
      expect(policyFromArgs({})).toBeUndefined();
      expect(policyFromArgs({ narrowPolicy: [''] })).toBeUndefined();
      expect(() => policyFromArgs({ policyFile: f, policy: '{}' })).toThrow(/not both/);
      expect(() => policyFromArgs({ policyFile: path.join(dir, 'missing.yaml') })).toThrow(/cannot read it/);
      expect(() => policyFromArgs({ narrowPolicy: ['{allowPicle: false}'] })).toThrow(/--narrow-policy #1\.allowPicle: unknown field/);
      expect(() => policyFromArgs({ policy: '{publishers: [x], licenses: [mit' })).toThrow(/--policy: not valid YAML/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rules', () => {
  const p = policy(base());

  test('publishers: an org glob covers its repos; a repo glob covers that repo only', () => {
    expect(() => decide(p, facts({ repo: 'Qwen/Qwen2.5-0.5B' }))).not.toThrow();
    expect(() => decide(p, facts({ repo: 'openai-community/gpt2' }))).not.toThrow();
    const e = refusal(p, facts({ repo: 'openai-community/gpt2-large' }));
    expect(e.rule).toBe('publishers');
    expect(e.message).toMatch(/policy "corp" refuses openai-community\/gpt2-large: rule publishers/);
    expect(() => decide(policy(base({ publishers: ['meta-*/Llama-3.?-*'] })), facts({ repo: 'meta-llama/Llama-3.2-1B' }))).not.toThrow();
    expect(refusal(policy(base({ publishers: ['meta-*/Llama-3.?-*'] })), facts({ repo: 'meta-llama/Llama-3.10-1B' })).rule).toBe('publishers');
  });

  test('licence: allowlist with globs, case-insensitive; none stated is "unknown" and refused unless listed', () => {
    expect(() => decide(p, facts({ licenses: ['MIT'] }))).not.toThrow();
    const e = refusal(p, facts({ licenses: ['cc-by-nc-4.0'] }));
    expect(e.rule).toBe('license');
    expect(e.file).toBe('README.md');
    expect(e.message).toMatch(/rule license, file README\.md — its licence "cc-by-nc-4.0"/);
    expect(refusal(p, facts({ licenses: undefined })).message).toMatch(/states no licence, which counts as "unknown"/);
    expect(refusal(p, facts({ licenses: [] })).rule).toBe('license');
    expect(decide(policy(base({ licenses: ['unknown'] })), facts({ licenses: undefined })).license).toBe('unknown');
    expect(() => decide(policy(base({ licenses: ['cc-by-*'] })), facts({ licenses: ['cc-by-4.0'] }))).not.toThrow();
    // Several stated licences: every one must be allowed.
    expect(refusal(p, facts({ licenses: ['mit', 'gpl-3.0'] })).message).toMatch(/"gpl-3\.0"/);
  });

  test('pickle: duplicates of safetensors are skipped and recorded; pickle-only weights are refused naming the file', () => {
    const dual = [...SAFE_FILES, file('pytorch_model.bin'), file('training_args.bin'), file('sub/model.pt')];
    const d = decide(p, facts({ files: dual }));
    expect(d.files.map((f) => f.path)).toEqual(SAFE_FILES.map((f) => f.path));
    expect(d.skipped).toEqual(['pytorch_model.bin', 'training_args.bin', 'sub/model.pt'].map((path) => ({ path, reason: 'pickle duplicate of safetensors weights' })));
    expect(d.weightFormats).toEqual(['safetensors']);
    for (const ext of ['bin', 'pt', 'pth', 'ckpt', 'pkl']) {
      const e = refusal(p, facts({ files: [file('config.json'), file(`weights.${ext}`)] }));
      expect([e.rule, e.file]).toEqual(['pickle', `weights.${ext}`]);
      expect(e.message).toMatch(new RegExp(`rule pickle, file weights\\.${ext} — its weights are pickle only`));
    }
    const allowed = decide(policy(base({ allowPickle: true })), facts({ files: [file('config.json'), file('pytorch_model.bin')] }));
    expect(allowed.weightFormats).toEqual(['pickle']);
    // allowPickle alone still skips duplicates; keepPickleDuplicates keeps them.
    expect(decide(policy(base({ allowPickle: true })), facts({ files: dual })).skipped).toHaveLength(3);
    expect(decide(policy(base({ allowPickle: true, keepPickleDuplicates: true })), facts({ files: dual })).skipped).toHaveLength(0);
  });

  test('remote code: *.py plus auto_map is refused naming the file; either alone is not remote code', () => {
    const withPy = [...SAFE_FILES, file('configuration_x.py'), file('modeling_x.py')];
    const e = refusal(p, facts({ files: withPy, autoMap: true }));
    expect([e.rule, e.file]).toEqual(['remoteCode', 'configuration_x.py']);
    expect(e.message).toMatch(/auto_map.*trust_remote_code/);
    expect(decide(p, facts({ files: withPy, autoMap: false })).remoteCode).toBe(false);
    expect(decide(p, facts({ files: SAFE_FILES, autoMap: true })).remoteCode).toBe(false);
    expect(decide(policy(base({ allowRemoteCode: true })), facts({ files: withPy, autoMap: true })).remoteCode).toBe(true);
  });

  test('gated: refused unless allowed', () => {
    expect(refusal(p, facts({ gated: 'manual' })).message).toMatch(/rule gated — the repo is gated \(manual\)/);
    expect(decide(policy(base({ allowGated: true })), facts({ gated: 'auto' })).gated).toBe('auto');
  });

  test('Hub scan: a file marked unsafe is refused by any policy; other verdicts are recorded', () => {
    const scan = new Map([['model.safetensors', 'safe'], ['config.json', 'safe'], ['extras/danger.dat', 'unsafe']]);
    const wide = policy(base({ licenses: ['*'], publishers: ['*'], allowPickle: true, allowRemoteCode: true, allowGated: true }));
    const e = refusal(wide, facts({ files: [...SAFE_FILES, file('extras/danger.dat')], scan }));
    expect([e.rule, e.file]).toEqual(['hubScan', 'extras/danger.dat']);
    expect(e.message).toMatch(/rule hubScan, file extras\/danger\.dat — the Hub's security scan marks it unsafe/);
    const d = decide(p, facts({ scan: new Map([['model.safetensors', 'safe'], ['config.json', 'caution']]) }));
    expect(d.hubScan).toBe('caution=1,safe=1,unscanned=2');
    // A skipped pickle duplicate is not mirrored, so its verdict does not matter.
    expect(() => decide(p, facts({ files: [...SAFE_FILES, file('pytorch_model.bin')], scan: new Map([['pytorch_model.bin', 'unsafe']]) }))).not.toThrow();
  });

  test('the decision as tags: policy name and hash, licence, formats, skipped files, remote code, scan, gated', () => {
    const d = decide(p, facts({ files: [...SAFE_FILES, file('pytorch_model.bin')], scan: new Map(SAFE_FILES.map((f) => [f.path, 'safe'])) }));
    expect(policyTags(d)).toEqual({
      'model_mirror.policy': 'corp',
      'model_mirror.policy_hash': p.hash,
      'model_mirror.license': 'apache-2.0',
      'model_mirror.weight_formats': 'safetensors',
      'model_mirror.policy_skipped': 'pytorch_model.bin',
      'model_mirror.remote_code': 'false',
      'model_mirror.hub_scan': 'safe=4',
      'model_mirror.gated': 'false',
    });
  });
});
