// Unit tests of the synthesized manifests (cdk8s Testing.synth) and of main.ts's error handling.
import YAML from 'yaml';
import { find, type Obj, synthObjects } from '../support/synth-objects';

/** Every pod spec in the output (Deployments, StatefulSets, CronJobs) with its owner. */
function podSpecs(objects: Obj[]): Array<{ owner: string; spec: Obj }> {
  const out: Array<{ owner: string; spec: Obj }> = [];
  for (const o of objects) {
    const owner = `${o.kind}/${o.metadata.name}`;
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') out.push({ owner, spec: o.spec.template.spec });
    if (o.kind === 'CronJob') out.push({ owner, spec: o.spec.jobTemplate.spec.template.spec });
  }
  return out;
}

const ALL_FEATURES = {
  secrets: { writePlaintext: true },
  s3: { seaweedfsConfig: { enabled: true } },
  postgres: { backup: { enabled: true } },
  mlflow: {
    autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 4 },
    podDisruptionBudget: { enabled: true, minAvailable: 1 },
    networkPolicy: { enabled: true, ingressControllerNamespaces: ['ingress-nginx'] },
    metrics: { enabled: true },
    ingress: { enabled: true, host: 'mlflow.example.com', className: 'nginx', tlsSecretName: 'mlflow-tls' },
  },
};

const SECRET_ENV_VALUES = {
  MODEL_MIRROR_S3_ACCESS_KEY_ID: 'AKIAUNITTESTKEYID0001',
  MODEL_MIRROR_S3_SECRET_ACCESS_KEY: 'unit-test-secret-access-key-Zq9',
  MODEL_MIRROR_POSTGRES_PASSWORD: 'unittestpgpassword4242',
  MODEL_MIRROR_HF_TOKEN: 'hf_unittesttoken0123456789',
};

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_NAME_EXPRESSION, MUTEX_NAME } from '../../lib/workflow/parameters';

const REPO = path.resolve(__dirname, '..', '..');

const allContainers = (spec: Obj): Obj[] => [...(spec.initContainers ?? []), ...spec.containers];

