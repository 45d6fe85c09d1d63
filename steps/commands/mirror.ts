// `model-mirror mirror <model-id>`: prepare -> download -> upload -> register -> verify -> finalize
// in one process (for people, and for a single-pod job). Any failure after `prepare` finalizes
// the run as FAILED (removing a version it registered) before the error is reported.
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { CommandModule } from 'yargs';
import { isUserError } from '../common/errors';
import { log } from '../common/log';
import { printResult, writeOutputs } from '../common/outputs';
import { downloadModel } from '../hub/download-model';
import { resolveHubConfig } from '../hub/hub-config';
import { parsePatternList } from '../hub/patterns';
import { s3ClientFromEnv } from '../mlflow/artifacts';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { finalizeRun } from '../mlflow/finalize';
import { prepareRun } from '../mlflow/prepare';
import { registerModel } from '../mlflow/register';
import { artifactKeyFor } from '../mlflow/transformers-layout';
import { verifyRegistration } from '../mlflow/verify';
import { type UploadModelOptions, uploadModel } from '../s3/upload-model';

interface MirrorArgs {
  modelId: string;
  revision: string;
  experiment: string;
  modelName?: string;
  task?: string;
  alias?: string;
  workDir?: string;
  keepWorkDir: boolean;
  allowPatterns?: string[];
  ignorePatterns?: string[];
  hubUrl?: string;
  tokenFile?: string;
  concurrency: number;
  waitTimeout: number;
  pythonVersion: string;
  outputDir?: string;
  trackingUri?: string;
}

/** Default registered model name for a Hub id: `org/name` -> `org--name` (MLflow names cannot hold '/'). */
export function defaultModelName(repo: string): string {
  return repo.replace(/\//g, '--');
}

export const mirrorCommand: CommandModule<object, MirrorArgs> = {
  command: 'mirror <model-id>',
  describe: 'Mirror one model end to end: prepare, download, upload, register, verify, finalize',
  builder: (y) => y
    .positional('model-id', { type: 'string', demandOption: true, describe: 'Hub model id, org/name' })
    .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or commit sha' })
    .option('experiment', { type: 'string', default: 'model-mirror', describe: 'MLflow experiment name' })
    .option('model-name', { type: 'string', describe: 'Registered model name [default: org--name]' })
    .option('task', { type: 'string', describe: 'transformers pipeline task [default: the Hub\'s pipeline_tag]' })
    .option('alias', { type: 'string', describe: 'Point this alias at the new version' })
    .option('work-dir', { type: 'string', describe: 'Download directory [default: <tmp>/model-mirror/<org--name>]' })
    .option('keep-work-dir', { type: 'boolean', default: false, describe: 'Keep the downloaded files afterwards' })
    .option('allow-patterns', { type: 'string', array: true, describe: 'Only files matching these globs (comma-separated, repeatable)' })
    .option('ignore-patterns', { type: 'string', array: true, describe: 'Skip files matching these globs' })
    .option('hub-url', { type: 'string', describe: 'Hub base URL [default: $HF_ENDPOINT, else https://huggingface.co]' })
    .option('token-file', { type: 'string', describe: 'File holding a Hub token [default: $HF_TOKEN / $HF_TOKEN_PATH]' })
    .option('concurrency', { type: 'number', default: 4, describe: 'Files transferred in parallel' })
    .option('wait-timeout', { type: 'number', default: 300, describe: 'Seconds to wait for the version to become READY' })
    .option('python-version', { type: 'string', default: '3.11', describe: 'Python version recorded in the MLmodel/env files' })
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption) as never,
  handler: async (args) => {
    const modelName = args.modelName || defaultModelName(args.modelId);
    const client = clientFromArgs(args);
    const hub = resolveHubConfig({ hubUrl: args.hubUrl, tokenFile: args.tokenFile });

    const prep = await prepareRun(client, {
      modelId: args.modelId,
      revision: args.revision,
      experiment: args.experiment,
      modelName,
      task: args.task,
      hubUrl: hub.hubUrl,
    });
    const workDir = path.resolve(args.workDir ?? path.join(os.tmpdir(), 'model-mirror', defaultModelName(args.modelId)));
    const s3 = s3ClientFromEnv();
    let step = 'download';
    try {
      const manifest = await downloadModel({
        modelId: args.modelId,
        revision: args.revision,
        dest: workDir,
        hubUrl: hub.hubUrl,
        accessToken: hub.accessToken,
        allowPatterns: parsePatternList(args.allowPatterns),
        ignorePatterns: parsePatternList(args.ignorePatterns),
        concurrency: args.concurrency,
      });

      step = 'upload';
      // Files go where mlflow.transformers expects them (see transformers-layout.ts).
      const uploadOpts: UploadModelOptions = {
        source: workDir,
        dest: prep.s3_destination,
        client: s3,
        concurrency: args.concurrency,
        keyFor: artifactKeyFor,
      };
      await uploadModel(uploadOpts);

      step = 'register';
      const reg = await registerModel(client, {
        sourceDir: workDir,
        manifest,
        runId: prep.run_id,
        modelName,
        task: args.task,
        alias: args.alias,
        waitTimeoutSeconds: args.waitTimeout,
        pythonVersion: args.pythonVersion,
        s3,
      });

      step = 'verify';
      const ver = await verifyRegistration(client, { manifest, runId: prep.run_id, modelName, version: reg.version });

      step = 'finalize';
      await finalizeRun(client, { runId: prep.run_id, workflowStatus: 'Succeeded', modelName });
      if (!args.keepWorkDir && !args.workDir) await fs.rm(workDir, { recursive: true, force: true });
      const result = {
        ...prep,
        commit_sha: manifest.commitSha,
        version: reg.version,
        model_uri: reg.model_uri,
        model_id: reg.model_id,
        reused: reg.reused,
        files_checked: ver.files_checked,
      };
      await writeOutputs(args.outputDir, {
        run_id: prep.run_id,
        artifact_uri: prep.artifact_uri,
        experiment_id: prep.experiment_id,
        version: reg.version,
        model_uri: reg.model_uri,
      });
      printResult(result);
    } catch (e) {
      const reason = `${step}: ${isUserError(e) ? e.message : (e as Error)?.message ?? String(e)}`;
      log.error(`mirror failed at ${step}; marking run ${prep.run_id} FAILED`);
      await finalizeRun(client, { runId: prep.run_id, workflowStatus: 'Failed', failures: reason, modelName })
        .catch((fe) => log.warn('finalize after failure also failed', { error: (fe as Error).message }));
      throw e;
    } finally {
      s3.destroy();
    }
  },
};
