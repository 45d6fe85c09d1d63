// `models` pieces that need no server: reference and argument parsing, the printers, the KServe
// objects, the manifest comparison and the prefix arithmetic cleanup relies on.
import YAML from 'yaml';
import { emit, formatBytes, formatTimestamp, outputMode, renderFields, renderTable } from '../../steps/common/table';
import { shellQuote } from '../../steps/commands/models/resolve';
import type { Manifest } from '../../steps/common/manifest';
import { compareManifests } from '../../steps/registry/compare';
import { CREDENTIAL_PLACEHOLDER, kserveManifests, kserveName } from '../../steps/registry/kserve';
import { formatRef, parseModelRef, parseVersionRef } from '../../steps/registry/model-ref';
import { referencesInto } from '../../steps/registry/references';
import { prefixUri, prefixesOverlap } from '../../steps/registry/s3-objects';
import { servingUri, summarize } from '../../steps/registry/version-details';
import { toYaml } from '../../steps/mlflow/mlmodel';
import { runCli } from '../support/run-cli';

describe('model references', () => {
  it.each([
    ['gpt2', { name: 'gpt2' }],
    ['gpt2@production', { name: 'gpt2', alias: 'production' }],
    ['gpt2/3', { name: 'gpt2', version: '3' }],
    ['team.gpt2-small@canary-1', { name: 'team.gpt2-small', alias: 'canary-1' }],
    ['  gpt2/12 ', { name: 'gpt2', version: '12' }],
  ])('%s', (text, ref) => {
    expect(parseModelRef(text)).toEqual(ref);
    expect(formatRef(parseModelRef(text))).toBe(text.trim());
  });

  it.each([['gpt2/latest', /must be a number/], ['gpt2/0', /must be a number/], ['gpt2@', /alias after '@' is empty/], ['', /not a model reference/], ['@prod', /not a model reference/]])(
    '%j is a usage error', (text, message) => {
      expect(() => parseModelRef(text)).toThrow(message);
      try { parseModelRef(text); } catch (e) { expect((e as { exitCode: number }).exitCode).toBe(2); }
    },
  );

  it('a version reference needs an alias or a number', () => {
    expect(() => parseVersionRef('gpt2')).toThrow(/names a model, not a version/);
    expect(parseVersionRef('gpt2@prod')).toEqual({ name: 'gpt2', alias: 'prod' });
  });
});

