// Synth and config tests of the platform options: the model catalog (CronWorkflow), an external
// MLflow (mlflow.external), S3 without static keys (s3.auth: podIdentity), and no secret in any
// container's argv.
import { ConfigError, validateConfig } from '../../lib/config';
import { find, type Obj, synthObjects } from '../support/synth-objects';
import { summarizeCatalog } from '../../steps/catalog/summary';

/** Every container this deployment would start: Deployments, StatefulSets, CronJobs, Argo templates. */
function containers(objects: Obj[]): Array<{ owner: string; c: Obj }> {
  const out: Array<{ owner: string; c: Obj }> = [];
  const add = (owner: string, spec: Obj): void => {
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) out.push({ owner, c });
  };
  for (const o of objects) {
    const owner = `${o.kind}/${o.metadata.name}`;
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') add(owner, o.spec.template.spec);
    if (o.kind === 'CronJob') add(owner, o.spec.jobTemplate.spec.template.spec);
    const argoSpec = o.kind === 'WorkflowTemplate' ? o.spec : o.kind === 'CronWorkflow' ? o.spec.workflowSpec : undefined;
    for (const t of argoSpec?.templates ?? []) if (t.container) out.push({ owner: `${owner}/${t.name}`, c: t.container });
  }
  return out;
}

const SECRET_ENV_VALUES = {
  MODEL_MIRROR_S3_ACCESS_KEY_ID: 'AKIAUNITTESTKEYID0001',
  MODEL_MIRROR_S3_SECRET_ACCESS_KEY: 'unit-test-secret-access-key-Zq9',
  MODEL_MIRROR_POSTGRES_PASSWORD: 'unittestpgpassword4242',
  MODEL_MIRROR_DATABASE_URL: 'postgresql://u:unittestdburlpassword@db/x',
  MODEL_MIRROR_HF_TOKEN: 'hf_unittesttoken0123456789',
};

const CATALOG = {
  schedule: '0 3 * * 1',
  parallelism: 3,
  models: [
    { model_id: 'openai-community/gpt2', revision: 'main', alias: 'prod' },
    { model_id: 'Qwen/Qwen2.5-0.5B', revision: 'v1.0', model_name: 'qwen-small', allow_patterns: ['*.json', '*.safetensors'], ignore_patterns: ['*.bin'] },
  ],
};

describe('no secret in any container argv', () => {
  const configs: Array<[string, unknown]> = [
    ['default', {}],
    ['every option, plaintext secrets', {
      secrets: { writePlaintext: true }, s3: { seaweedfsConfig: { enabled: true } }, postgres: { backup: { enabled: true } },
      mlflow: { metrics: { enabled: true } }, catalog: CATALOG,
    }],
    ['external database', { postgres: { mode: 'external' }, secrets: { writePlaintext: true } }],
    ['external MLflow with basic auth', { mlflow: { external: { trackingUri: 'https://mlflow.example.com', auth: 'basic' } }, catalog: CATALOG }],
  ];
  test.each(configs)('%s', (_name, cfg) => {
    const { objects } = synthObjects(cfg, SECRET_ENV_VALUES);
    const all = containers(objects);
    expect(all.length).toBeGreaterThan(3);
    for (const { owner, c } of all) {
      // Env vars whose value is a Secret, or is composed from one with $(VAR).
      const secretVars = new Set<string>();
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) secretVars.add(e.name);
      }
      for (const e of c.env ?? []) {
        const refs = [...String(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]);
        if (refs.some((r) => secretVars.has(r))) secretVars.add(e.name);
      }
      const argv = [...(c.command ?? []), ...(c.args ?? [])].join('\n');
      const leaked = [...argv.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]).filter((v) => secretVars.has(v));
      expect({ owner, container: c.name, leaked }).toEqual({ owner, container: c.name, leaked: [] });
      for (const v of Object.values(SECRET_ENV_VALUES)) expect({ owner, literal: argv.includes(v) }).toEqual({ owner, literal: false });
    }
  });

  test('the MLflow server and its db-upgrade init container read the backend store URL from env only', () => {
    const { objects } = synthObjects({});
    const pod = find(objects, 'Deployment', 'mlflow').spec.template.spec;
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect([...(c.command ?? []), ...(c.args ?? [])].join(' ')).not.toContain('MLFLOW_BACKEND_STORE_URI)');
      expect(c.env.map((e: Obj) => e.name)).toContain('MLFLOW_BACKEND_STORE_URI');
    }
  });
});

