// Synthesizes the project (main.ts, as `npm run synth` does) with the default config and with
// every optional feature on, then validates each object strictly: Kubernetes objects against
// the pinned Kubernetes schemas (versions.json) with kubernetes-validate, the WorkflowTemplate with the Argo validator (v4.1.2
// CRD schema + Argo's own validation). Broken templates must be rejected, so the check can fail.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { KUBERNETES_VERSION } from '../../lib/versions';
import { readTools, REPO_ROOT } from '../peers/peers';

const CRD = path.join(REPO_ROOT, 'crds', 'argoproj.io_workflowtemplates.v4.1.2.full.yaml');

const ALL_FEATURES = `
secrets: { writePlaintext: true }
s3: { seaweedfsConfig: { enabled: true } }
postgres: { backup: { enabled: true }, storageClassName: fast }
mlflow:
  autoscaling: { enabled: true }
  podDisruptionBudget: { enabled: true }
  networkPolicy: { enabled: true }
  metrics: { enabled: true }
  ingress: { enabled: true, host: mlflow.example.com, className: nginx, tlsSecretName: mlflow-tls, annotations: { a.example.com/b: c } }
workflow: { storageClassName: fast, hfToken: { required: true } }
catalog:
  schedule: "17 2 * * *"
  timezone: Europe/Paris
  models:
    - { model_id: openai-community/gpt2, revision: main, alias: prod }
    - { model_id: Qwen/Qwen2.5-0.5B, revision: v1.0, model_name: qwen, allow_patterns: ["*.json", "*.safetensors"] }
`;
/** Other platform modes: an external MLflow with basic auth, S3 through pod identity, a catalog. */
const PLATFORM = `
s3: { auth: podIdentity, serviceAccountAnnotations: { eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/mm" } }
mlflow: { external: { trackingUri: https://mlflow.example.com, auth: basic } }
catalog: { schedule: "@daily", parallelism: 1, models: [{ model_id: openai-community/gpt2 }] }
`;
const ARGO_KINDS = ['WorkflowTemplate', 'CronWorkflow'];
const SECRET_ENV = {
  MODEL_MIRROR_S3_ACCESS_KEY_ID: 'AKIAINTEGRATION0001',
  MODEL_MIRROR_S3_SECRET_ACCESS_KEY: 'integration-secret-key',
  MODEL_MIRROR_POSTGRES_PASSWORD: 'integrationpassword',
  MODEL_MIRROR_HF_TOKEN: 'hf_integrationtoken',
};

