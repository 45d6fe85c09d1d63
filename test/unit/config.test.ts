// Unit tests of lib/config.ts: defaults, field-named errors, file/context/env layering.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig, parseOverrides, validateConfig } from '../../lib/config';
import { readSecretValues } from '../../lib/secret-values';

const err = (raw: unknown): string => {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('validateConfig', () => {
  test('zero config gives the documented defaults', () => {
    const c = validateConfig({});
    expect(c.namespace).toBe('model-mirror');
    expect(c.s3).toMatchObject({ bucket: 'mlflow', endpoint: 'http://seaweedfs-s3.seaweedfs.svc:8333', existingSecret: 'model-mirror-s3' });
    expect(c.postgres.mode).toBe('in-cluster');
    expect(c.mlflow).toMatchObject({ replicas: 1, workers: 2, port: 5000 });
    expect(c.mlflow.autoscaling.enabled || c.mlflow.podDisruptionBudget.enabled || c.mlflow.networkPolicy.enabled || c.mlflow.ingress.enabled || c.mlflow.metrics.enabled).toBe(false);
    expect(c.secrets.writePlaintext).toBe(false);
    expect(c.workflow.retry).toEqual({ limit: 4, policy: 'Always', backoffDuration: '10s', factor: 3, maxDuration: '30m', noRetryExitCodes: [2, 3, 4, 7, 8, 9] });
  });

  test.each([
    [{ mlflow: { replicas: -1 } }, 'config.mlflow.replicas: must be a positive integer, got -1'],
    [{ mlflow: { replicas: 1.5 } }, 'config.mlflow.replicas: must be a positive integer, got 1.5'],
    [{ mlflow: { replicas: '2' } }, 'config.mlflow.replicas: must be a positive integer, got "2"'],
    [{ namespace: 'Bad_NS' }, 'config.namespace: must be a DNS-1123 label'],
    [{ mlflow: { replicaz: 2 } }, 'config.mlflow.replicaz: unknown field'],
    [{ s3: { bucket: 'x' } }, 'config.s3.bucket: must be an S3 bucket name'],
    [{ s3: { endpoint: 'seaweedfs:8333' } }, 'config.s3.endpoint: must be an http(s) URL'],
    [{ postgres: { mode: 'sqlite' } }, 'config.postgres.mode: must be one of "in-cluster", "external", got "sqlite"'],
    [{ postgres: { storageSize: '10 GB' } }, 'config.postgres.storageSize: must be a Kubernetes quantity'],
    [{ mlflow: { ingress: { enabled: true } } }, 'config.mlflow.ingress.host: required'],
    [{ mlflow: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 2 } } }, 'config.mlflow.autoscaling.maxReplicas: must be >= minReplicas (3), got 2'],
    [{ mlflow: { podDisruptionBudget: { enabled: true, minAvailable: 1 } } }, 'config.mlflow.podDisruptionBudget.minAvailable: must be less than the replica count (1)'],
    [{ mlflow: { startupProbe: { failureThreshold: 3 } } }, 'config.mlflow.startupProbe.failureThreshold: periodSeconds * failureThreshold must be at least 300s'],
    [{ mlflow: { extraArgs: ['--serve-artifacts'] } }, 'config.mlflow.extraArgs: --serve-artifacts is not supported'],
    [{ s3: { seaweedfsConfig: { enabled: true } } }, 'config.s3.seaweedfsConfig.enabled: the SeaweedFS identities config contains the S3 secret key'],
    [{ workflow: { retry: { policy: 'Sometimes' } } }, 'config.workflow.retry.policy: must be one of'],
    [{ workflow: { retry: { backoffDuration: '30 seconds' } } }, 'config.workflow.retry.backoffDuration: must be a duration'],
    [{ labels: { 'app.kubernetes.io/name': 'x' } }, 'config.labels.app.kubernetes.io/name: app.kubernetes.io/* labels are set by model-mirror'],
    [{ postgres: { mode: 'external', backup: { enabled: true } } }, 'config.postgres.backup.enabled: backups are only built'],
    [[1, 2], 'config: must be a mapping'],
  ])('%j -> %s', (raw, message) => {
    expect(err(raw)).toContain(message);
  });
});

describe('loadConfig', () => {
  const tmp = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-config-'));
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    return dir;
  };

  test('no file: defaults', () => {
    expect(loadConfig({ cwd: tmp({}), env: {} }).sources).toEqual([]);
  });

  test('retry.noRetryExitCodes must be a list of exit codes', () => {
    expect(err({ workflow: { retry: { noRetryExitCodes: 3 } } })).toMatch(/workflow\.retry\.noRetryExitCodes.*list of integers/);
    expect(err({ workflow: { retry: { noRetryExitCodes: [2, 'x'] } } })).toMatch(/workflow\.retry\.noRetryExitCodes\[1\].*integer from 1 to 255/);
  });

  test('model-mirror.config.yaml, then context, then MODEL_MIRROR_SET', () => {
    const cwd = tmp({ 'model-mirror.config.yaml': 'namespace: from-file\nmlflow:\n  workers: 3\n  replicas: 2\n' });
    const loaded = loadConfig({ cwd, env: { MODEL_MIRROR_SET: 'mlflow.replicas=4; s3.bucket=models' }, context: { namespace: 'from-context' } });
    expect(loaded.config.namespace).toBe('from-context');
    expect(loaded.config.mlflow.workers).toBe(3);
    expect(loaded.config.mlflow.replicas).toBe(4);
    expect(loaded.config.s3.bucket).toBe('models');
    expect(loaded.sources).toEqual(['model-mirror.config.yaml', 'cdk8s context "model-mirror"', 'MODEL_MIRROR_SET']);
  });

  test('MODEL_MIRROR_CONFIG names a JSON or YAML file', () => {
    const cwd = tmp({ 'my.json': '{"namespace": "json-ns"}' });
    expect(loadConfig({ cwd, env: { MODEL_MIRROR_CONFIG: 'my.json' } }).config.namespace).toBe('json-ns');
    expect(() => loadConfig({ cwd, env: { MODEL_MIRROR_CONFIG: 'missing.yaml' } })).toThrow('MODEL_MIRROR_CONFIG: config file missing.yaml does not exist');
  });

  test('bad YAML and duplicate keys are config errors', () => {
    expect(() => loadConfig({ cwd: tmp({ 'model-mirror.config.yaml': 'a: [1,\n' }), env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ cwd: tmp({ 'model-mirror.config.yaml': 'namespace: a\nnamespace: b\n' }), env: {} })).toThrow(ConfigError);
  });

  test('an invalid value from env names the field', () => {
    expect(() => loadConfig({ cwd: tmp({}), env: { MODEL_MIRROR_SET: 'mlflow.replicas=-1' } })).toThrow('config.mlflow.replicas: must be a positive integer, got -1');
    expect(() => parseOverrides('justtext')).toThrow('MODEL_MIRROR_SET: expected "field.path=value"');
  });
});

describe('secret values from env', () => {
  test('both S3 keys or neither; URL-safe postgres password', () => {
    expect(() => readSecretValues({ MODEL_MIRROR_S3_ACCESS_KEY_ID: 'a' })).toThrow('MODEL_MIRROR_S3_SECRET_ACCESS_KEY: set both');
    expect(() => readSecretValues({ MODEL_MIRROR_POSTGRES_PASSWORD: 'p@ss/word' })).toThrow('MODEL_MIRROR_POSTGRES_PASSWORD');
    expect(readSecretValues({ MODEL_MIRROR_HF_TOKEN: '' }).hfToken).toBeUndefined();
  });
});