describe('mlflow.external', () => {
  test('no MLflow or PostgreSQL objects; the workflow pods get the URI and the auth env from the Secret (basic)', () => {
    const { objects, result } = synthObjects({ mlflow: { external: { trackingUri: 'https://mlflow.corp.example:8443/', auth: 'basic', existingSecret: 'corp-mlflow' } } });
    for (const kind of ['Deployment', 'StatefulSet', 'CronJob', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Ingress', 'NetworkPolicy']) {
      expect(objects.filter((o) => o.kind === kind)).toEqual([]);
    }
    expect(objects.filter((o) => o.kind === 'Service')).toEqual([]);
    expect(objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name)).toEqual(['model-mirror-workflow']);
    expect(result.mlflow).toBeUndefined();
    expect(result.trackingUri).toBe('https://mlflow.corp.example:8443');
    const wt = find(objects, 'WorkflowTemplate');
    for (const t of wt.spec.templates.filter((x: Obj) => x.container)) {
      const env = Object.fromEntries(t.container.env.map((e: Obj) => [e.name, e]));
      expect(env.MLFLOW_TRACKING_URI.value).toBe('https://mlflow.corp.example:8443');
      expect(env.MLFLOW_TRACKING_USERNAME.valueFrom.secretKeyRef).toEqual({ name: 'corp-mlflow', key: 'MLFLOW_TRACKING_USERNAME' });
      expect(env.MLFLOW_TRACKING_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'corp-mlflow', key: 'MLFLOW_TRACKING_PASSWORD' });
      expect(env.MLFLOW_TRACKING_TOKEN).toBeUndefined();
    }
    const names = result.ledger.requirements.map((r) => r.name).sort();
    expect(names).toEqual(['corp-mlflow', 'model-mirror-hf-token', 'model-mirror-s3']);
    expect(result.ledger.requirements.find((r) => r.name === 'corp-mlflow')!.createCommand).toContain('MLFLOW_TRACKING_PASSWORD');
  });

  test('token auth sends MLFLOW_TRACKING_TOKEN; none sends no credentials', () => {
    const token = synthObjects({ mlflow: { external: { trackingUri: 'http://mlflow.other:5000', auth: 'token' } } });
    const env = find(token.objects, 'WorkflowTemplate').spec.templates.find((t: Obj) => t.name === 'prepare').container.env;
    expect(env.filter((e: Obj) => e.name.startsWith('MLFLOW_TRACKING_')).map((e: Obj) => [e.name, e.valueFrom?.secretKeyRef?.name]))
      .toEqual([['MLFLOW_TRACKING_URI', undefined], ['MLFLOW_TRACKING_TOKEN', 'model-mirror-mlflow-auth']]);
    const none = synthObjects({ mlflow: { external: { trackingUri: 'http://mlflow.other:5000' } } });
    const env2 = find(none.objects, 'WorkflowTemplate').spec.templates.find((t: Obj) => t.name === 'prepare').container.env;
    expect(env2.filter((e: Obj) => e.name.startsWith('MLFLOW_TRACKING_')).map((e: Obj) => e.name)).toEqual(['MLFLOW_TRACKING_URI']);
    expect(none.result.ledger.requirements.map((r) => r.name)).not.toContain('model-mirror-mlflow-auth');
  });

  test.each([
    [{ mlflow: { external: { auth: 'basic' } } }, /config\.mlflow\.external\.auth: needs mlflow\.external\.trackingUri/],
    [{ mlflow: { external: { trackingUri: 'ftp://x' } } }, /config\.mlflow\.external\.trackingUri: must be an http\(s\) URL/],
    [{ mlflow: { external: { trackingUri: 'http://x:5000', auth: 'oauth' } } }, /config\.mlflow\.external\.auth: must be one of "none", "token", "basic"/],
    [{ mlflow: { external: { trackingUri: 'http://x:5000' }, ingress: { enabled: true, host: 'a.b' } } }, /config\.mlflow\.ingress\.enabled: applies to the in-cluster MLflow server/],
    [{ mlflow: { external: { trackingUri: 'http://x:5000' } }, postgres: { backup: { enabled: true } } }, /config\.postgres\.backup\.enabled: applies to the in-cluster/],
    [{ mlflow: { external: { trackingUri: 'http://x:5000', user: 'a' } } }, /config\.mlflow\.external\.user: unknown field/],
  ])('rejects %j', (cfg, message) => {
    expect(() => validateConfig(cfg)).toThrow(ConfigError);
    expect(() => validateConfig(cfg)).toThrow(message);
  });
});

