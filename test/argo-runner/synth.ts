// Synthesizes the project (`cdk8s synth`, i.e. main.ts) into a temp dir and returns the
// WorkflowTemplate(s) it wrote, for tests that check the template against the image, the CLI and
// the runner. Throws a clear error (never skips) when there is nothing to synthesize yet.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface Synthesized {
  readonly outDir: string;
  readonly files: readonly string[];
  readonly documents: readonly any[];
  readonly workflowTemplates: readonly any[];
}

export interface SynthesizeOptions {
  /**
   * Extra environment for `cdk8s synth`, merged over process.env; a value of `undefined` removes
   * the variable (e.g. `{ MODEL_MIRROR_CONFIG: '/tmp/x.json', MODEL_MIRROR_SET: undefined }`).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export function synthesize(opts: SynthesizeOptions = {}): Synthesized {
  const main = path.join(REPO_ROOT, 'main.ts');
  if (!fs.existsSync(main)) {
    throw new Error('No main.ts: the cdk8s app that synthesizes the WorkflowTemplate is not there yet, so the container contract cannot be checked.');
  }
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-mirror-synth-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const r = spawnSync('npx', ['cdk8s', 'synth', '--no-check-upgrade', '-o', outDir], {
    cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000, env: { ...env, CDK8S_OUTDIR: outDir },
  });
  if (r.status !== 0) {
    throw new Error(`\`npx cdk8s synth -o ${outDir}\` failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${r.stdout}\n${r.stderr}`);
  }
  const files = fs.readdirSync(outDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(outDir, f));
  const documents = files.flatMap((f) => parseAllDocuments(fs.readFileSync(f, 'utf8')).map((d) => d.toJSON())).filter(Boolean);
  const workflowTemplates = documents.filter((d) => d.apiVersion === 'argoproj.io/v1alpha1' && d.kind === 'WorkflowTemplate');
  if (workflowTemplates.length === 0) {
    throw new Error(`\`cdk8s synth\` wrote no argoproj.io/v1alpha1 WorkflowTemplate (files: ${files.map((f) => path.basename(f)).join(', ') || 'none'}).`);
  }
  return { outDir, files, documents, workflowTemplates };
}

/** Every Secret/ConfigMap key a WorkflowTemplate's containers and volumes reference, filled with dummies. */
export function dummyStoresFor(wft: any): { secrets: Record<string, Record<string, string>>; configMaps: Record<string, Record<string, string>> } {
  const secrets: Record<string, Record<string, string>> = {};
  const configMaps: Record<string, Record<string, string>> = {};
  const put = (store: Record<string, Record<string, string>>, name: string, key?: string) => {
    store[name] ??= {};
    if (key) store[name][key] ??= `dummy-${key}`;
  };
  for (const t of wft.spec?.templates ?? []) {
    for (const e of t.container?.env ?? []) {
      if (e.valueFrom?.secretKeyRef) put(secrets, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
      if (e.valueFrom?.configMapKeyRef) put(configMaps, e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key);
    }
    for (const ef of t.container?.envFrom ?? []) {
      if (ef.secretRef) put(secrets, ef.secretRef.name);
      if (ef.configMapRef) put(configMaps, ef.configMapRef.name);
    }
  }
  for (const v of wft.spec?.volumes ?? []) {
    if (v.secret) for (const it of v.secret.items ?? [{ key: 'value' }]) put(secrets, v.secret.secretName, it.key);
    if (v.configMap) for (const it of v.configMap.items ?? [{ key: 'value' }]) put(configMaps, v.configMap.name, it.key);
  }
  return { secrets, configMaps };
}
