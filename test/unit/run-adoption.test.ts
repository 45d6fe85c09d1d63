// Which runs a rerun adopts, waits for or ignores; lease states; superseded runs; alias races.
import * as os from 'node:os';
import { classifyRun, olderRun } from '../../steps/mlflow/identity-runs';
import { isUpsertRace } from '../../steps/mlflow/registry';
import { leaseOwnerId, leaseState, leaseTags } from '../../steps/mlflow/run-lease';
import type { Run, RunStatus } from '../../steps/mlflow/runs';
import type { ModelVersion } from '../../steps/mlflow/registry';
import { isSuperseded } from '../../steps/mlflow/sweep-failed-runs';

const NOW = 1_800_000_000_000;

function run(status: RunStatus, tags: Record<string, string> = {}, extra: Partial<Run['info']> = {}): Run {
  return {
    info: { run_id: extra.run_id ?? 'r1', experiment_id: '1', status, artifact_uri: extra.artifact_uri ?? 's3://b/a/1/r1/artifacts', start_time: extra.start_time ?? 1, ...extra },
    data: { tags: Object.entries(tags).map(([key, value]) => ({ key, value })) },
  };
}

// An owner on another host: only the expiry decides.
const remote = (expires: number) => ({ 'model_mirror.lease_owner': 'other-host/123/abcd', 'model_mirror.lease_expires': String(expires) });

describe('leaseState', () => {
  it('live until it expires, expired after', () => {
    expect(leaseState(remote(NOW + 1000), NOW)).toBe('live');
    expect(leaseState(remote(NOW - 1), NOW)).toBe('expired');
  });
  it('none without the tags', () => {
    expect(leaseState({}, NOW)).toBe('none');
  });
  it('owner-gone when the owner is a dead pid on this host, live when it is this process', () => {
    const dead = { 'model_mirror.lease_owner': `${os.hostname()}/2147483646/ffff`, 'model_mirror.lease_expires': String(NOW + 60_000) };
    expect(leaseState(dead, NOW)).toBe('owner-gone');
    expect(leaseState(leaseTags(leaseOwnerId(), NOW), NOW)).toBe('live');
  });
});

describe('classifyRun', () => {
  it('FAILED and KILLED runs are adoptable; FINISHED, superseded or swept ones are not', () => {
    expect(classifyRun(run('FAILED'), { now: NOW })).toBe('adoptable');
    expect(classifyRun(run('KILLED'), { now: NOW })).toBe('adoptable');
    expect(classifyRun(run('FINISHED'), { now: NOW })).toBe('ignored');
    expect(classifyRun(run('FAILED', { 'model_mirror.superseded_by': 'm/1' }), { now: NOW })).toBe('ignored');
    expect(classifyRun(run('FAILED', { 'model_mirror.swept': 'x' }), { now: NOW })).toBe('ignored');
    expect(classifyRun(run('FAILED', {}, { lifecycle_stage: 'deleted' }), { now: NOW })).toBe('ignored');
  });
  it('a RUNNING run with a live lease is never adopted (a concurrent mirror)', () => {
    expect(classifyRun(run('RUNNING', remote(NOW + 1000)), { now: NOW })).toBe('live');
  });
  it('a RUNNING run whose lease expired is adopted; one without a lease is left alone', () => {
    expect(classifyRun(run('RUNNING', remote(NOW - 1000)), { now: NOW })).toBe('adoptable');
    expect(classifyRun(run('RUNNING'), { now: NOW })).toBe('ignored');
  });
  it('RUNNING runs of Argo workflows: adopted by the same workflow (a retried prepare) only', () => {
    const wf = { 'model_mirror.argo_workflow': 'wf-1' };
    expect(classifyRun(run('RUNNING', wf), { argoWorkflow: 'wf-1', now: NOW })).toBe('adoptable');
    expect(classifyRun(run('RUNNING', wf), { argoWorkflow: 'wf-2', now: NOW })).toBe('ignored');
    expect(classifyRun(run('RUNNING', wf), { now: NOW })).toBe('ignored');
  });
});

it('olderRun orders by start time, then run id', () => {
  expect(olderRun(run('RUNNING', {}, { start_time: 1, run_id: 'b' }), run('RUNNING', {}, { start_time: 2, run_id: 'a' }))).toBeLessThan(0);
  expect(olderRun(run('RUNNING', {}, { start_time: 2, run_id: 'a' }), run('RUNNING', {}, { start_time: 2, run_id: 'b' }))).toBeLessThan(0);
});

describe('isSuperseded', () => {
  const mv = { name: 'm', version: '3', source: 's3://b/a/1/winner/artifacts/model', run_id: 'winner', status: 'READY' } as ModelVersion;
  it('failed runs of the identity whose files the version does not use', () => {
    expect(isSuperseded(run('FAILED', {}, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(true);
    expect(isSuperseded(run('KILLED', {}, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(true);
  });
  it('never the version\'s own run or prefix, a live run, or one already swept', () => {
    expect(isSuperseded(run('FAILED', {}, { run_id: 'winner', artifact_uri: 's3://b/a/1/winner/artifacts' }), mv)).toBe(false);
    expect(isSuperseded(run('FAILED', {}, { run_id: 'y', artifact_uri: 's3://b/a/1/winner/artifacts' }), mv)).toBe(false);
    expect(isSuperseded(run('RUNNING', {}, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(false);
    expect(isSuperseded(run('FAILED', { 'model_mirror.swept': 't' }, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(false);
  });
  it('a FINISHED run only when it reused another run\'s version', () => {
    expect(isSuperseded(run('FINISHED', {}, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(false);
    expect(isSuperseded(run('FINISHED', { 'model_mirror.reused_version': '3' }, { run_id: 'x', artifact_uri: 's3://b/a/1/x/artifacts' }), mv)).toBe(true);
  });
});

it('isUpsertRace: unique-constraint errors from a concurrent alias or tag write, not other errors', () => {
  expect(isUpsertRace(new Error('MLflow rejected POST /api/2.0/mlflow/model-versions/set-tag: (psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "model_version_tag_pk"'))).toBe(true);
  expect(isUpsertRace(new Error('MLflow rejected alias: (psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "registered_model_alias_pk"'))).toBe(true);
  expect(isUpsertRace(new Error('Registered Model with name=x not found'))).toBe(false);
});
