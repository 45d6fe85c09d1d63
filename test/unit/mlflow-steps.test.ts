import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { printResult, writeOutputs } from '../../steps/common/outputs';
import { joinUri, parseS3Uri } from '../../steps/mlflow/artifacts';
import { summarizeFailures } from '../../steps/mlflow/finalize';
import { classifyArgoFailures } from '../../steps/common/argo-failures';
import { runNameFor } from '../../steps/mlflow/prepare';
import { filterLiteral, validateAlias, validateModelName } from '../../steps/mlflow/registry';

describe('finalize failure summary', () => {
  it("summarizes Argo's {{workflow.failures}}", () => {
    const failures = JSON.stringify([
      { displayName: 'download', message: 'Error (exit code 4)', templateName: 'download', phase: 'Failed', podName: 'p' },
      { displayName: 'upload', message: 'OOMKilled', phase: 'Error' },
    ]);
    expect(summarizeFailures(failures, 'Failed')).toBe('download (Failed): Error (exit code 4); upload (Error): OOMKilled');
  });
  it("decodes Argo's wire format: the JSON list Go-quoted (strconv.Quote), \"null\" when nothing failed", () => {
    const list = [{ displayName: 'download(0)', message: 'Error (exit code 3)', templateName: 'download', phase: 'Failed', podName: 'p' }];
    // What the workflow-e2e runs pass to finalize: JSON.stringify of the JSON text equals strconv.Quote for ASCII.
    expect(summarizeFailures(JSON.stringify(JSON.stringify(list)), 'Failed')).toBe('download(0) (Failed): Error (exit code 3)');
    expect(summarizeFailures('"null"', 'Succeeded')).toBe('workflow Succeeded');
    expect(summarizeFailures('"[]"', 'Error')).toBe('workflow Error');
    expect(summarizeFailures('"pod deleted"', 'Error')).toBe('pod deleted');
    expect(summarizeFailures('"unterminated', 'Failed')).toBe('"unterminated');
  });
  it('keeps plain text and handles empty / unsubstituted values', () => {
    expect(summarizeFailures('verify: 2 files missing', 'Failed')).toBe('verify: 2 files missing');
    expect(summarizeFailures('', 'Error')).toBe('workflow Error');
    expect(summarizeFailures('{{workflow.failures}}', 'Failed')).toBe('workflow Failed');
    expect(summarizeFailures('[]', 'Failed')).toBe('workflow Failed');
  });
});

describe('names and URIs', () => {
  it('validates registered model names like MLflow', () => {
    expect(() => validateModelName('org--model')).not.toThrow();
    expect(() => validateModelName('org/model')).toThrow(/cannot contain/);
    expect(() => validateModelName('a:b')).toThrow(/cannot contain/);
    expect(() => validateModelName('')).toThrow(/empty/);
    expect(() => validateModelName('..')).toThrow();
    expect(() => validateModelName(' x')).toThrow();
  });
  it('validates aliases like MLflow', () => {
    expect(() => validateAlias('champion')).not.toThrow();
    expect(() => validateAlias('latest')).toThrow(/reserved/);
    expect(() => validateAlias('v3')).toThrow(/reserved/);
    expect(() => validateAlias('has space')).toThrow(/Invalid alias/);
  });
  it('escapes search filter literals', () => {
    expect(filterLiteral("it's")).toBe("'it\\'s'");
  });
  it('joins and parses s3 URIs without double slashes', () => {
    expect(joinUri('s3://b/artifacts/1/r/artifacts/', 'model')).toBe('s3://b/artifacts/1/r/artifacts/model');
    expect(joinUri('s3://b/x', '/model/', 'MLmodel')).toBe('s3://b/x/model/MLmodel');
    expect(parseS3Uri('s3://b/a/b/')).toEqual({ bucket: 'b', key: 'a/b' });
    expect(() => parseS3Uri('mlflow-artifacts:/x')).toThrow(/not an s3/);
  });
  it('names runs after the model and revision', () => {
    expect(runNameFor('org/model', 'main')).toBe('mirror-org--model-main');
    expect(runNameFor('org/model', 'a'.repeat(40))).toBe(`mirror-org--model-${'a'.repeat(12)}`);
  });
});

describe('outputs', () => {
  it('writes one file per value, without a trailing newline', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mm-out-'));
    try {
      await writeOutputs(path.join(dir, 'sub'), { run_id: 'abc', version: 3, skipped: undefined });
      expect(await fs.readFile(path.join(dir, 'sub', 'run_id'), 'utf8')).toBe('abc');
      expect(await fs.readFile(path.join(dir, 'sub', 'version'), 'utf8')).toBe('3');
      expect((await fs.readdir(path.join(dir, 'sub'))).sort()).toEqual(['run_id', 'version']);
      await writeOutputs(undefined, { run_id: 'x' }); // no-op
      await expect(writeOutputs(dir, { '../evil': 'x' })).rejects.toThrow(/bad output name/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
  it('prints one JSON line', () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      printResult({ a: 1 });
      expect(spy).toHaveBeenCalledWith('{"a":1}\n');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('classifyArgoFailures (finalize\'s failure_class output)', () => {
  const failures = (...messages: string[]): string => JSON.stringify(JSON.stringify(messages.map((message, i) => ({ displayName: `step${i}`, message, phase: 'Failed' }))));
  test.each([
    [failures('Error (exit code 3)'), 'permanent'],
    [failures('child \'x\' failed', 'Error (exit code 9)'), 'permanent'],
    [failures('No more retries left', 'Error (exit code 5)', 'Error (exit code 5)'), 'transient'],
    [failures('Error (exit code 3)', 'Error (exit code 1)'), 'transient'],
    [failures('OOMKilled (exit code 137)'), 'transient'],
    [failures('pod deleted'), 'transient'],
    ['"null"', 'none'],
    ['{{workflow.failures}}', 'none'],
    ['verify: exit code 6', 'transient'],
    ['prepare said: exit code 2', 'permanent'],
  ])('%s -> %s', (text, expected) => {
    expect(classifyArgoFailures(text)).toBe(expected);
  });
});