describe('MLflow server', () => {
  const { objects, result } = synthObjects();
  const deploy = find(objects, 'Deployment', 'mlflow');
  const main = deploy.spec.template.spec.containers[0];

  test('runs `mlflow server` with S3 artifacts and no artifact proxying', () => {
    expect(main.command).toEqual(['mlflow']);
    const args: string[] = main.args;
    expect(args[0]).toBe('server');
    expect(args[args.indexOf('--default-artifact-root') + 1]).toBe('s3://mlflow/artifacts');
    expect(args).toContain('--no-serve-artifacts');
    expect(args).not.toContain('--serve-artifacts');
    // MLflow reads MLFLOW_BACKEND_STORE_URI from env: the URL (with the password) is not in argv.
    expect(args).not.toContain('--backend-store-uri');
    expect(args.slice(args.indexOf('--host'), args.indexOf('--host') + 2)).toEqual(['--host', '0.0.0.0']);
  });

  test('allowed hosts cover every Service DNS name, loopback, and nothing wider', () => {
    const args: string[] = main.args;
    const hosts = args[args.indexOf('--allowed-hosts') + 1].split(',');
    for (const h of ['mlflow', 'mlflow.model-mirror', 'mlflow.model-mirror.svc', 'mlflow.model-mirror.svc.cluster.local', 'localhost', '127.0.0.1']) {
      expect(hosts).toContain(`${h}:*`);
    }
    expect(hosts).not.toContain('*');
    expect(result.mlflow!.trackingUri).toBe('http://mlflow.model-mirror.svc.cluster.local:5000');
  });

  test('cluster domain and ingress host flow into allowed hosts', () => {
    const { result: r } = synthObjects({ clusterDomain: 'corp.internal', mlflow: { ingress: { enabled: true, host: 'mlflow.example.com' } } });
    expect(r.mlflow!.allowedHosts).toEqual(expect.arrayContaining(['mlflow.model-mirror.svc.corp.internal:*', 'mlflow.example.com', 'mlflow.example.com:*']));
  });

  test('backend store URL comes from a Secret, never a literal password', () => {
    const env = Object.fromEntries(main.env.map((e: Obj) => [e.name, e]));
    expect(env.MLFLOW_DB_PASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'model-mirror-postgres', key: 'password' });
    // psycopg 3 is not in the MLflow -full image; the huey job runner would exceed the memory limit.
    expect(env.MLFLOW_SERVER_ENABLE_JOB_EXECUTION.value).toBe('false');
    expect(env.MLFLOW_BACKEND_STORE_URI.value).toBe('postgresql+psycopg2://mlflow:$(MLFLOW_DB_PASSWORD)@postgres.model-mirror.svc.cluster.local:5432/mlflow');
    expect(env.AWS_ACCESS_KEY_ID.valueFrom.secretKeyRef.name).toBe('model-mirror-s3');
    expect(env.MLFLOW_S3_ENDPOINT_URL.valueFrom.configMapKeyRef.name).toBe('model-mirror-s3-endpoint');
    expect(env.HOME.value).toBe('/tmp');
    const cm = find(objects, 'ConfigMap', 'model-mirror-s3-endpoint');
    expect(cm.data.MLFLOW_S3_ENDPOINT_URL).toBe('http://seaweedfs-s3.seaweedfs.svc:8333');
  });

  test('image, schema migration init container, probes', () => {
    expect(main.image).toMatch(/^ghcr\.io\/mlflow\/mlflow:v\d+\.\d+\.\d+-full$/);
    const init = deploy.spec.template.spec.initContainers[0];
    expect(init.name).toBe('db-upgrade');
    expect(init.args).toBeUndefined();
    expect(init.command.join(' ')).toContain('os.environ["MLFLOW_BACKEND_STORE_URI"]');
    expect(init.command.join(' ')).toContain('from mlflow.db import upgrade');
    const sp = main.startupProbe;
    expect(sp.periodSeconds * sp.failureThreshold).toBeGreaterThanOrEqual(300);
    for (const p of [main.startupProbe, main.readinessProbe, main.livenessProbe]) {
      expect(p.httpGet.path).toBe('/health');
      expect(p.httpGet.httpHeaders).toEqual([{ name: 'Host', value: 'localhost' }]);
    }
  });

  test('selectors use only name/instance/component; fixed replicas by default', () => {
    expect(Object.keys(deploy.spec.selector.matchLabels).sort()).toEqual(['app.kubernetes.io/component', 'app.kubernetes.io/instance', 'app.kubernetes.io/name']);
    expect(find(objects, 'Service', 'mlflow').spec.selector).toEqual(deploy.spec.selector.matchLabels);
    expect(deploy.spec.replicas).toBe(1);
  });
});

describe('hardening', () => {
  const configs: Array<[string, unknown]> = [['default', {}], ['all features', ALL_FEATURES]];
  test.each(configs)('every container is non-root, read-only, capability-free and has resources (%s)', (_name, cfg) => {
    const { objects } = synthObjects(cfg, SECRET_ENV_VALUES);
    const specs = podSpecs(objects);
    expect(specs.length).toBeGreaterThanOrEqual(2);
    for (const { owner, spec } of specs) {
      expect({ owner, nonRoot: spec.securityContext.runAsNonRoot, fsGroup: typeof spec.securityContext.fsGroup }).toEqual({ owner, nonRoot: true, fsGroup: 'number' });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of allContainers(spec)) {
        const sc = c.securityContext;
        expect({ owner, c: c.name, ro: sc.readOnlyRootFilesystem, esc: sc.allowPrivilegeEscalation, caps: sc.capabilities.drop, seccomp: sc.seccompProfile.type })
          .toEqual({ owner, c: c.name, ro: true, esc: false, caps: ['ALL'], seccomp: 'RuntimeDefault' });
        expect(c.resources.requests.cpu).toBeDefined();
        expect(c.resources.requests.memory).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
        expect(c.volumeMounts.map((m: Obj) => m.mountPath)).toContain('/tmp');
      }
      const tmp = spec.volumes.find((v: Obj) => v.name === 'tmp');
      expect(tmp.emptyDir.sizeLimit).toBeDefined();
    }
    const wt = find(objects, 'WorkflowTemplate');
    expect(wt.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    for (const t of wt.spec.templates.filter((x: Obj) => x.container)) {
      expect({ t: t.name, ro: t.container.securityContext.readOnlyRootFilesystem, caps: t.container.securityContext.capabilities.drop }).toEqual({ t: t.name, ro: true, caps: ['ALL'] });
      expect(t.container.resources.requests.cpu).toBeDefined();
      expect(t.container.resources.limits.memory).toBeDefined();
    }
  });
});

