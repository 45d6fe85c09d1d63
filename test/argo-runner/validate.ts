// Static check of a WorkflowTemplate against the runner's feature set, before anything runs.
// Every key of every object must be either SUPPORTED (the runner implements it) or listed in
// CLUSTER_ONLY_KEYS (accepted and ignored: it only matters to Kubernetes/the Argo controller).
// Anything else throws `Unsupported Argo construct: <path>`, so a template that grows a feature
// the runner does not emulate (dag, script, artifacts, withItems, ...) fails loudly instead of
// being silently mis-executed.
import { evaluateExpression, UnsupportedArgoConstructError } from './substitute';

/**
 * The ONE allowlist of keys the runner accepts but ignores. Keyed by the kind of object they sit
 * on. `activeDeadlineSeconds` is NOT here: the runner enforces it (workflow and template level).
 */
export const CLUSTER_ONLY_KEYS = {
  /** WorkflowTemplate.spec */
  workflowSpec: [
    'volumeClaimGC', 'podGC', 'ttlStrategy', 'synchronization', 'metrics', 'serviceAccountName',
    'securityContext', 'podMetadata', 'workflowMetadata', 'archiveLogs', 'tolerations', 'nodeSelector',
    'imagePullSecrets', 'affinity', 'priorityClassName', 'automountServiceAccountToken', 'podDisruptionBudget',
    'podSpecPatch',
  ],
  /** spec.templates[] */
  template: [
    'metadata', 'nodeSelector', 'tolerations', 'affinity', 'serviceAccountName', 'securityContext',
    'automountServiceAccountToken', 'priorityClassName', 'metrics', 'synchronization', 'archiveLocation',
  ],
  /** spec.templates[].container */
  container: ['image', 'imagePullPolicy', 'resources', 'securityContext', 'terminationMessagePath', 'terminationMessagePolicy'],
  /** spec.templates[].retryStrategy */
  retryStrategy: ['affinity'],
  /** spec.volumeClaimTemplates[] (the runner gives each claim one temp dir for the whole run) */
  volumeClaimTemplate: ['spec', 'apiVersion', 'kind'],
  /** spec.volumes[].emptyDir */
  emptyDir: ['medium', 'sizeLimit'],
  /** metadata of the WorkflowTemplate and of volume claim templates */
  metadata: ['labels', 'annotations', 'namespace', 'generateName', 'uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields'],
} as const;

type Rule =
  | 'string'
  | 'scalar' // string | number | boolean (Argo AnyString / IntOrString)
  | 'stringList'
  | 'stringMap'
  | { obj: string; keys: Record<string, Rule>; ignored?: readonly string[]; oneOf?: string[]; required?: string[] }
  | { list: Rule }
  | { custom: (v: unknown, path: string) => void };

const metadata: Rule = { obj: 'metadata', keys: { name: 'string' }, ignored: CLUSTER_ONLY_KEYS.metadata };
const keyRef = (kind: string): Rule => ({ obj: kind, keys: { name: 'string', key: 'string', optional: 'scalar' }, required: ['name', 'key'] });
const nameRef = (kind: string): Rule => ({ obj: kind, keys: { name: 'string', optional: 'scalar' }, required: ['name'] });
const items: Rule = { list: { obj: 'keyToPath', keys: { key: 'string', path: 'string', mode: 'scalar' }, required: ['key', 'path'] } };

const parameter = (kind: string, keys: Record<string, Rule>, required: string[] = ['name']): Rule => ({
  obj: kind, keys: { name: 'string', description: 'string', ...keys }, required,
});

const retryStrategy: Rule = {
  obj: 'retryStrategy',
  keys: {
    limit: 'scalar',
    retryPolicy: { custom: (v, p) => {
      if (!['Always', 'OnFailure', 'OnError'].includes(v as string)) throw new UnsupportedArgoConstructError(p, `retryPolicy ${JSON.stringify(v)}; supported: Always, OnFailure, OnError`);
    } },
    backoff: { obj: 'backoff', keys: { duration: 'scalar', factor: 'scalar', maxDuration: 'scalar', cap: 'scalar' } },
    // Checked up front against sample lastRetry values: a typo would otherwise only surface
    // after the first failure.
    expression: { custom: (v, p) => {
      if (typeof v !== 'string') throw new UnsupportedArgoConstructError(p, 'expression must be a string');
      const sample = { 'lastRetry.exitCode': '1', 'lastRetry.status': 'Failed', 'lastRetry.duration': '1', 'lastRetry.message': '' };
      const r = evaluateExpression(v, sample, p);
      if (typeof r !== 'boolean') throw new UnsupportedArgoConstructError(p, `expression must evaluate to a boolean, got ${JSON.stringify(r)}`);
    } },
  },
  ignored: CLUSTER_ONLY_KEYS.retryStrategy,
  required: ['limit'], // without a limit Argo retries forever
};

const container: Rule = {
  obj: 'container',
  keys: {
    name: 'string',
    command: 'stringList',
    args: 'stringList',
    workingDir: 'string',
    env: { list: { obj: 'env', keys: { name: 'string', value: 'scalar', valueFrom: { obj: 'env.valueFrom', keys: { secretKeyRef: keyRef('secretKeyRef'), configMapKeyRef: keyRef('configMapKeyRef') }, oneOf: ['secretKeyRef', 'configMapKeyRef'] } }, required: ['name'] } },
    envFrom: { list: { obj: 'envFrom', keys: { prefix: 'string', secretRef: nameRef('secretRef'), configMapRef: nameRef('configMapRef') }, oneOf: ['secretRef', 'configMapRef'] } },
    volumeMounts: { list: { obj: 'volumeMount', keys: { name: 'string', mountPath: 'string', readOnly: 'scalar', subPath: 'string' }, required: ['name', 'mountPath'] } },
  },
  ignored: CLUSTER_ONLY_KEYS.container,
};

