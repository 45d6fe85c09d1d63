import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { MANIFEST_FILE, type Manifest, readManifest } from '../common/manifest';
import { printResult, writeOutputs } from '../common/outputs';
import { getS3Text, joinUri, s3ClientFromEnv } from '../mlflow/artifacts';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { getModelVersion } from '../mlflow/registry';
import { UPLOADED_MANIFEST } from '../mlflow/transformers-layout';
import { verifyRegistration } from '../mlflow/verify';

interface VerifyArgs {
  source?: string;
  runId?: string;
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
    .option('source', { type: 'string', describe: 'Download dir holding mirror-manifest.json [default or empty: the manifest the version\'s upload stored next to its files]' })
    .option('run-id', { type: 'string', describe: 'Run from `prepare` [default or empty: the version\'s own run, e.g. when prepare reused an existing version]' })
    .option('model-name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .option('version', { type: 'string', demandOption: true, alias: 'model-version', describe: 'Model version from `register` (or from `prepare` when it reused one)' })
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption) as never,
  handler: async (args) => {
    const client = clientFromArgs(args);
    const version = String(args.version ?? '').trim();
    if (!version || version.startsWith('{{')) throw new UserError('--version is empty', { exitCode: ExitCode.Usage });
    let manifest: Manifest;
    const source = (args.source ?? '').trim();
    if (source && existsSync(path.join(source, MANIFEST_FILE))) {
      manifest = await readManifest(source);
    } else {
      // No download in this workflow (prepare found the version): check the version against the
      // manifest its upload stored next to its files.
      const mv = await getModelVersion(client, args.modelName, version);
      const uri = joinUri(mv.source, UPLOADED_MANIFEST);
      const s3 = s3ClientFromEnv();
      try {
        manifest = JSON.parse(await getS3Text(s3, uri)) as Manifest;
      } catch (e) {
        if (e instanceof SyntaxError) throw new UserError(`${uri} is not valid JSON`, { exitCode: ExitCode.Integrity });
        throw e;
      } finally {
        s3.destroy();
      }
      log.info(`Verifying against the manifest stored with the version (${uri})`, { files: manifest.fileCount });
    }
    const runId = (args.runId ?? '').trim();
    const result = await verifyRegistration(client, {
      manifest,
      runId: runId && !runId.startsWith('{{') ? runId : undefined,
      modelName: args.modelName,
      version,
    });
    await writeOutputs(args.outputDir, { verified: 'true', files_checked: result.files_checked });
    printResult({ ...result });
  },
};