function synth(configYaml: string | undefined, env: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-manifests-'));
  const configEnv: Record<string, string> = { MODEL_MIRROR_CONFIG: '', MODEL_MIRROR_SET: '' };
  if (configYaml !== undefined) {
    fs.writeFileSync(path.join(dir, 'config.yaml'), configYaml);
    configEnv.MODEL_MIRROR_CONFIG = path.join(dir, 'config.yaml');
  }
  const out = path.join(dir, 'dist');
  const r = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', path.join(REPO_ROOT, 'main.ts')], {
    cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...configEnv, ...env, CDK8S_OUTDIR: out },
  });
  if (r.status !== 0) throw new Error(`synth failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return out;
}

const yamlFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(dir, f));

function kubernetesValidate(files: string[]): { status: number | null; output: string } {
  const r = spawnSync(readTools().kubernetesValidate, ['--strict', '-k', KUBERNETES_VERSION, ...files], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function argoValidate(files: string[]): { status: number | null; output: string } {
  const r = spawnSync(readTools().argoValidate, ['--crd', CRD, ...files], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe.each([
  ['default config', undefined, {}],
  ['all features', ALL_FEATURES, SECRET_ENV],
  ['external MLflow, pod identity, catalog', PLATFORM, {}],
])('%s', (_name, config, env) => {
  let files: string[];
  beforeAll(() => {
    files = yamlFiles(synth(config, env as Record<string, string>));
  });

  test(`every Kubernetes object passes kubernetes-validate --strict for ${KUBERNETES_VERSION}`, () => {
    const { status, output } = kubernetesValidate(files);
    const docs = files.flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJSON()));
    const core = docs.filter((d) => !ARGO_KINDS.includes(d.kind));
    expect(core.length).toBeGreaterThan(5);
    // One "passed" line per core object; the only schema-less kind allowed is the Argo CRD.
    expect(output.match(/ passed for resource /g)?.length).toBe(core.length);
    expect(output).not.toMatch(/ERROR|failed/i);
    for (const line of output.split('\n').filter((l) => l.startsWith('WARN'))) expect(line).toMatch(/kind (WorkflowTemplate|CronWorkflow) with api version argoproj.io\/v1alpha1/);
    expect(status).toBe(0);
  });

  test('the WorkflowTemplate (and the catalog CronWorkflow) pass the Argo validator', () => {
    const { status, output } = argoValidate(files);
    expect(output).toMatch(/WorkflowTemplate "model-mirror": valid/);
    if (config) expect(output).toMatch(/CronWorkflow "model-mirror-catalog": valid/);
    expect(status).toBe(0);
  });
});

describe('the validators can fail', () => {
  let template: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  let dir: string;
  beforeAll(() => {
    const out = synth(undefined);
    const docs = yamlFiles(out).flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJSON()));
    template = docs.find((d) => d.kind === 'WorkflowTemplate');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-broken-'));
  });
  const broken = (name: string, mutate: (t: any) => void): string => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const t = JSON.parse(JSON.stringify(template));
    mutate(t);
    const f = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(f, YAML.stringify(t));
    return f;
  };

  test.each([
    ['singular mutex (removed in Argo v4)', (t: any) => { t.spec.synchronization = { mutex: { name: 'x' } }; }, /spec\.synchronization\.mutex: unknown field/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['template name with "_"', (t: any) => { t.spec.templates[1].name = 'pre_pare'; t.spec.templates[0].steps[0][0].template = 'pre_pare'; }, /"pre_pare" does not match \^\[a-zA-Z0-9\]\[-a-zA-Z0-9\]\*\$/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['unknown container field', (t: any) => { t.spec.templates[1].container.imagePolicy = 'x'; }, /imagePolicy: unknown field/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['reference to an undeclared output', (t: any) => { t.spec.templates[0].steps[2][0].arguments.parameters[0].value = '{{steps.prepare.outputs.parameters.nope}}'; }, /nope/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['templated PVC size (argo-workflows#1932)', (t: any) => { t.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '{{workflow.parameters.revision}}'; }, /quantities must match/], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('rejects %s', (name, mutate, message) => {
    const { status, output } = argoValidate([broken(name.replace(/\W+/g, '-'), mutate)]);
    expect(output).toMatch(message);
    expect(status).toBe(1);
  });

  test.each([
    ['a malformed schedule', (c: any) => { c.spec.schedules = ['every day']; }, /cron schedule every day is malformed/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['an unknown field in the workflowSpec', (c: any) => { c.spec.workflowSpec.templates[2].container.imagePolicy = 'x'; }, /spec\.workflowSpec\.templates\[2\]\.container\.imagePolicy: unknown field/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a summary reading an output the entries do not have', (c: any) => { c.spec.workflowSpec.templates[0].steps[1][0].arguments.parameters[0].value = '{{steps.nope.outputs.parameters}}'; }, /nope/], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('rejects a CronWorkflow with %s', (name, mutate, message) => {
    const out = synth(ALL_FEATURES, SECRET_ENV);
    const docs = yamlFiles(out).flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJSON()));
    const cron = JSON.parse(JSON.stringify(docs.find((d) => d.kind === 'CronWorkflow')));
    mutate(cron);
    const f = path.join(dir, `cron-${name.replace(/\W+/g, '-')}.yaml`);
    fs.writeFileSync(f, YAML.stringify(cron));
    const { status, output } = argoValidate([f]);
    expect(output).toMatch(message);
    expect(status).toBe(1);
  });

  test('kubernetes-validate rejects an unknown field in a Deployment', () => {
    const f = path.join(dir, 'bad-deployment.yaml');
    fs.writeFileSync(f, YAML.stringify({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' },
      spec: { selector: { matchLabels: { a: 'b' } }, replicaz: 2, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    }));
    const { status, output } = kubernetesValidate([f]);
    expect(output).toMatch(/replicaz/);
    expect(status).not.toBe(0);
  });
});
