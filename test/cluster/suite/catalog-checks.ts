// The model catalog on the real cluster, run inside the main cluster suite (mirror-on-cluster.test.ts)
// on Argo's default line after the upgrade path, so it shares that file's cluster, images and
// product instead of bringing up its own (minutes of CI). The suite synthesizes CATALOG with the
// config (`catalog:`), applies it as a user would, then `argo submit --from cronworkflow/<name>`
// syncs it now, twice. Entries: test/tiny-model at branch main (alias prod) and at tag v1.0, and a
// model the Hub does not have. The first sync mirrors both real entries and refuses the third
// without stopping them; the second moves nothing (no download, no upload, no run, no version)
// and says so in its outputs and logs.
import type { StartedHubFixture } from '../../hub-fixture';
import { argo, kubectl, kubectlJson } from './cluster';
import { NAMESPACE, mlflowApi } from './product';
import { printPodLogsOnFailure as keptLogs } from './pod-logs';
import { explain, outputsOf, podNodes, submitFrom, versionsOf, waitDone, type Obj } from './workflows';

const CATALOG_NAME = 'model-mirror-catalog';
const MODEL = 'test/tiny-model';
const ENTRIES = [
  { model_id: MODEL, revision: 'main', model_name: 'catalog-tiny-main', alias: 'prod' },
  { model_id: MODEL, revision: 'v1.0', model_name: 'catalog-tiny-v1' },
  { model_id: 'test/no-such-model', revision: 'main', model_name: 'catalog-missing' },
];
/** The `catalog:` config block; suspend: the schedule never fires during the test, `argo submit --from` still runs it. */
export const CATALOG = { name: CATALOG_NAME, schedule: '17 2 * * *', suspend: true, parallelism: 2, models: ENTRIES };

/** `argo submit --from cronworkflow/<name> --wait`: one sync now, as the README shows. */
async function syncNow(): Promise<{ wf: Obj; children: Obj[]; logs: string; ms: number }> {
  const t = Date.now();
  const name = await submitFrom(`cronworkflow/${CATALOG_NAME}`);
  const wf = await waitDone(name, 10 * 60_000);
  const ms = Date.now() - t;
  const children = kubectlJson('get', 'workflows', '-n', NAMESPACE, '-l', `model-mirror.io/catalog-run=${name}`).items as Obj[];
  const logs = (await argo('logs', '-n', NAMESPACE, name, '--no-color')).stdout;
  return { wf, children, logs, ms };
}

const childFor = (children: Obj[], modelId: string, revision: string): Obj | undefined => children.find((c) => {
  const p = Object.fromEntries((c.spec.arguments?.parameters ?? []).map((x: Obj) => [x.name, x.value]));
  return p.model_id === modelId && p.revision === revision;
});

async function runCount(): Promise<number> {
  const exp = (await mlflowApi('GET', 'experiments/get-by-name', { experiment_name: 'model-mirror' })).experiment;
  const r = await mlflowApi('POST', 'runs/search', { experiment_ids: [exp.experiment_id], max_results: 1000 });
  return (r.runs ?? []).length;
}

/** The catalog tests; call inside a describe of the suite once the config with CATALOG is applied. */
export function catalogTests(hubOf: () => StartedHubFixture, timings: Record<string, number>): void {
  const hub = { get repos() { return hubOf().repos; } };

  let first: Awaited<ReturnType<typeof syncNow>>;

  test('synth applied a CronWorkflow that Argo accepted, with the schedule from the config', () => {
    const cron = kubectlJson('get', 'cronworkflow', '-n', NAMESPACE, CATALOG_NAME);
    expect(cron.spec.schedules).toEqual(['17 2 * * *']);
    expect(cron.spec.suspend).toBe(true);
  });

  test('the first sync mirrors both entries, refuses the missing model without stopping them, and summarises', keptLogs(async () => {
    first = await syncNow();
    timings.firstSyncMs = first.ms;
    const { wf, children, logs } = first;
    // The summary fails the sync because one entry was refused; the other entries ran to the end.
    expect({ phase: wf.status.phase, explain: explain(wf) }).toMatchObject({ phase: 'Failed' });
    expect(outputsOf(wf)).toMatchObject({ new: '2', unchanged: '0', refused: '1', failed: '0' });
    const entries = JSON.parse(outputsOf(wf).entries) as Obj[];
    expect(entries.map((e) => `${e.model_id}@${e.revision}:${e.outcome}`)).toEqual([
      `${MODEL}@main:new`, `${MODEL}@v1.0:new`, 'test/no-such-model@main:refused',
    ]);
    expect(logs).toContain('catalog sync: 2 new, 0 unchanged, 1 refused, 0 failed');
    expect(children).toHaveLength(3);
    expect(childFor(children, MODEL, 'main')?.status.phase).toBe('Succeeded');
    expect(childFor(children, MODEL, 'v1.0')?.status.phase).toBe('Succeeded');
    expect(childFor(children, 'test/no-such-model', 'main')?.status.phase).toBe('Failed');

    const repo = hub.repos.get(MODEL)!;
    const main = (await mlflowApi('GET', 'registered-models/alias', { name: 'catalog-tiny-main', alias: 'prod' })).model_version;
    expect(main.status).toBe('READY');
    const v1 = await versionsOf('catalog-tiny-v1');
    expect(v1.map((v) => v.status)).toEqual(['READY']);
    const files = await mlflowApi('GET', 'artifacts/list', { run_id: main.run_id, path: 'model/model' });
    const sizes = new Map((files.files ?? []).map((f: Obj) => [f.path, Number(f.file_size)]));
    expect(sizes.get('model/model/model.safetensors')).toBe(repo.files.find((f) => f.path === 'model.safetensors')!.size);
    expect(await versionsOf('catalog-missing')).toEqual([]);
  }), 12 * 60_000);

  test('a second sync moves nothing: no transfer, no new run, no new version; it says unchanged', keptLogs(async () => {
    const runsBefore = await runCount();
    const second = await syncNow();
    timings.secondSyncMs = second.ms;
    const { wf, children, logs } = second;
    expect(outputsOf(wf)).toMatchObject({ new: '0', unchanged: '2', refused: '1', failed: '0' });
    expect(logs).toContain('catalog sync: 0 new, 2 unchanged, 1 refused, 0 failed');
    for (const revision of ['main', 'v1.0']) {
      const child = childFor(children, MODEL, revision)!;
      expect({ revision, phase: child.status.phase }).toEqual({ revision, phase: 'Succeeded' });
      for (const step of ['transfer', 'register']) expect({ revision, step, pods: podNodes(child, step).length }).toEqual({ revision, step, pods: 0 });
      expect(podNodes(child, 'verify').length).toBe(1);
    }
    expect(await runCount()).toBe(runsBefore);
    expect((await versionsOf('catalog-tiny-main')).length).toBe(1);
    expect((await versionsOf('catalog-tiny-v1')).length).toBe(1);
    const main = (await mlflowApi('GET', 'registered-models/alias', { name: 'catalog-tiny-main', alias: 'prod' })).model_version;
    expect(main.version).toBe('1');
  }), 12 * 60_000);

  test('the entries are Workflows owned by their sync (deleted with it)', () => {
    const children = kubectlJson('get', 'workflows', '-n', NAMESPACE, '-l', `model-mirror.io/catalog=${CATALOG_NAME}`).items as Obj[];
    expect(children.length).toBe(6);
    for (const c of children) expect(c.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Workflow' });
    expect(kubectl('get', 'pvc', '-n', NAMESPACE, '-l', 'workflows.argoproj.io/workflow', '-o', 'name').trim()).toBe('');
  });
}
