// `model-mirror upload`: copy a downloaded model (files + mirror-manifest.json) to S3.
import type { Argv, CommandModule } from 'yargs';
import { usageText } from '../common/help-text';
import { ExitCode, UserError } from '../common/errors';
import { MiB } from '../s3/upload-file';
import { DEFAULT_FILE_CONCURRENCY, DEFAULT_PART_CONCURRENCY, uploadModel } from '../s3/upload-model';
import { writeOutputs } from '../common/outputs';
import { artifactKeyFor } from '../mlflow/transformers-layout';
import { positiveInt } from './hub-source-options';

export interface UploadArgs {
  source: string;
  dest: string;
  's3-endpoint'?: string;
  region?: string;
  concurrency: number;
  'part-concurrency': number;
  'part-size-mib'?: number;
  retries: number;
  force: boolean;
  layout: 'mlflow-transformers' | 'verbatim';
  'output-dir'?: string;
}

export const uploadCommand: CommandModule<object, UploadArgs> = {
  command: 'upload',
  describe: 'Upload a downloaded model (with its manifest) to S3, skipping objects already there',
  builder: (y: Argv) =>
    y
      .usage(usageText(
        '$0 upload --source DIR --dest s3://BUCKET/PREFIX [options]',
        'Uploads every file listed in DIR/mirror-manifest.json under PREFIX, streaming from disk (layout mlflow-transformers: every file under model/, a complete Hub snapshot that serving runtimes can read as one directory; `register` then copies the tokenizer files server-side to components/tokenizer/ for mlflow.transformers; layout verbatim: PREFIX/<path>). Big files go multipart. Every object carries x-amz-meta-sha256 (and the source repo/commit); the manifest is uploaded last. Objects whose size and sha256 metadata already match are skipped, so a rerun after a failure moves only what is missing. Parts are streamed from disk, never buffered. An interrupted multipart upload is left open and resumed by the next run (parts whose size and MD5 match the local bytes are reused); it is aborted only on permanent failures (file changed, S3 refused). No partial object is ever visible under its final key.',
        'Environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or any SDK credential source), AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / MLFLOW_S3_ENDPOINT_URL (endpoint), AWS_REGION, ARGO_PROGRESS_FILE (progress for the Argo UI, written as N/M bytes).',
      ))
      .option('source', { type: 'string', demandOption: true, describe: 'Directory written by `model-mirror download` (holds mirror-manifest.json)' })
      .option('dest', { type: 'string', demandOption: true, describe: 'Destination s3://BUCKET/PREFIX (e.g. under MLflow\'s artifact root)' })
      .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint URL; enables path-style addressing [default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, $MLFLOW_S3_ENDPOINT_URL, else AWS S3]' })
      .option('region', { type: 'string', describe: 'Region [default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1]' })
      .option('concurrency', { type: 'number', default: DEFAULT_FILE_CONCURRENCY, describe: 'Files uploaded in parallel; files up to 4 MiB get as many workers again of their own (all share --part-concurrency)' })
      .option('part-concurrency', { type: 'number', default: DEFAULT_PART_CONCURRENCY, describe: 'Parts (and small files) in flight in all, shared by the files being uploaded; memory does not grow with the part size' })
      .option('part-size-mib', { type: 'number', describe: 'Multipart part size in MiB [default: max(16, size/9000) so files up to 5 TiB fit in 10,000 parts]' })
      .option('retries', { type: 'number', default: 3, describe: 'Whole-object retries on 5xx/network errors (on top of the SDK\'s per-request retries)' })
      .option('layout', {
        choices: ['mlflow-transformers', 'verbatim'] as const,
        default: 'mlflow-transformers' as const,
        describe: 'Where files go under --dest: the MLflow transformers model layout, or the Hub paths as they are',
      })
      .option('force', { type: 'boolean', default: false, describe: 'Upload even objects that already match' })
      .option('output-dir', { type: 'string', describe: 'Write Argo output parameters here: bytes_uploaded (sent by this run; resumed parts not counted), objects_uploaded, objects_skipped' })
      .example('$0 upload --source /data/gpt2 --dest s3://mlflow/artifacts/mirror/gpt2/abc123 --s3-endpoint http://seaweedfs-s3:8333', 'To SeaweedFS')
      .example('AWS_REGION=eu-west-1 $0 upload --source /data/gpt2 --dest s3://my-bucket/models/gpt2', 'To AWS S3 with the default credential chain') as unknown as Argv<UploadArgs>,
  handler: async (args) => {
    const retries = Number(args.retries);
    if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
      throw new UserError(`--retries must be an integer between 0 and 20 (got ${args.retries})`, { exitCode: ExitCode.Usage });
    }
    let partSize: number | undefined;
    if (args['part-size-mib'] !== undefined) {
      const mib = Number(args['part-size-mib']);
      if (!Number.isInteger(mib) || mib < 5 || mib > 5120) {
        throw new UserError(`--part-size-mib must be an integer between 5 and 5120 (got ${args['part-size-mib']})`, { exitCode: ExitCode.Usage });
      }
      partSize = mib * MiB;
    }
    const result = await uploadModel({
      source: args.source,
      dest: args.dest,
      endpoint: args['s3-endpoint'],
      region: args.region,
      concurrency: positiveInt('concurrency', args.concurrency),
      partConcurrency: positiveInt('part-concurrency', args['part-concurrency'], 64),
      partSize,
      retry: { retries },
      force: args.force,
      keyFor: args.layout === 'verbatim' ? undefined : artifactKeyFor,
    });
    await writeOutputs(args['output-dir'], {
      bytes_uploaded: result.bytesUploaded,
      objects_uploaded: result.objectsUploaded,
      objects_skipped: result.objectsSkipped,
    });
  },
};
