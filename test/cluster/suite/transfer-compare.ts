// The same model moved two ways on the cluster: through the WorkflowTemplate (prepare -> transfer
// -> register -> verify) and through `model-mirror mirror` in one pod made from the transfer step's
// own container (same image, env, resources, security context). Both report their download +
// upload wall time (transfer_seconds: from the Hub check to the last object in S3), so pod
// scheduling and the other steps are not part of the comparison.
//
// The cluster suite runs it once and checks what each path produced; the speed ratio is measured
// over several alternating rounds by the cluster bench (bench/cluster/), not asserted in a test.
import { kubectl, kubectlJson, kubectlJsonAsync, sh, waitFor } from './cluster';
import { NAMESPACE } from './product';
import { explain, podNodes, submitFrom, waitDone, type Obj } from './workflows';

export interface TransferTiming {
  /** download + upload wall time the step reported (transfer_seconds). */
  readonly seconds: number;
  /** The pod's start-to-finish time, as the Kubernetes API records it. */
  readonly podSeconds: number;
}

const MIRROR_POD = 'mirror-compare';

/** Mirrors `modelId` as `modelName` through the template; fails unless the workflow Succeeded with one transfer pod and no download pod. */
export async function templateTransfer(modelId: string, modelName: string): Promise<TransferTiming> {
  const name = await submitFrom('workflowtemplate/model-mirror', { model_id: modelId, model_name: modelName, task: 'text-generation' });
  const wf = await waitDone(name);
  if (wf.status.phase !== 'Succeeded') throw new Error(`workflow did not succeed: ${explain(wf)}`);
  const transfers = podNodes(wf, 'transfer');
  if (transfers.length !== 1 || podNodes(wf, 'download').length !== 0) {
    throw new Error(`expected one transfer pod and no download pod: ${explain(wf)}`);
  }
  const [transfer] = transfers;
  const seconds = Number((transfer.outputs?.parameters ?? []).find((p: Obj) => p.name === 'transfer_seconds')?.value);
  return { seconds, podSeconds: (Date.parse(transfer.finishedAt) - Date.parse(transfer.startedAt)) / 1000 };
}

/** Mirrors `modelId` as `modelName` with `model-mirror mirror` in a pod built from the template's transfer container. */
export async function mirrorPodTransfer(modelId: string, modelName: string): Promise<TransferTiming> {
  const wt = kubectlJson('get', 'workflowtemplate', '-n', NAMESPACE, 'model-mirror');
  const c = wt.spec.templates.find((t: Obj) => t.name === 'transfer').container;
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: MIRROR_POD, namespace: NAMESPACE, labels: { ...(wt.spec.podMetadata?.labels ?? {}) } },
    spec: {
      restartPolicy: 'Never', serviceAccountName: wt.spec.serviceAccountName, securityContext: wt.spec.securityContext,
      containers: [{
        name: 'mirror', image: c.image, imagePullPolicy: c.imagePullPolicy, command: ['model-mirror'],
        args: ['mirror', modelId, '--model-name', modelName, '--task', 'text-generation', '--work-dir', `${c.workingDir}/model`],
        workingDir: c.workingDir, env: c.env, resources: c.resources, securityContext: c.securityContext, volumeMounts: c.volumeMounts,
      }],
      volumes: c.volumeMounts.map((m: Obj) => ({ name: m.name, emptyDir: {} })),
    },
  };
  kubectl('delete', 'pod', '-n', NAMESPACE, MIRROR_POD, '--ignore-not-found', '--wait=true');
  sh('kubectl', ['apply', '-f', '-'], { input: JSON.stringify(pod) });
  const done = await waitFor('the mirror pod to finish', async () => {
    const p = await kubectlJsonAsync('get', 'pod', '-n', NAMESPACE, MIRROR_POD);
    return ['Succeeded', 'Failed'].includes(p.status?.phase) ? p : undefined;
  }, 8 * 60_000, 2000);
  const logs = kubectl('logs', '-n', NAMESPACE, MIRROR_POD);
  kubectl('delete', 'pod', '-n', NAMESPACE, MIRROR_POD, '--wait=false');
  if (done.status.phase !== 'Succeeded') throw new Error(`the mirror pod failed:\n${logs.slice(-3000)}`);
  const result = logs.split('\n').filter((l) => l.includes('"transfer_seconds"')).map((l) => JSON.parse(l)).pop();
  const term = done.status.containerStatuses[0].state.terminated;
  return { seconds: Number(result?.transfer_seconds), podSeconds: (Date.parse(term.finishedAt) - Date.parse(term.startedAt)) / 1000 };
}