describe('s3.auth: podIdentity', () => {
  const annotations = { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/model-mirror' };
  const { objects, yaml, result } = synthObjects({ s3: { auth: 'podIdentity', serviceAccountAnnotations: annotations }, catalog: CATALOG }, SECRET_ENV_VALUES);

  test('no AWS key reference or value anywhere, and no S3 Secret to create', () => {
    expect(yaml).not.toContain('AWS_ACCESS_KEY_ID');
    expect(yaml).not.toContain('AWS_SECRET_ACCESS_KEY');
    expect(yaml).not.toContain('model-mirror-s3\n');
    for (const v of [SECRET_ENV_VALUES.MODEL_MIRROR_S3_ACCESS_KEY_ID, SECRET_ENV_VALUES.MODEL_MIRROR_S3_SECRET_ACCESS_KEY]) expect(yaml).not.toContain(v);
    expect(result.ledger.requirements.map((r) => r.name)).not.toContain('model-mirror-s3');
    for (const { owner, c } of containers(objects)) {
      for (const e of c.env ?? []) expect({ owner, ref: e.valueFrom?.secretKeyRef?.name }).not.toEqual({ owner, ref: 'model-mirror-s3' });
    }
  });

  test('the MLflow and workflow ServiceAccounts carry the annotations; endpoint and region still come from the ConfigMap', () => {
    expect(find(objects, 'ServiceAccount', 'mlflow').metadata.annotations).toEqual(annotations);
    expect(find(objects, 'ServiceAccount', 'model-mirror-workflow').metadata.annotations).toEqual(annotations);
    const main = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0];
    expect(main.env.find((e: Obj) => e.name === 'AWS_ENDPOINT_URL_S3').valueFrom.configMapKeyRef.name).toBe('model-mirror-s3-endpoint');
    const prepare = find(objects, 'WorkflowTemplate').spec.templates.find((t: Obj) => t.name === 'prepare').container;
    expect(prepare.env.map((e: Obj) => e.name)).toEqual(expect.arrayContaining(['AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'MLFLOW_S3_ENDPOINT_URL']));
  });

  test('static keys stay the default, with no annotations', () => {
    const d = synthObjects({ s3: { serviceAccountAnnotations: annotations } });
    expect(find(d.objects, 'ServiceAccount', 'model-mirror-workflow').metadata.annotations).toBeUndefined();
    const env = find(d.objects, 'Deployment', 'mlflow').spec.template.spec.containers[0].env;
    expect(env.find((e: Obj) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef.name).toBe('model-mirror-s3');
  });

  test.each([
    [{ s3: { auth: 'iam' } }, /config\.s3\.auth: must be one of "staticKeys", "podIdentity"/],
    [{ s3: { auth: 'podIdentity', seaweedfsConfig: { enabled: true } }, secrets: { writePlaintext: true } }, /config\.s3\.seaweedfsConfig\.enabled: .*podIdentity/],
    [{ s3: { auth: 'podIdentity' }, postgres: { backup: { enabled: true } } }, /config\.postgres\.backup\.enabled: .*podIdentity/],
    [{ s3: { serviceAccountAnnotations: { 'bad key!': 'x' } } }, /config\.s3\.serviceAccountAnnotations\.bad key!: is not a valid annotation key/],
  ])('rejects %j', (cfg, message) => {
    expect(() => validateConfig(cfg)).toThrow(message);
  });
});

describe('catalog', () => {
  const { objects } = synthObjects({ catalog: CATALOG });
  const cron = find(objects, 'CronWorkflow', 'model-mirror-catalog');
  const spec = cron?.spec.workflowSpec;
  const tmpl = (name: string): Obj => spec.templates.find((t: Obj) => t.name === name);

  test('no catalog, no CronWorkflow', () => {
    expect(find(synthObjects({}).objects, 'CronWorkflow')).toBeUndefined();
    expect(find(synthObjects({ catalog: { schedule: '@daily', models: [] } }).objects, 'CronWorkflow')).toBeUndefined();
  });

  test('a CronWorkflow on the configured schedule that never overlaps itself', () => {
    expect(cron.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(cron.spec.schedules).toEqual(['0 3 * * 1']);
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.suspend).toBe(false);
    expect(spec.entrypoint).toBe('sync');
    expect(spec.serviceAccountName).toBe('model-mirror-catalog');
  });

  test('every entry is one Workflow from the mirror WorkflowTemplate, at most `parallelism` at a time', () => {
    const sync = tmpl('sync');
    expect(sync.parallelism).toBe(3);
    const fanOut = sync.steps[0][0];
    expect(fanOut.template).toBe('mirror-entry');
    expect(fanOut.continueOn).toEqual({ failed: true });
    expect(fanOut.withItems).toEqual([
      { model_id: 'openai-community/gpt2', revision: 'main', model_name: '', task: '', alias: 'prod', allow_patterns: '', ignore_patterns: '' },
      { model_id: 'Qwen/Qwen2.5-0.5B', revision: 'v1.0', model_name: 'qwen-small', task: '', alias: '', allow_patterns: '*.json,*.safetensors', ignore_patterns: '*.bin' },
    ]);
    const entry = tmpl('mirror-entry');
    expect(entry.resource.action).toBe('create');
    expect(entry.resource.setOwnerReference).toBe(true);
    const child = JSON.parse(entry.resource.manifest);
    expect(child.kind).toBe('Workflow');
    expect(child.spec.workflowTemplateRef).toEqual({ name: 'model-mirror' });
    expect(child.spec.arguments.parameters.map((p: Obj) => `${p.name}=${p.value}`)).toContain('model_id={{inputs.parameters.model_id}}');
    // The child's parameters are exactly the WorkflowTemplate's (experiment keeps its default).
    const wtParams = find(objects, 'WorkflowTemplate').spec.arguments.parameters.map((p: Obj) => p.name);
    for (const p of child.spec.arguments.parameters) expect(wtParams).toContain(p.name);
    expect(entry.resource.successCondition).toBe('status.phase in (Succeeded,Failed,Error)');
  });

  test('the summary step reads every entry and publishes new/unchanged/refused/failed as workflow outputs', () => {
    const summaryStep = tmpl('sync').steps[1][0];
    expect(summaryStep.arguments.parameters).toEqual([{ name: 'results', value: '{{steps.mirror.outputs.parameters}}' }]);
    const summary = tmpl('summary');
    expect(summary.container.args[0]).toBe('catalog-summary');
    expect(JSON.parse(summary.container.args[summary.container.args.indexOf('--entries') + 1])).toHaveLength(2);
    expect(summary.outputs.parameters.map((p: Obj) => p.globalName)).toEqual(['new', 'unchanged', 'refused', 'failed', 'entries']);
    expect(summary.container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
  });

  test('its own ServiceAccount may create and watch Workflows, nothing more', () => {
    const role = find(objects, 'Role', 'model-mirror-catalog');
    expect(role.rules).toEqual([
      { apiGroups: ['argoproj.io'], resources: ['workflows'], verbs: ['create', 'get', 'list', 'watch', 'patch'] },
      { apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] },
    ]);
    expect(find(objects, 'RoleBinding', 'model-mirror-catalog').subjects).toEqual([{ kind: 'ServiceAccount', name: 'model-mirror-catalog', namespace: 'model-mirror' }]);
    // The mirror pods' own account is unchanged.
    expect(find(objects, 'Role', 'model-mirror-workflow').rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }]);
  });

  test("Argo's init and wait containers of the summary pod pass Pod Security restricted; resource pods are left to Argo", () => {
    expect(spec.podSpecPatch).toBeUndefined();
    // A resource step's pod has no wait container: a patch naming one would add it without an image.
    expect(tmpl('mirror-entry').podSpecPatch).toBeUndefined();
    const patch = JSON.parse(tmpl('summary').podSpecPatch);
    expect(patch.initContainers.map((c: Obj) => c.name)).toEqual(['init']);
    expect(patch.containers.map((c: Obj) => c.name)).toEqual(['wait']);
    for (const c of [...patch.initContainers, ...patch.containers]) expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const ctl = synthObjects({ catalog: CATALOG, workflow: { executorSecurityContext: 'controller' } });
    expect(find(ctl.objects, 'CronWorkflow').spec.workflowSpec.templates.find((t: Obj) => t.name === 'summary').podSpecPatch).toBeUndefined();
  });

  test.each([
    [{ catalog: { models: [{ revision: 'main' }] } }, /config\.catalog\.models\[0\]\.model_id: is required/],
    [{ catalog: { models: [{ model_id: 'https://huggingface.co/gpt2' }] } }, /config\.catalog\.models\[0\]\.model_id: must be a Hub repo id/],
    [{ catalog: { models: [{ model_id: 'a/b', revision: 'has space' }] } }, /config\.catalog\.models\[0\]\.revision: must be a branch, tag or commit sha/],
    [{ catalog: { models: [{ model_id: 'a/b' }, { model_id: 'a/b', revision: 'main' }] } }, /config\.catalog\.models\[1\]: a\/b@main is already entry 0/],
    [{ catalog: { models: [{ model_id: 'a/b', alias: 'v2' }] } }, /config\.catalog\.models\[0\]\.alias: must not look like a version/],
    [{ catalog: { models: [{ model_id: 'a/b', allow_patterns: ['a,b'] }] } }, /config\.catalog\.models\[0\]\.allow_patterns\[0\]: must be a glob without ","/],
    [{ catalog: { models: [{ model_id: 'a/b', modelId: 'x' }] } }, /config\.catalog\.models\[0\]\.modelId: unknown field/],
    [{ catalog: { schedule: 'daily', models: [{ model_id: 'a/b' }] } }, /config\.catalog\.schedule: must be a cron schedule/],
    [{ catalog: { parallelism: 0, models: [{ model_id: 'a/b' }] } }, /config\.catalog\.parallelism: must be an integer from 1 to 50/],
    [{ catalog: { models: { model_id: 'a/b' } } }, /config\.catalog\.models: must be a list of mappings/],
  ])('rejects %j', (cfg, message) => {
    expect(() => validateConfig(cfg)).toThrow(message);
  });
});

describe('catalog summary', () => {
  const entries = JSON.stringify([
    { model_id: 'a/new', revision: 'main' }, { model_id: 'a/same', revision: 'main' },
    { model_id: 'a/missing', revision: 'main' }, { model_id: 'a/broken', revision: 'v1' }, { model_id: 'a/lost', revision: 'main' },
    { model_id: 'a/outage', revision: 'main' },
  ]);
  const out = (o: Record<string, string>): string => JSON.stringify(Object.entries(o).map(([name, value]) => ({ name, value })));
  const results = JSON.stringify([
    { model_id: 'a/same', revision: 'main', phase: 'Succeeded', workflow: 'model-mirror-b', outputs: out({ run_id: '', commit_sha: '' }) },
    { model_id: 'a/new', revision: 'main', phase: 'Succeeded', workflow: 'model-mirror-a', outputs: out({ run_id: 'r1', model_version: '3' }) },
    { model_id: 'a/missing', revision: 'main', phase: 'Failed', workflow: 'model-mirror-c', outputs: out({ failure_class: 'permanent' }) },
    // MLflow down during prepare: no run either, but a later sync may well succeed.
    { model_id: 'a/outage', revision: 'main', phase: 'Failed', workflow: 'model-mirror-e', outputs: out({ failure_class: 'transient' }) },
    { model_id: 'a/broken', revision: 'v1', phase: 'Failed', workflow: 'model-mirror-d', outputs: out({ run_id: 'r2' }) },
  ]);

  test('new, unchanged, refused (permanent, before any run), failed (with a run, transient, or no result at all)', () => {
    const s = summarizeCatalog(entries, results);
    expect(s.counts).toEqual({ new: 1, unchanged: 1, refused: 1, failed: 3 });
    expect(s.entries.map((e) => `${e.model_id}:${e.outcome}`)).toEqual([
      'a/new:new', 'a/same:unchanged', 'a/missing:refused', 'a/broken:failed', 'a/lost:failed', 'a/outage:failed',
    ]);
    expect(s.entries[0].version).toBe('3');
    expect(s.entries[0].workflow).toBe('model-mirror-a');
  });

  test('no result at all (Argo left the tag unsubstituted) counts every entry as failed', () => {
    expect(summarizeCatalog(entries, '{{steps.mirror.outputs.parameters}}').counts).toEqual({ new: 0, unchanged: 0, refused: 0, failed: 6 });
  });
});
