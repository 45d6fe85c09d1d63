// `npm run synth` (cdk8s runs `ts-node main.ts`): load and validate the config at the edge, build
// the charts, write dist/, print a summary. A bad config prints one line naming the field and
// exits 1, with no stack trace.
import { App } from 'cdk8s';
import { CONTEXT_KEY, isConfigError, loadConfig } from './lib/config';
import { buildModelMirror } from './lib/model-mirror';
import { readSecretValues } from './lib/secret-values';
import { synthSummary } from './lib/summary';

export function main(): number {
  try {
    const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist' });
    const loaded = loadConfig({ context: app.node.tryGetContext(CONTEXT_KEY) });
    const result = buildModelMirror(app, { config: loaded.config, secretValues: readSecretValues() });
    app.synth();
    for (const w of result.ledger.warnings) process.stderr.write(`WARNING: ${w}\n`);
    // stderr: `cdk8s synth` captures the app's stdout and only passes stderr through.
    process.stderr.write(synthSummary(app.outdir, loaded, result) + '\n');
    return 0;
  } catch (e) {
    if (isConfigError(e)) {
      process.stderr.write(`model-mirror synth: invalid configuration: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`model-mirror synth: internal error (a bug, please report it): ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = main();
}