describe('names and labels', () => {
  test('fixed names, no hashes, standard labels on every object', () => {
    const { objects } = synthObjects(ALL_FEATURES, SECRET_ENV_VALUES);
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names).toEqual([
      'ConfigMap/model-mirror-s3-endpoint', 'CronJob/postgres-backup', 'Deployment/mlflow', 'HorizontalPodAutoscaler/mlflow',
      'Ingress/mlflow', 'Namespace/model-mirror', 'NetworkPolicy/mlflow', 'PodDisruptionBudget/mlflow',
      'Role/model-mirror-workflow', 'RoleBinding/model-mirror-workflow',
      'Secret/model-mirror-hf-token', 'Secret/model-mirror-postgres', 'Secret/model-mirror-s3', 'Secret/seaweedfs-s3-config',
      'Service/mlflow', 'Service/postgres', 'ServiceAccount/mlflow', 'ServiceAccount/model-mirror-workflow',
      'StatefulSet/postgres', 'WorkflowTemplate/model-mirror',
    ]);
    for (const o of objects) {
      for (const k of ['name', 'instance', 'component', 'part-of', 'managed-by', 'version']) {
        expect({ obj: `${o.kind}/${o.metadata.name}`, has: `app.kubernetes.io/${k}` in (o.metadata.labels ?? {}) }).toEqual({ obj: `${o.kind}/${o.metadata.name}`, has: true });
      }
      if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe(o.metadata.name === 'seaweedfs-s3-config' ? 'seaweedfs' : 'model-mirror');
    }
  });
});