const step: Rule = {
  obj: 'step',
  keys: {
    name: 'string',
    template: 'string',
    when: 'string',
    arguments: { obj: 'step.arguments', keys: { parameters: { list: parameter('step.arguments.parameter', { value: 'scalar' }, ['name', 'value']) } } },
  },
  required: ['name', 'template'],
};

const template: Rule = {
  obj: 'template',
  keys: {
    name: 'string',
    inputs: { obj: 'inputs', keys: { parameters: { list: parameter('inputs.parameter', { value: 'scalar', default: 'scalar', enum: { list: 'scalar' } }) } } },
    outputs: { obj: 'outputs', keys: { parameters: { list: parameter('outputs.parameter', { globalName: 'string', valueFrom: { obj: 'outputs.parameter.valueFrom', keys: { path: 'string', default: 'scalar' }, required: ['path'] } }, ['name', 'valueFrom']) } } },
    container,
    steps: { list: { list: step } },
    retryStrategy,
    activeDeadlineSeconds: 'scalar',
  },
  ignored: CLUSTER_ONLY_KEYS.template,
  oneOf: ['container', 'steps'],
  required: ['name'],
};

const volume: Rule = {
  obj: 'volume',
  keys: {
    name: 'string',
    emptyDir: { obj: 'emptyDir', keys: {}, ignored: CLUSTER_ONLY_KEYS.emptyDir },
    secret: { obj: 'volume.secret', keys: { secretName: 'string', items, defaultMode: 'scalar', optional: 'scalar' }, required: ['secretName'] },
    configMap: { obj: 'volume.configMap', keys: { name: 'string', items, defaultMode: 'scalar', optional: 'scalar' }, required: ['name'] },
  },
  oneOf: ['emptyDir', 'secret', 'configMap'],
  required: ['name'],
};

const workflowSpec: Rule = {
  obj: 'workflowSpec',
  keys: {
    entrypoint: 'string',
    onExit: 'string',
    activeDeadlineSeconds: 'scalar',
    arguments: { obj: 'arguments', keys: { parameters: { list: parameter('arguments.parameter', { value: 'scalar', default: 'scalar', enum: { list: 'scalar' } }) } } },
    templates: { list: template },
    volumeClaimTemplates: { list: { obj: 'volumeClaimTemplate', keys: { metadata }, ignored: CLUSTER_ONLY_KEYS.volumeClaimTemplate, required: ['metadata'] } },
    volumes: { list: volume },
  },
  ignored: CLUSTER_ONLY_KEYS.workflowSpec,
  required: ['entrypoint', 'templates'],
};

const root: Rule = {
  obj: 'root',
  keys: {
    apiVersion: { custom: (v, p) => { if (v !== 'argoproj.io/v1alpha1') throw new UnsupportedArgoConstructError(p, `apiVersion ${JSON.stringify(v)}`); } },
    kind: { custom: (v, p) => { if (v !== 'WorkflowTemplate' && v !== 'Workflow') throw new UnsupportedArgoConstructError(p, `kind ${JSON.stringify(v)}`); } },
    metadata,
    spec: workflowSpec,
  },
  required: ['spec'],
};

function check(rule: Rule, v: unknown, path: string): void {
  const bad = (detail: string): never => { throw new UnsupportedArgoConstructError(path, detail); };
  if (rule === 'string') { if (typeof v !== 'string') bad(`expected a string, got ${JSON.stringify(v)}`); return; }
  if (rule === 'scalar') { if (!['string', 'number', 'boolean'].includes(typeof v)) bad(`expected a scalar, got ${JSON.stringify(v)}`); return; }
  if (rule === 'stringList') { if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) bad('expected a list of strings'); return; }
  if (rule === 'stringMap') { if (!v || typeof v !== 'object' || Array.isArray(v)) bad('expected a map'); return; }
  if ('custom' in rule) { rule.custom(v, path); return; }
  if ('list' in rule) {
    if (!Array.isArray(v)) bad('expected a list');
    (v as unknown[]).forEach((x, i) => check(rule.list, x, `${path}[${i}]`));
    return;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) bad(`expected an object (${rule.obj})`);
  const o = v as Record<string, unknown>;
  for (const [k, val] of Object.entries(o)) {
    const sub = `${path}.${k}`;
    if (k in rule.keys) { if (val !== null && val !== undefined) check(rule.keys[k], val, sub); continue; }
    if (rule.ignored?.includes(k)) continue;
    throw new UnsupportedArgoConstructError(sub);
  }
  for (const k of rule.required ?? []) if (o[k] === undefined || o[k] === null) bad(`${rule.obj} requires ${k}`);
  if (rule.oneOf) {
    const present = rule.oneOf.filter((k) => o[k] !== undefined && o[k] !== null);
    if (present.length !== 1) bad(`${rule.obj} needs exactly one of ${rule.oneOf.join(', ')} (has ${present.join(', ') || 'none'})`);
  }
}

/** Throws UnsupportedArgoConstructError for anything outside the runner's feature set. */
export function validateWorkflowTemplate(wft: unknown): void {
  check(root, wft, '$');
}
