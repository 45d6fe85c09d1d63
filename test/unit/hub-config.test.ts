import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExitCode } from '../../steps/common/errors';
import { redact } from '../../steps/common/log';
import { ContentHasher, gitBlobSha1, sha256Hex } from '../../steps/common/hash';
import { resolveHubConfig, validateModelId } from '../../steps/hub/hub-config';
import { filterByPatterns, globToRegExp, parsePatternList } from '../../steps/hub/patterns';
import { resolveUrl, verifyDigests } from '../../steps/hub/download-file';

describe('validateModelId', () => {
  it.each(['openai-community/gpt2', 'gpt2', 'bert-base-uncased', 'meta-llama/Llama-3.2-1B', 'a/b', 'Org_1/model.v2'])('accepts %j', (id) => {
    expect(validateModelId(id)).toBe(id);
  });
  it.each(['', 'a/b/c', 'org/', '/name', 'org/na me', 'org/-x', 'org/x-', 'org/a--b', 'org/a..b', 'org/name.git', 'https://huggingface.co/org/name', 'x'.repeat(97)])('rejects %j (Usage)', (id) => {
    expect(() => validateModelId(id)).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
  });
  it('explains a pasted URL', () => {
    expect(() => validateModelId('https://huggingface.co/org/name')).toThrow(expect.objectContaining({ hint: expect.stringContaining('not its URL') }));
  });
});

describe('resolveHubConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-hubcfg-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('maps HF_ENDPOINT and HF_TOKEN (the JS client reads neither)', () => {
    const cfg = resolveHubConfig({ env: { HF_ENDPOINT: 'http://hub.local:8080/', HF_TOKEN: 'hf_envtoken123456' } });
    expect(cfg).toEqual({ hubUrl: 'http://hub.local:8080', accessToken: 'hf_envtoken123456', tokenSource: 'HF_TOKEN' });
    expect(redact('token hf_envtoken123456 here')).not.toContain('hf_envtoken123456');
  });
  it('flag beats HF_ENDPOINT; default is huggingface.co', () => {
    expect(resolveHubConfig({ hubUrl: 'http://x:1', env: { HF_ENDPOINT: 'http://y:2' } }).hubUrl).toBe('http://x:1');
    expect(resolveHubConfig({ env: {} }).hubUrl).toBe('https://huggingface.co');
  });
  it('reads --token-file (trimmed) before HF_TOKEN, and HF_TOKEN before HF_TOKEN_PATH', async () => {
    const f = path.join(dir, 'token');
    await fs.writeFile(f, 'hf_filetoken99999\n');
    expect(resolveHubConfig({ tokenFile: f, env: { HF_TOKEN: 'hf_other11111' } })).toMatchObject({ accessToken: 'hf_filetoken99999', tokenSource: '--token-file' });
    expect(resolveHubConfig({ env: { HF_TOKEN: 'hf_other11111', HF_TOKEN_PATH: f } })).toMatchObject({ accessToken: 'hf_other11111' });
    expect(resolveHubConfig({ env: { HF_TOKEN_PATH: f } })).toMatchObject({ accessToken: 'hf_filetoken99999', tokenSource: 'HF_TOKEN_PATH' });
  });
  it('a missing --token-file is a Usage error; a missing HF_TOKEN_PATH file only warns', () => {
    expect(() => resolveHubConfig({ tokenFile: path.join(dir, 'nope'), env: {} })).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
    expect(resolveHubConfig({ env: { HF_TOKEN_PATH: path.join(dir, 'nope') } }).accessToken).toBeUndefined();
  });
  it('rejects non-http hub URLs', () => {
    expect(() => resolveHubConfig({ hubUrl: 'ftp://x', env: {} })).toThrow(expect.objectContaining({ exitCode: ExitCode.Usage }));
  });
});

describe('patterns (huggingface_hub semantics)', () => {
  const files = ['config.json', 'model.safetensors', 'original/params.json', 'original/consolidated.00.pth', 'onnx/model.onnx', 'README.md', 'tokenizer.json'].map((p) => ({ path: p }));
  const pick = (allow: string[], ignore: string[] = []) => filterByPatterns(files, allow, ignore).map((f) => f.path);
  it('keeps everything without patterns', () => {
    expect(pick([])).toHaveLength(files.length);
  });
  it('`*` also matches `/` (fnmatch)', () => {
    expect(pick(['*.json'])).toEqual(['config.json', 'original/params.json', 'tokenizer.json']);
  });
  it('a trailing `/` means the whole folder', () => {
    expect(pick([], ['original/'])).toEqual(['config.json', 'model.safetensors', 'onnx/model.onnx', 'README.md', 'tokenizer.json']);
  });
  it('combines allow and ignore', () => {
    expect(pick(['*.json', '*.safetensors'], ['original/*', 'tokenizer*'])).toEqual(['config.json', 'model.safetensors']);
  });
  it('supports ? and [..] and escapes regex characters', () => {
    expect(globToRegExp('model-0000?-of-0000[0-9].safetensors').test('model-00001-of-00002.safetensors')).toBe(true);
    expect(globToRegExp('a+b(c).txt').test('a+b(c).txt')).toBe(true);
    expect(globToRegExp('*.bin').test('x.binx')).toBe(false);
    expect(globToRegExp('[!a]*').test('abc')).toBe(false);
  });
  it('splits comma-separated, repeatable flag values', () => {
    expect(parsePatternList(['*.json, *.safetensors', 'original/'])).toEqual(['*.json', '*.safetensors', 'original/']);
    expect(parsePatternList(undefined)).toEqual([]);
    expect(parsePatternList('a,,b')).toEqual(['a', 'b']);
  });
});

describe('hashes', () => {
  it('git blob sha1 matches `git hash-object`', () => {
    // printf 'hello\n' | git hash-object --stdin
    expect(gitBlobSha1(Buffer.from('hello\n'))).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
    // git's empty blob
    expect(gitBlobSha1(Buffer.alloc(0))).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });
  it('the streaming hasher equals one-shot hashes across chunk boundaries', () => {
    const data = Buffer.from('x'.repeat(100_000) + 'tail');
    const h = new ContentHasher({ gitBlobSize: data.length });
    for (let i = 0; i < data.length; i += 777) h.update(data.subarray(i, i + 777));
    expect(h.digest()).toEqual({ size: data.length, sha256: sha256Hex(data), gitBlobSha1: gitBlobSha1(data) });
  });
  it('verifyDigests checks size, then sha256 for LFS and git sha1 otherwise', () => {
    const data = Buffer.from('content');
    const d = { size: data.length, sha256: sha256Hex(data), gitBlobSha1: gitBlobSha1(data) };
    expect(verifyDigests({ path: 'a', size: data.length, lfs: false, gitBlobSha1: d.gitBlobSha1 }, d)).toBeUndefined();
    expect(verifyDigests({ path: 'a', size: data.length, lfs: true, sha256: d.sha256 }, d)).toBeUndefined();
    expect(verifyDigests({ path: 'a', size: data.length, lfs: true, sha256: '0'.repeat(64) }, d)).toMatch(/sha256/);
    expect(verifyDigests({ path: 'a', size: data.length + 1, lfs: false, gitBlobSha1: d.gitBlobSha1 }, d)).toMatch(/size/);
  });
  it('resolve URLs encode each path segment and use the commit sha', () => {
    expect(resolveUrl('https://hf.co', 'org/m', 'a'.repeat(40), 'dir/we ird#.bin')).toBe(`https://hf.co/org/m/resolve/${'a'.repeat(40)}/dir/we%20ird%23.bin`);
  });
});