describe('secrets', () => {
  const values = Object.values(SECRET_ENV_VALUES);

  test('by default no secret value reaches the manifests, and Secrets are only referenced', () => {
    const { yaml, objects, result } = synthObjects({}, SECRET_ENV_VALUES);
    for (const v of values) expect(yaml).not.toContain(v);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(result.ledger.requirements.map((r) => r.name).sort()).toEqual(['model-mirror-hf-token', 'model-mirror-postgres', 'model-mirror-s3']);
    expect(result.ledger.warnings.join('\n')).toMatch(/NOT written/);
  });

  test('with secrets.writePlaintext the values are written, with a warning', () => {
    const { yaml, result } = synthObjects({ secrets: { writePlaintext: true } }, SECRET_ENV_VALUES);
    for (const v of values) expect(yaml).toContain(v);
    expect(result.ledger.warnings.join('\n')).toMatch(/PLAINTEXT/);
  });

  test('writePlaintext without values still only references the Secrets', () => {
    const { objects } = synthObjects({ secrets: { writePlaintext: true } }, {});
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  test('SeaweedFS identities config has the s3.json shape, scoped to the bucket', () => {
    const { objects } = synthObjects({ secrets: { writePlaintext: true }, s3: { seaweedfsConfig: { enabled: true } } }, SECRET_ENV_VALUES);
    const s = find(objects, 'Secret', 'seaweedfs-s3-config');
    const doc = JSON.parse(s.stringData.seaweedfs_s3_config);
    expect(doc.identities[0].credentials[0]).toEqual({ accessKey: SECRET_ENV_VALUES.MODEL_MIRROR_S3_ACCESS_KEY_ID, secretKey: SECRET_ENV_VALUES.MODEL_MIRROR_S3_SECRET_ACCESS_KEY });
    expect(doc.identities[0].actions).toEqual(['Read:mlflow', 'Write:mlflow', 'List:mlflow', 'Tagging:mlflow']);
  });

  test('external database mode reads the URL from an existing Secret', () => {
    const { objects } = synthObjects({ postgres: { mode: 'external' } });
    expect(find(objects, 'StatefulSet')).toBeUndefined();
    const env = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0].env;
    expect(env.find((e: Obj) => e.name === 'MLFLOW_BACKEND_STORE_URI').valueFrom.secretKeyRef).toEqual({ name: 'model-mirror-database', key: 'MLFLOW_BACKEND_STORE_URI' });
  });
});

describe('WorkflowTemplate', () => {
  const { objects } = synthObjects();
  const wt = find(objects, 'WorkflowTemplate', 'model-mirror');
  const tmpl = (name: string): Obj => wt.spec.templates.find((t: Obj) => t.name === name);

  test('parameters with descriptions; model_id required', () => {
    const params = wt.spec.arguments.parameters;
    expect(params.map((p: Obj) => p.name)).toEqual(['model_id', 'revision', 'model_name', 'task', 'allow_patterns', 'ignore_patterns', 'alias', 'experiment', 'policy_narrowing']);
    for (const p of params) expect(p.description).toBeTruthy();
    expect(params[0].value).toBeUndefined();
    expect(params.find((p: Obj) => p.name === 'revision').value).toBe('main');
    expect(params.find((p: Obj) => p.name === 'experiment').value).toBe('model-mirror');
  });

  test('steps prepare -> transfer -> register -> verify, onExit finalize', () => {
    expect(wt.spec.entrypoint).toBe('mirror');
    expect(tmpl('mirror').steps.map((g: Obj[]) => g.map((s) => s.name))).toEqual([['prepare'], ['transfer'], ['register'], ['verify', 'verify-existing']]);
    // The sequential steps are not in the overlapped template at all.
    expect(wt.spec.templates.map((t: Obj) => t.name)).toEqual(['mirror', 'prepare', 'transfer', 'register', 'verify', 'finalize']);
    expect(wt.spec.onExit).toBe('finalize');
    const fin = tmpl('finalize').container.args;
    expect(fin).toEqual(expect.arrayContaining(['finalize', '--workflow-status', '{{workflow.status}}', '--failures', '{{workflow.failures}}']));
    for (const t of wt.spec.templates) expect(t.name).toMatch(/^[a-zA-Z0-9][-a-zA-Z0-9]*$/);
    for (const t of wt.spec.templates) expect(Object.keys(t).filter((k) => ['script', 'dag', 'resource', 'podSpecPatch'].includes(k))).toEqual([]);
  });

  test('CLI contract: command, subcommands, flags, /work layout, outputs via valueFrom.path', () => {
    for (const name of ['prepare', 'transfer', 'register', 'verify', 'finalize']) {
      const c = tmpl(name).container;
      expect(c.command).toEqual(['model-mirror']);
      expect(c.args[0]).toBe(name);
      expect(c.volumeMounts).toEqual(expect.arrayContaining([{ name: 'work', mountPath: '/work' }]));
      expect(c.env.find((e: Obj) => e.name === 'MLFLOW_TRACKING_URI').value).toBe('http://mlflow.model-mirror.svc.cluster.local:5000');
    }
    expect(tmpl('prepare').outputs.parameters.map((p: Obj) => [p.name, p.valueFrom.path])).toEqual([
      ['reused', '/work/outputs/prepare/reused'], ['version', '/work/outputs/prepare/version'],
      ['run_id', '/work/outputs/prepare/run_id'], ['artifact_uri', '/work/outputs/prepare/artifact_uri'],
      ['s3_destination', '/work/outputs/prepare/s3_destination'], ['experiment_id', '/work/outputs/prepare/experiment_id'],
      ['commit_sha', '/work/outputs/prepare/commit_sha'],
    ]);
    expect(tmpl('transfer').container.args).toEqual(expect.arrayContaining([
      '--dest', '/work/model', '--s3-destination', '{{inputs.parameters.s3_destination}}', '--output-dir', '/work/outputs/transfer',
    ]));
    // The transfer fetches the commit prepare checked, not the branch's head at its own start.
    expect(tmpl('transfer').container.args).toEqual(expect.arrayContaining(['--revision', '{{inputs.parameters.revision}}', '--commit', '{{inputs.parameters.commit}}']));
    expect(tmpl('mirror').steps[1][0].arguments.parameters.find((p: Obj) => p.name === 'commit').value).toBe('{{steps.prepare.outputs.parameters.commit_sha}}');
    expect(tmpl('transfer').container.args).not.toContain('--bounded-scratch');
    // The outputs of download and upload together: register/verify and the metrics read them.
    expect(tmpl('transfer').outputs.parameters.map((p: Obj) => p.name)).toEqual([
      'total_bytes', 'commit_sha', 'bytes_downloaded', 'bytes_uploaded', 'objects_uploaded', 'objects_skipped', 'transfer_seconds',
    ]);
    expect(tmpl('transfer').outputs.parameters.find((p: Obj) => p.name === 'commit_sha').globalName).toBe('commit_sha');
    expect(tmpl('mirror').steps[1][0].arguments.parameters.find((p: Obj) => p.name === 's3_destination').value).toBe('{{steps.prepare.outputs.parameters.s3_destination}}');
    expect(tmpl('register').outputs.parameters.map((p: Obj) => p.name)).toEqual(['version', 'model_uri']);
    const hf = tmpl('transfer').container.env.find((e: Obj) => e.name === 'HF_TOKEN');
    expect(hf.valueFrom.secretKeyRef).toEqual({ name: 'model-mirror-hf-token', key: 'HF_TOKEN', optional: true });
    expect(tmpl('register').container.env.find((e: Obj) => e.name === 'HF_TOKEN')).toBeUndefined();
  });

  test('prepare finds an existing version: transfer, register and verify skip, verify-existing checks it', () => {
    const steps = Object.fromEntries(tmpl('mirror').steps.flat().map((st: Obj) => [st.name, st]));
    const transfer = "'{{steps.prepare.outputs.parameters.reused}}' != 'true'";
    const reused = "'{{steps.prepare.outputs.parameters.reused}}' == 'true'";
    expect(steps.prepare.when).toBeUndefined();
    for (const name of ['transfer', 'register', 'verify']) expect(steps[name].when).toBe(transfer);
    expect(steps['verify-existing'].when).toBe(reused);
    expect(steps['verify-existing'].template).toBe('verify');
    expect(steps['verify-existing'].arguments.parameters.find((p: Obj) => p.name === 'version').value).toBe('{{steps.prepare.outputs.parameters.version}}');
    // prepare sees what makes a version's identity: the patterns, and the alias to re-apply.
    expect(tmpl('prepare').container.args).toEqual(expect.arrayContaining([
      '--alias', '{{inputs.parameters.alias}}', '--allow-patterns', '{{inputs.parameters.allow_patterns}}', '--ignore-patterns', '{{inputs.parameters.ignore_patterns}}',
    ]));
  });

  test('model name default derives from model_id; mutex keyed by model_id', () => {
    const prep = tmpl('mirror').steps[0][0].arguments.parameters.find((p: Obj) => p.name === 'model_name');
    expect(prep.value).toBe(MODEL_NAME_EXPRESSION);
    expect(MODEL_NAME_EXPRESSION).toContain("sprig.replace('/', '--', workflow.parameters.model_id)");
    expect(wt.spec.synchronization).toEqual({ mutexes: [{ name: MUTEX_NAME }] });
    expect(MUTEX_NAME).toBe('model-mirror-{{workflow.parameters.model_id}}');
    expect(wt.spec.synchronization.mutex).toBeUndefined();
  });

  test('PVC from volumeClaimTemplates, GC on completion, retries on network steps, lifecycle limits', () => {
    expect(wt.spec.volumeClaimTemplates[0].metadata.name).toBe('work');
    expect(wt.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('50Gi');
    expect(wt.spec.volumeClaimGC).toEqual({ strategy: 'OnWorkflowCompletion' });
    for (const name of ['transfer', 'register']) {
      expect(tmpl(name).retryStrategy).toEqual({
        limit: 4, retryPolicy: 'Always', backoff: { duration: '10s', factor: 3, maxDuration: '30m' },
        expression: '!(lastRetry.exitCode in ["2", "3", "4", "7", "8", "9"])',
      });
    }
    expect(tmpl('prepare').retryStrategy).toBeUndefined();
    // noRetryExitCodes: [] retries every failure (no expression); a custom list is rendered as strings.
    const tmplOf = (objects: Obj[], name: string) => objects.find((o) => o.kind === 'WorkflowTemplate')!.spec.templates.find((t: Obj) => t.name === name);
    expect(tmplOf(synthObjects({ workflow: { retry: { noRetryExitCodes: [] } } }).objects, 'transfer').retryStrategy.expression).toBeUndefined();
    expect(tmplOf(synthObjects({ workflow: { retry: { noRetryExitCodes: [2, 9] } } }).objects, 'transfer').retryStrategy.expression).toBe('!(lastRetry.exitCode in ["2", "9"])');
    expect(wt.spec.activeDeadlineSeconds).toBe(21600);
    expect(wt.spec.podGC).toEqual({ strategy: 'OnPodSuccess' });
    expect(wt.spec.ttlStrategy.secondsAfterSuccess).toBe(86400);
    expect(wt.spec.serviceAccountName).toBe('model-mirror-workflow');
    expect(wt.spec.podMetadata).toBeUndefined();
  });

  test("Argo's init and wait containers get the restricted securityContext through spec.podSpecPatch", () => {
    const patch = JSON.parse(wt.spec.podSpecPatch);
    const restricted = {
      runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false,
      capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    };
    expect(patch).toEqual({
      initContainers: [{ name: 'init', securityContext: restricted }],
      containers: [{ name: 'wait', securityContext: restricted }],
    });
    const viaController = synthObjects({ workflow: { executorSecurityContext: 'controller' } }).objects
      .find((o) => o.kind === 'WorkflowTemplate')!;
    expect(viaController.spec.podSpecPatch).toBeUndefined();
    expect(() => synthObjects({ workflow: { executorSecurityContext: 'kyverno' } })).toThrow(/executorSecurityContext/);
  });

  test('every output parameter has a default, so a step that fails early does not also fail Argo\'s wait container', () => {
    const outputs = wt.spec.templates.flatMap((t: Obj) => t.outputs?.parameters ?? []);
    expect(outputs.length).toBeGreaterThan(5);
    for (const o of outputs) expect(o.valueFrom).toEqual({ path: expect.stringMatching(/^\/work\/outputs\//), default: '' });
  });

  test('metrics: workflow duration gauge, step duration histogram, bytes counter from an output', () => {
    expect(wt.spec.metrics.prometheus.map((m: Obj) => m.name)).toContain('model_mirror_workflow_duration_seconds');
    // The transfer step feeds both byte counters of the steps it replaces, and its own duration.
    const tr = tmpl('transfer');
    const counter = (name: string) => tr.metrics.prometheus.find((m: Obj) => m.name === name);
    expect(counter('model_mirror_downloaded_bytes_total').counter.value).toBe('{{outputs.parameters.total_bytes}}');
    expect(counter('model_mirror_uploaded_bytes_total').counter.value).toBe('{{outputs.parameters.bytes_uploaded}}');
    expect(counter('model_mirror_uploaded_bytes_total').when).toBe('{{status}} == Succeeded');
    const duration = tr.metrics.prometheus.find((m: Obj) => m.histogram);
    expect(duration.histogram.value).toBe('{{duration}}');
    expect(duration.labels).toEqual([{ key: 'step', value: 'transfer' }, { key: 'status', value: '{{status}}' }]);
    expect(tr.outputs.parameters.map((p: Obj) => p.valueFrom.path)).toContain('/work/outputs/transfer/bytes_uploaded');
  });

  describe('workflow.transfer: sequential', () => {
    const seq = find(synthObjects({ workflow: { transfer: 'sequential' } }).objects, 'WorkflowTemplate', 'model-mirror');
    const st = (name: string): Obj => seq.spec.templates.find((t: Obj) => t.name === name);

    test('steps prepare -> download -> upload -> register -> verify, each with its retries and metrics', () => {
      expect(st('mirror').steps.map((g: Obj[]) => g.map((x) => x.name))).toEqual([['prepare'], ['download'], ['upload'], ['register'], ['verify', 'verify-existing']]);
      expect(seq.spec.templates.map((t: Obj) => t.name)).not.toContain('transfer');
      expect(st('download').container.args).toEqual(expect.arrayContaining(['download', '--dest', '/work/model', '--output-dir', '/work/outputs/download']));
      expect(st('download').container.args).toEqual(expect.arrayContaining(['--commit', '{{inputs.parameters.commit}}']));
      expect(st('mirror').steps[1][0].arguments.parameters.find((p: Obj) => p.name === 'commit').value).toBe('{{steps.prepare.outputs.parameters.commit_sha}}');
      expect(st('upload').container.args).toEqual(['upload', '--source', '/work/model', '--dest', '{{inputs.parameters.s3_destination}}', '--output-dir', '/work/outputs/upload']);
      expect(st('upload').container.env.find((e: Obj) => e.name === 'HF_TOKEN')).toBeUndefined();
      for (const name of ['download', 'upload']) expect(st(name).retryStrategy.expression).toBe('!(lastRetry.exitCode in ["2", "3", "4", "7", "8", "9"])');
      expect(st('download').metrics.prometheus.find((m: Obj) => m.counter).counter.value).toBe('{{outputs.parameters.total_bytes}}');
      expect(st('upload').metrics.prometheus.find((m: Obj) => m.counter).counter.value).toBe('{{outputs.parameters.bytes_uploaded}}');
    });
  });

  describe('workflow.scratch', () => {
    test('bounded: the transfer step gets --bounded-scratch and the PVC scratch.size', () => {
      const b = find(synthObjects({ workflow: { scratch: { bounded: true, size: '20Gi' } } }).objects, 'WorkflowTemplate', 'model-mirror');
      const transfer = b.spec.templates.find((t: Obj) => t.name === 'transfer');
      expect(transfer.container.args).toContain('--bounded-scratch');
      expect(transfer.container.args.indexOf('--bounded-scratch')).toBeLessThan(transfer.container.args.indexOf('--output-dir'));
      expect(b.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
    });

    test('size alone sizes the PVC; bounded alone keeps storageSize', () => {
      const sized = find(synthObjects({ workflow: { scratch: { size: '75Gi' } } }).objects, 'WorkflowTemplate', 'model-mirror');
      expect(sized.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('75Gi');
      expect(sized.spec.templates.find((t: Obj) => t.name === 'transfer').container.args).not.toContain('--bounded-scratch');
      const bounded = find(synthObjects({ workflow: { storageSize: '30Gi', scratch: { bounded: true } } }).objects, 'WorkflowTemplate', 'model-mirror');
      expect(bounded.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('30Gi');
    });

    test('refused: bounded with the sequential path, two sizes, a bad size, an unknown transfer mode or key', () => {
      expect(() => synthObjects({ workflow: { transfer: 'sequential', scratch: { bounded: true } } })).toThrow(/scratch\.bounded needs config\.workflow\.transfer: overlapped/);
      expect(() => synthObjects({ workflow: { storageSize: '30Gi', scratch: { size: '20Gi' } } })).toThrow(/both set the scratch volume size/);
      expect(() => synthObjects({ workflow: { scratch: { size: 'twenty' } } })).toThrow(/config\.workflow\.scratch\.size/);
      expect(() => synthObjects({ workflow: { transfer: 'containerSet' } })).toThrow(/config\.workflow\.transfer/);
      expect(() => synthObjects({ workflow: { scratch: { bounded: 'yes' } } })).toThrow(/config\.workflow\.scratch\.bounded/);
      expect(() => synthObjects({ workflow: { scratch: { sizeGi: 20 } } })).toThrow(/sizeGi/);
    });
  });

  test('RBAC: only workflowtaskresults create/patch', () => {
    const role = find(objects, 'Role', 'model-mirror-workflow');
    expect(role.rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }]);
    expect(find(objects, 'RoleBinding', 'model-mirror-workflow').subjects).toEqual([{ kind: 'ServiceAccount', name: 'model-mirror-workflow', namespace: 'model-mirror' }]);
  });
});

describe('optional MLflow features', () => {
  test('HPA, PDB, NetworkPolicy, Ingress, metrics and backup are off by default', () => {
    const { objects } = synthObjects();
    for (const kind of ['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'Ingress', 'CronJob', 'Secret']) expect(find(objects, kind)).toBeUndefined();
    const deploy = find(objects, 'Deployment', 'mlflow');
    expect(deploy.spec.template.metadata.annotations).toBeUndefined();
    expect(deploy.spec.template.spec.containers[0].args).not.toContain('--expose-prometheus');
  });

  test('when on, each is correct', () => {
    const { objects } = synthObjects(ALL_FEATURES, SECRET_ENV_VALUES);
    const deploy = find(objects, 'Deployment', 'mlflow');
    expect(deploy.spec.replicas).toBeUndefined();
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'mlflow');
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'mlflow' }, minReplicas: 2, maxReplicas: 4 });
    const pdb = find(objects, 'PodDisruptionBudget', 'mlflow');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: deploy.spec.selector.matchLabels } });
    const np = find(objects, 'NetworkPolicy', 'mlflow');
    expect(np.spec.podSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
    expect(np.spec.ingress[0].ports).toEqual([{ protocol: 'TCP', port: 5000 }]);
    const wt = find(objects, 'WorkflowTemplate');
    expect(np.spec.ingress[0].from[0].podSelector.matchLabels).toEqual(wt.spec.podMetadata.labels);
    expect(np.spec.ingress[0].from[1].namespaceSelector.matchExpressions[0].values).toEqual(['ingress-nginx']);
    const ing = find(objects, 'Ingress', 'mlflow');
    expect(ing.spec).toMatchObject({ ingressClassName: 'nginx', tls: [{ hosts: ['mlflow.example.com'], secretName: 'mlflow-tls' }] });
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'mlflow', port: { name: 'http' } });
    const args: string[] = deploy.spec.template.spec.containers[0].args;
    expect(args[args.indexOf('--expose-prometheus') + 1]).toBe('/tmp/prometheus');
    expect(args[args.indexOf('--allowed-hosts') + 1].split(',')).toEqual(expect.arrayContaining(['mlflow.example.com', 'mlflow.example.com:*']));
    expect(deploy.spec.template.metadata.annotations['prometheus.io/scrape']).toBe('true');
    const cron = find(objects, 'CronJob', 'postgres-backup');
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['s3', 'cp']));
  });
});

