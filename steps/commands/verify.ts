import type { CommandModule } from 'yargs';
import { readManifest } from '../common/manifest';
import { printResult, writeOutputs } from '../common/outputs';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { verifyRegistration } from '../mlflow/verify';

interface VerifyArgs {
  source: string;
  runId: string;
  modelName: string;
  version: string;
  outputDir?: string;
  trackingUri?: string;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify',
  describe: 'Check via MLflow that the version is READY and every mirrored file is in the run\'s artifacts with its size',
  builder: (y) => y
    // `--version` is the model version here, not the CLI's own version flag.
    .version(false)
    .option('source', { type: 'string', demandOption: true, describe: 'Download dir holding mirror-manifest.json' })
    .option('run-id', { type: 'string', demandOption: true, describe: 'Run from `prepare`' })
    .option('model-name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .option('version', { type: 'string', demandOption: true, alias: 'model-version', describe: 'Model version from `register`' })
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption) as never,
  handler: async (args) => {
    const manifest = await readManifest(args.source);
    const client = clientFromArgs(args);
    const result = await verifyRegistration(client, {
      manifest,
      runId: args.runId,
      modelName: args.modelName,
      version: String(args.version),
    });
    await writeOutputs(args.outputDir, { verified: 'true' });
    printResult({ ...result });
  },
};
