import type { CommandModule } from 'yargs';
import { readManifest } from '../common/manifest';
import { printResult, writeOutputs } from '../common/outputs';
import { s3ClientFromEnv } from '../mlflow/artifacts';
import { clientFromArgs, loggedModelOption, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { type LoggedModelMode, registerModel } from '../mlflow/register';

interface RegisterArgs {
  source: string;
  runId: string;
  modelName: string;
  task?: string;
  alias?: string;
  outputDir?: string;
  waitTimeout: number;
  pythonVersion: string;
  loggedModel: LoggedModelMode;
  trackingUri?: string;
}

export const registerCommand: CommandModule<object, RegisterArgs> = {
  command: 'register',
  describe: 'Write the MLmodel next to the uploaded files and register a model version (idempotent per commit)',
  builder: (y) => y
    .option('source', { type: 'string', demandOption: true, describe: 'Download dir holding mirror-manifest.json' })
    .option('run-id', { type: 'string', demandOption: true, describe: 'Run from `prepare`' })
    .option('model-name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .option('task', { type: 'string', describe: 'transformers pipeline task (default: the Hub\'s pipeline_tag)' })
    .option('alias', { type: 'string', describe: 'Point this alias at the version (e.g. champion)' })
    .option('wait-timeout', { type: 'number', default: 300, describe: 'Seconds to wait for the version to become READY' })
    .option('python-version', { type: 'string', default: '3.11', describe: 'Python version recorded in the MLmodel/env files' })
    .option('logged-model', loggedModelOption)
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption) as never,
  handler: async (args) => {
    const manifest = await readManifest(args.source);
    const client = clientFromArgs(args);
    const s3 = s3ClientFromEnv();
    try {
      const result = await registerModel(client, {
        sourceDir: args.source,
        manifest,
        runId: args.runId,
        modelName: args.modelName,
        task: args.task,
        alias: args.alias,
        waitTimeoutSeconds: args.waitTimeout,
        pythonVersion: args.pythonVersion,
        s3,
        loggedModel: args.loggedModel,
      });
      await writeOutputs(args.outputDir, { version: result.version, model_uri: result.model_uri, model_id: result.model_id ?? '' });
      printResult({ ...result });
    } finally {
      s3.destroy();
    }
  },
};