describe('main.ts', () => {
  const run = (env: NodeJS.ProcessEnv, configText?: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-synth-'));
    if (configText !== undefined) fs.writeFileSync(path.join(dir, 'model-mirror.config.yaml'), configText);
    const tsNode = path.join(REPO, 'node_modules', '.bin', 'ts-node');
    const res = spawnSync(tsNode, ['--transpile-only', path.join(REPO, 'main.ts')], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, ...env, CDK8S_OUTDIR: path.join(dir, 'dist'), MODEL_MIRROR_CONFIG: '', MODEL_MIRROR_SET: env.MODEL_MIRROR_SET ?? '' },
    });
    return { ...res, dir };
  };

  test('a bad config fails with the field named and no stack trace', () => {
    const res = run({}, 'mlflow:\n  replicas: -1\n');
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('config.mlflow.replicas: must be a positive integer, got -1');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(res.dir, 'dist'))).toBe(false);
  });

  test('zero config writes dist/ and lists the Secrets to create', () => {
    const res = run({});
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.status).toBe(0);
    expect(fs.readdirSync(path.join(res.dir, 'dist')).sort()).toEqual(['0000-namespace.k8s.yaml', '0001-s3.k8s.yaml', '0002-postgres.k8s.yaml', '0003-mlflow.k8s.yaml', '0004-workflow.k8s.yaml']);
    expect(res.stderr).toContain('kubectl create secret generic model-mirror-s3 -n model-mirror');
  });

  test('env overrides via MODEL_MIRROR_SET, and plaintext opt-in warns', () => {
    const res = run({ ...SECRET_ENV_VALUES, MODEL_MIRROR_SET: 'namespace=mm-test;secrets.writePlaintext=true' });
    expect(res.status).toBe(0);
    expect(res.stderr).toMatch(/WARNING: Secret mm-test\/model-mirror-s3 was written to the manifests in PLAINTEXT/);
    const all = fs.readdirSync(path.join(res.dir, 'dist')).map((f) => fs.readFileSync(path.join(res.dir, 'dist', f), 'utf8')).join('\n');
    expect(all).toContain(SECRET_ENV_VALUES.MODEL_MIRROR_S3_SECRET_ACCESS_KEY);
  });
});

// The example config in the repo is valid and documents every field the loader knows.
test('model-mirror.config.example.yaml is a valid config', () => {
  const text = fs.readFileSync(path.join(REPO, 'model-mirror.config.example.yaml'), 'utf8');
  expect(() => synthObjects(YAML.parse(text), SECRET_ENV_VALUES)).not.toThrow();
});
