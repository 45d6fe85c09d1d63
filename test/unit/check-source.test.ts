// The Hub check that runs before any MLflow state (prepare, mirror): repo, revision, files, gate.
import { ExitCode } from '../../steps/common/errors';
import { fileSetHash } from '../../steps/common/file-set';
import { checkSource } from '../../steps/hub/check-source';
import { startHubFixture, type StartedHubFixture } from '../hub-fixture';

let hub: StartedHubFixture;
beforeAll(async () => { hub = await startHubFixture(); });
afterAll(async () => { await hub?.close(); });

describe('fileSetHash', () => {
  it('depends on the selected paths and sizes, not their order', () => {
    const a = [{ path: 'config.json', size: 10 }, { path: 'model.safetensors', size: 99 }];
    expect(fileSetHash(a)).toBe(fileSetHash([...a].reverse()));
    expect(fileSetHash(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fileSetHash(a.slice(0, 1))).not.toBe(fileSetHash(a));
    expect(fileSetHash([{ path: 'config.json', size: 11 }, a[1]])).not.toBe(fileSetHash(a));
  });
});

describe('checkSource', () => {
  const opts = () => ({ hubUrl: hub.url, retry: { retries: 0 } });

  it('pins the revision, lists the selection and hashes it', async () => {
    const all = await checkSource({ ...opts(), modelId: 'test/tiny-model' });
    const tiny = hub.repos.get('test/tiny-model')!;
    expect(all.commitSha).toBe(tiny.branches.main);
    expect([...all.files.entries()].map((f) => f.path).sort()).toEqual(tiny.files.map((f) => f.path).sort());
    const some = await checkSource({ ...opts(), modelId: 'test/tiny-model', ignorePatterns: ['original/'] });
    expect(some.commitSha).toBe(all.commitSha);
    expect(some.fileSet).not.toBe(all.fileSet);
    const tag = await checkSource({ ...opts(), modelId: 'test/tiny-model', revision: 'v1.0' });
    expect(tag.commitSha).toBe(tiny.tags['v1.0']);
  });

  it.each([
    ['a mistyped repo', { modelId: 'test/tiny-modle' }, ExitCode.NotFound],
    ['an unknown revision', { modelId: 'test/tiny-model', revision: 'nope' }, ExitCode.NotFound],
    ['patterns that select nothing', { modelId: 'test/tiny-model', allowPatterns: ['*.gguf'] }, ExitCode.Usage],
    ['a gated repo without a token', { modelId: 'test/gated-model' }, ExitCode.Auth],
    ['a gated repo with a token that was not granted access', { modelId: 'test/gated-model', accessToken: 'hf_notgranted0000000000' }, ExitCode.Auth],
  ] as Array<[string, Record<string, unknown>, number]>)('fails on %s', async (_label, o, code) => {
    await expect(checkSource({ ...opts(), ...(o as { modelId: string }) })).rejects.toMatchObject({ exitCode: code });
  });

  it('passes a gated repo with a granted token', async () => {
    const r = await checkSource({ ...opts(), modelId: 'test/gated-model', accessToken: hub.token });
    expect(r.gated).toBeTruthy();
  });
});
