// The short report `npm run synth` prints: what was written, and which Secrets to create.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadedConfig } from './config';
import type { ModelMirrorResult } from './model-mirror';

export function synthSummary(outdir: string, loaded: LoadedConfig, result: ModelMirrorResult): string {
  const c = loaded.config;
  const lines: string[] = [];
  const files = fs.existsSync(outdir) ? fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml')).sort() : [];
  lines.push(`model-mirror: wrote ${files.length} manifest file(s) to ${outdir}/ (namespace ${c.namespace}; config: ${loaded.sources.length ? loaded.sources.join(', ') : 'defaults'})`);
  for (const f of files) {
    const kinds = countKinds(fs.readFileSync(path.join(outdir, f), 'utf8'));
    lines.push(`  ${f}: ${kinds}`);
  }
  lines.push(`  MLflow: ${result.trackingUri} (${result.trackingDescription}; artifacts s3://${c.s3.bucket}/${c.s3.artifactPrefix} at ${c.s3.endpoint})`);
  lines.push(`  WorkflowTemplate ${result.workflow.name}: image ${result.workflowImage}`);
  const todo = result.ledger.requirements.filter((r) => !r.emitted);
  if (todo.length > 0) {
    const nsFile = files.find((f) => f.endsWith('namespace.k8s.yaml'));
    lines.push(`Secrets to create (not written to the manifests): ${nsFile ? `kubectl apply -f ${path.join(outdir, nsFile)}, then ` : ''}create them, then kubectl apply -f ${outdir}/`);
    for (const r of todo) {
      lines.push(`  ${r.namespace}/${r.name}${r.required ? '' : ' (optional)'}: ${r.purpose}`);
      lines.push(`    ${r.createCommand}`);
    }
  }
  return lines.join('\n');
}

function countKinds(yamlText: string): string {
  const counts = new Map<string, number>();
  for (const m of yamlText.matchAll(/^kind: (\S+)$/gm)) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  return [...counts].map(([k, n]) => (n > 1 ? `${n} ${k}` : k)).join(', ') || 'no objects';
}