describe('models command line', () => {
  it.each([
    [['models'], /Not enough non-option arguments|Name a models command/],
    [['models', 'promote', 'm', '1'], /Missing required argument: alias/],
    [['models', 'resolve', 'm@prod', '--format', 'helm'], /Invalid values:[\s\S]*format/],
    [['models', 'cleanup', 'm'], /exactly one of --keep N or --orphans/],
    [['models', 'cleanup', 'm', '--keep', '2', '--orphans'], /exactly one of --keep N or --orphans/],
    [['models', 'lsit'], /Unknown argument: lsit|Did you mean list/],
  ])('%j: exit 2 before any call', async (args, message) => {
    const r = await runCli(args as string[], { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|Cannot reach/);
  });

  it('a model reference error exits 2 without contacting MLflow', async () => {
    const r = await runCli(['models', 'resolve', 'gpt2'], { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names a model, not a version/);
  });
});

describe('printers', () => {
  const rows = [{ n: 'a', size: 5 }, { n: 'bbbb', size: 12345 }];
  const cols = [{ header: 'Name', value: (r: typeof rows[number]) => r.n }, { header: 'Size', value: (r: typeof rows[number]) => String(r.size), align: 'right' as const }];

  it('plain: upper-case headers, aligned columns, no borders', () => {
    expect(renderTable(rows, cols, 'plain')).toBe('NAME   SIZE\na         5\nbbbb  12345\n');
  });

  it('table: boxed, headers as given, right-aligned numbers', () => {
    expect(renderTable(rows, cols, 'table')).toBe([
      '┌──────┬───────┐',
      '│ Name │  Size │',
      '├──────┼───────┤',
      '│ a    │     5 │',
      '│ bbbb │ 12345 │',
      '└──────┴───────┘',
      '',
    ].join('\n'));
  });

  it('fields, bytes and timestamps', () => {
    expect(renderFields([['Model', 'm/1'], ['Hub repo', 'org/x']])).toBe('Model:    m/1\nHub repo: org/x\n');
    expect([formatBytes(999), formatBytes(1000), formatBytes(1_735_524), formatBytes(-2_500_000_000), formatBytes(undefined)]).toEqual(['999 B', '1.0 kB', '1.7 MB', '-2.5 GB', '?']);
    expect(formatTimestamp(1_700_000_000_123)).toBe('2023-11-14T22:13:20Z');
    expect(formatTimestamp(undefined)).toBe('?');
  });

  it('mode: --json wins, else table on a TTY and plain otherwise; JSON is one line', () => {
    expect(outputMode({ json: true }, { isTTY: true })).toBe('json');
    expect(outputMode({}, { isTTY: true })).toBe('table');
    expect(outputMode({}, { isTTY: false })).toBe('plain');
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { out.push(String(c)); return true; });
    try {
      emit('json', { a: [1, 2] }, () => 'human');
      emit('plain', { a: 1 }, () => 'human\n');
    } finally {
      spy.mockRestore();
    }
    expect(out).toEqual(['{"a":[1,2]}\n', 'human\n']);
  });

  it('env values are shell-quoted', () => {
    expect(shellQuote('s3://b/a/model/model/')).toBe('s3://b/a/model/model/');
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });
});

describe('KServe objects', () => {
  const base = { storageUri: 's3://mlflow/artifacts/1/r/artifacts/model/model/', modelName: 'Team_GPT2.small', version: '7' };

  it('names are DNS-1035 labels', () => {
    expect(kserveName('Team_GPT2.small-v7')).toBe('team-gpt2-small-v7');
    expect(kserveName('9lives')).toBe('lives');
    expect(kserveName('x'.repeat(80)).length).toBe(63);
  });

  it('a non-AWS store: endpoint annotations on the Secret the ServiceAccount lists; placeholders unless credentials are given', () => {
    const [secret, sa, isvc] = kserveManifests({ ...base, s3: { endpoint: 'http://seaweedfs-s3.seaweedfs:8333', region: 'us-east-1' } }) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(secret.metadata.annotations).toEqual({
      'serving.kserve.io/s3-endpoint': 'seaweedfs-s3.seaweedfs:8333',
      'serving.kserve.io/s3-usehttps': '0',
      'serving.kserve.io/s3-region': 'us-east-1',
    });
    expect(secret.stringData).toEqual({ AWS_ACCESS_KEY_ID: CREDENTIAL_PLACEHOLDER, AWS_SECRET_ACCESS_KEY: CREDENTIAL_PLACEHOLDER });
    expect(sa.secrets).toEqual([{ name: secret.metadata.name }]);
    expect(isvc.spec.predictor).toEqual({ serviceAccountName: sa.metadata.name, model: { modelFormat: { name: 'huggingface' }, storageUri: base.storageUri } });
    expect(isvc.metadata.name).toBe('team-gpt2-small-v7');
    // The YAML the command prints parses back to the same objects ("0" stays a string).
    const docs = YAML.parseAllDocuments([secret, sa, isvc].map((d) => `---\n${toYaml(d)}`).join('')).map((d) => d.toJSON());
    expect(docs).toEqual([secret, sa, isvc]);
  });

  it('https: usehttps 1 and verifyssl; AWS itself: no endpoint annotations', () => {
    const [https] = kserveManifests({ ...base, s3: { endpoint: 'https://minio.example.com', region: 'eu-west-1' } }) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(https.metadata.annotations).toMatchObject({ 'serving.kserve.io/s3-endpoint': 'minio.example.com', 'serving.kserve.io/s3-usehttps': '1', 'serving.kserve.io/s3-verifyssl': '1' });
    const [aws] = kserveManifests({ ...base, s3: { region: 'eu-west-1' }, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } }) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(aws.metadata.annotations).toEqual({ 'serving.kserve.io/s3-region': 'eu-west-1' });
    expect(aws.stringData).toEqual({ AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' });
  });
});

describe('compare and prefixes', () => {
  const manifest = (files: Array<[string, number, string]>): Manifest => ({
    schemaVersion: 1, repo: 'o/m', requestedRevision: 'main', commitSha: 'a'.repeat(40), hubUrl: 'h', createdAt: '',
    files: files.map(([path, size, sha256]) => ({ path, size, sha256, lfs: false })),
    totalBytes: files.reduce((s, f) => s + f[1], 0), fileCount: files.length,
  });

  it('added, removed, changed by sha256 (same size counts), unchanged, size delta', () => {
    const a = manifest([['config.json', 10, 'c1'], ['model.bin', 100, 'w1'], ['README.md', 5, 'r']]);
    const b = manifest([['config.json', 10, 'c2'], ['model.safetensors', 90, 'w2'], ['README.md', 5, 'r'], ['extra/notes.md', 3, 'n']]);
    const sum = (v: string) => ({ version: v, commit_sha: v, source_repo: 'o/m', status: 'READY', aliases: [], source: '', tags: {}, name: 'm' });
    const c = compareManifests('m', sum('1'), a, sum('2'), b);
    expect(c.added.map((f) => f.path)).toEqual(['extra/notes.md', 'model.safetensors']);
    expect(c.removed).toEqual([{ path: 'model.bin', size_before: 100 }]);
    expect(c.changed).toEqual([{ path: 'config.json', size_before: 10, size_after: 10 }]);
    expect(c.unchanged).toBe(1);
    expect(c.size_delta).toBe(108 - 115);
  });

  it('prefixes overlap only on whole path segments', () => {
    expect(prefixUri('s3://b/a/1')).toBe('s3://b/a/1/');
    expect(prefixesOverlap('s3://b/a/1', 's3://b/a/1/artifacts/model')).toBe(true);
    expect(prefixesOverlap('s3://b/a/1/artifacts/model/', 's3://b/a/1')).toBe(true);
    expect(prefixesOverlap('s3://b/a/1', 's3://b/a/10')).toBe(false);
    expect(prefixesOverlap('s3://b/a/1', 's3://c/a/1')).toBe(false);
    const refs = [{ name: 'm', version: '1', source: 's3://b/r1/artifacts/model' }, { name: 'n', version: '4', source: 's3://b/r1/artifacts/model' }, { name: 'm', version: '2', source: 'file:///x' }];
    expect(referencesInto('s3://b/r1/', refs, (r) => r.name === 'm').map((r) => `${r.name}/${r.version}`)).toEqual(['n/4']);
  });

  it('the serving directory is <source>/model/, only for s3 sources', () => {
    expect(servingUri('s3://b/x/artifacts/model')).toBe('s3://b/x/artifacts/model/model/');
    expect(servingUri('file:///tmp/x')).toBeUndefined();
    const s = summarize({ name: 'm', version: '2', source: 's3://b/x/model', status: 'READY', aliases: ['prod'], creation_timestamp: 1_700_000_000_000, tags: [{ key: 'model_mirror.commit_sha', value: 'c' }] });
    expect(s).toMatchObject({ aliases: ['prod'], commit_sha: 'c', storage_uri: 's3://b/x/model/model/', created: '2023-11-14T22:13:20.000Z' });
  });
});
