import type { CommandModule } from 'yargs';
import { printResult, writeOutputs } from '../common/outputs';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { prepareRun } from '../mlflow/prepare';

interface PrepareArgs {
  modelId: string;
  revision: string;
  experiment: string;
  modelName: string;
  task?: string;
  hubUrl?: string;
  outputDir?: string;
  trackingUri?: string;
}

export const prepareCommand: CommandModule<object, PrepareArgs> = {
  command: 'prepare',
  describe: 'Create (or reuse) the MLflow experiment and a run for one mirror; prints run_id, artifact_uri, s3_destination',
  builder: (y) => y
    .option('model-id', { type: 'string', demandOption: true, describe: 'Hub model id, org/name' })
    .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or commit sha requested' })
    .option('experiment', { type: 'string', demandOption: true, describe: 'MLflow experiment name (created if missing)' })
    .option('model-name', { type: 'string', demandOption: true, describe: 'Registered model name (checked now, used by register)' })
    .option('task', { type: 'string', describe: 'transformers pipeline task, logged as a param' })
    .option('hub-url', { type: 'string', describe: 'Hub endpoint, recorded as a tag (default: $HF_ENDPOINT)' })
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption) as never,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const result = await prepareRun(client, {
      modelId: args.modelId,
      revision: args.revision,
      experiment: args.experiment,
      modelName: args.modelName,
      task: args.task,
      hubUrl: args.hubUrl ?? process.env.HF_ENDPOINT ?? undefined,
    });
    await writeOutputs(args.outputDir, {
      run_id: result.run_id,
      artifact_uri: result.artifact_uri,
      s3_destination: result.s3_destination,
      experiment_id: result.experiment_id,
    });
    printResult({ ...result });
  },
};
