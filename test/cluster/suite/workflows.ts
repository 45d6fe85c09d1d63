// Reading Argo workflows and MLflow versions on the cluster: shared by the suite, the catalog
// checks and the cluster bench (bench/cluster/), so each asks the same way.
import { argo, kubectlJsonAsync, waitFor } from './cluster';
import { NAMESPACE, mlflowApi } from './product';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Obj = Record<string, any>;

const DONE_PHASES = ['Succeeded', 'Failed', 'Error'];

export const nodes = (wf: Obj): Obj[] => Object.values(wf.status?.nodes ?? {});
/** The pod nodes that ran `template` (one per attempt). */
export const podNodes = (wf: Obj, template: string): Obj[] => nodes(wf).filter((n) => n.type === 'Pod' && n.templateName === template);
export const outputsOf = (wf: Obj): Record<string, string> =>
  Object.fromEntries((wf.status?.outputs?.parameters ?? []).map((p: Obj) => [p.name, p.value]));
/** Enough of a workflow to say why it ended as it did. */
export const explain = (wf: Obj): string => JSON.stringify({
  name: wf.metadata?.name, phase: wf.status?.phase, message: wf.status?.message, outputs: wf.status?.outputs,
  nodes: nodes(wf).map((n) => `${n.displayName} ${n.type} ${n.phase} ${n.message ?? ''}`),
}, null, 1);

/** `argo submit -n <ns> --from <kind>/<name> -p k=v ... [--wait]`, as the README shows; the workflow's name. */
export async function submitFrom(from: string, params: Record<string, string> = {}, wait = true): Promise<string> {
  const args = ['submit', '-n', NAMESPACE, '--from', from, '-o', 'name'];
  for (const [k, v] of Object.entries(params)) args.push('-p', `${k}=${v}`);
  if (wait) args.push('--wait');
  const r = await argo(...args);
  const name = r.stdout.trim().split('\n')[0]?.trim();
  if (!name) throw new Error(`argo submit printed no workflow name (exit ${r.status}): ${r.stderr}`);
  return name;
}

export async function waitDone(name: string, timeoutMs = 8 * 60_000): Promise<Obj> {
  return waitFor(`workflow ${name} to complete`, async () => {
    const wf = await kubectlJsonAsync('get', 'workflow', '-n', NAMESPACE, name);
    return DONE_PHASES.includes(wf.status?.phase) ? wf : undefined;
  }, timeoutMs, 2000);
}

export async function versionsOf(name: string): Promise<Obj[]> {
  const r = await mlflowApi('GET', 'model-versions/search', { filter: `name='${name}'` });
  return r.model_versions ?? [];
}
