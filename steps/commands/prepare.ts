import type { CommandModule } from 'yargs';
import { log } from '../common/log';
import { printResult, writeOutputs } from '../common/outputs';
import { resolveHubConfig } from '../hub/hub-config';
import { parsePatternList } from '../hub/patterns';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { planMirror } from '../mlflow/plan';
import { s3ClientFromEnv } from '../mlflow/artifacts';
import { type PolicyArgs, policyFromArgs, withPolicyOptions } from '../policy/cli-options';

interface PrepareArgs extends PolicyArgs {
  modelId: string;
  revision: string;
  experiment: string;
  modelName: string;
  task?: string;
  alias?: string;
  allowPatterns?: string[];
  ignorePatterns?: string[];
  hubUrl?: string;
  tokenFile?: string;
  waitTimeout: number;
  argoWorkflow?: string;
  outputDir?: string;
  trackingUri?: string;
}

export const prepareCommand: CommandModule<object, PrepareArgs> = {
  command: 'prepare',
  describe: 'Check the repo and revision on the Hub; reuse the version already registered for this commit and file selection, or adopt the run a failed attempt left (its S3 prefix: only missing bytes are sent again), or create the MLflow run to upload into',
  builder: (y) => withPolicyOptions(y
    .option('model-id', { type: 'string', demandOption: true, describe: 'Hub model id, org/name' })
    .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or commit sha requested' })
    .option('experiment', { type: 'string', demandOption: true, describe: 'MLflow experiment name (created if missing)' })
    .option('model-name', { type: 'string', demandOption: true, describe: 'Registered model name (checked now, used by register)' })
    .option('task', { type: 'string', describe: 'transformers pipeline task, logged as a param' })
    .option('alias', { type: 'string', describe: 'When the version already exists: point this alias at it' })
    .option('allow-patterns', { type: 'string', array: true, describe: 'The download\'s --allow-patterns (part of the version\'s identity)' })
    .option('ignore-patterns', { type: 'string', array: true, describe: 'The download\'s --ignore-patterns (part of the version\'s identity)' })
    .option('hub-url', { type: 'string', describe: 'Hub endpoint [default: $HF_ENDPOINT, else https://huggingface.co]' })
    .option('token-file', { type: 'string', describe: 'File holding a Hub token [default: $HF_TOKEN / $HF_TOKEN_PATH]' })
    .option('wait-timeout', { type: 'number', default: 300, describe: 'Seconds to wait for an existing PENDING version to become READY' })
    .option('argo-workflow', { type: 'string', describe: 'The Argo workflow running this step ({{workflow.name}}): recorded on the run; RUNNING runs of the same model that other workflows left behind (ended without their exit handler) are closed as FAILED' })
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption)) as never,
  handler: async (args) => {
    const policy = policyFromArgs(args); // a bad policy is a usage error before any request
    const client = clientFromArgs(args);
    const hub = resolveHubConfig({ hubUrl: args.hubUrl, tokenFile: args.tokenFile });
    // For sweeping the runs a READY version superseded (their objects and open uploads).
    const s3 = s3ClientFromEnv();
    const plan = await planMirror(client, {
      modelId: args.modelId,
      revision: args.revision,
      experiment: args.experiment,
      modelName: args.modelName,
      task: args.task,
      alias: args.alias || undefined,
      hubUrl: hub.hubUrl,
      accessToken: hub.accessToken,
      allowPatterns: parsePatternList(args.allowPatterns),
      ignorePatterns: parsePatternList(args.ignorePatterns),
      waitTimeoutSeconds: args.waitTimeout,
      argoWorkflow: args.argoWorkflow || undefined,
      policy,
      s3,
    }).finally(() => s3.destroy());
    if (plan.reused) {
      // Nothing to transfer: the workflow skips download, upload and register (`when`), and
      // verify checks this version. No run is created, so finalize has nothing to close.
      await writeOutputs(args.outputDir, {
        reused: 'true',
        version: plan.version.version,
        model_uri: plan.model_uri,
        commit_sha: plan.source.commitSha,
        run_id: '',
        artifact_uri: '',
        s3_destination: '',
        experiment_id: '',
      });
      log.info(`Already registered: ${args.modelName} version ${plan.version.version} holds ${plan.source.repo}@${plan.source.commitSha.slice(0, 12)} with the same files; 0 bytes to move`);
      printResult({
        reused: true,
        model_name: args.modelName,
        version: plan.version.version,
        model_uri: plan.model_uri,
        commit_sha: plan.source.commitSha,
        file_set: plan.source.fileSet,
        source: plan.version.source,
        alias: args.alias || undefined,
      });
      return;
    }
    const result = plan.run;
    await writeOutputs(args.outputDir, {
      reused: 'false',
      version: '',
      model_uri: '',
      commit_sha: plan.source.commitSha,
      run_id: result.run_id,
      artifact_uri: result.artifact_uri,
      s3_destination: result.s3_destination,
      experiment_id: result.experiment_id,
    });
    printResult({ reused: false, ...result, commit_sha: plan.source.commitSha, file_set: plan.source.fileSet });
  },
};
