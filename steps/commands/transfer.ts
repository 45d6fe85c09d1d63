// `model-mirror transfer`: `download` and `upload` of one model overlapped in one process (the
// WorkflowTemplate's transfer step). It leaves what the two steps leave: the files and
// mirror-manifest.json in --dest, the objects and the manifest under --s3-destination, and both
// steps' output parameters, so `register` and `verify` run after it unchanged.
import type { Argv, CommandModule } from 'yargs';
import { usageText } from '../common/help-text';
import { Deadline } from '../common/abort';
import { log } from '../common/log';
import { writeOutputs } from '../common/outputs';
import type { DownloadStats } from '../hub/download-model';
import { FILES_REGISTER_READS } from '../mlflow/register';
import { artifactKeyFor } from '../mlflow/transformers-layout';
import { type PolicyArgs, policyFromArgs, withPolicyOptions } from '../policy/cli-options';
import { MiB } from '../s3/upload-file';
import { DEFAULT_PART_CONCURRENCY } from '../s3/upload-model';
import { type BoundedScratchOptions, StepFailure, transferOverlapped } from '../transfer/overlapped';
import { commitOption, deadlineOption, type HubSourceArgs, hubSourceFromArgs, integerIn, positiveInt, withHubSourceOptions } from './hub-source-options';

export interface TransferArgs extends PolicyArgs, HubSourceArgs {
  'model-id': string;
  revision: string;
  commit?: string;
  dest: string;
  's3-destination': string;
  's3-endpoint'?: string;
  region?: string;
  'part-concurrency': number;
  'part-size-mib'?: number;
  'upload-retries': number;
  layout: 'mlflow-transformers' | 'verbatim';
  'bounded-scratch': boolean;
  deadline?: string;
  'output-dir'?: string;
}

/** `--bounded-scratch` (transfer, mirror). */
export const boundedScratchOption = {
  type: 'boolean',
  default: false,
  describe: 'Delete each file from the work dir once it is in S3 and its sha256 verified, and keep at most --concurrency files on disk: the volume needs room for the largest files in flight, not the whole model. A rerun does not download again what is already complete in S3 (config.json and tokenizer_config.json stay: register reads them)',
} as const;

/** What a bounded scratch keeps on disk: the files `register` reads locally. */
export const scratchForRegister: BoundedScratchOptions = { keep: FILES_REGISTER_READS };

export const transferCommand: CommandModule<object, TransferArgs> = {
  command: 'transfer',
  describe: 'Download a model from the Hub and upload it to S3 at the same time (download + upload in one step)',
  builder: (y: Argv) =>
    withPolicyOptions(withHubSourceOptions(y
      .usage(usageText(
        '$0 transfer --model-id ORG/NAME --dest DIR --s3-destination s3://BUCKET/PREFIX [options]',
        'Does what `download --dest DIR` then `upload --source DIR --dest s3://BUCKET/PREFIX` do, overlapped: each file\'s parts go to S3 as soon as they are on disk and verified, so the model moves at the pace of the slower side. DIR ends with the files and mirror-manifest.json (so `register --source DIR` and `verify --source DIR` work after it), the prefix with every object (x-amz-meta-sha256 on each) and the manifest last. A rerun resumes both sides: `.part` files in DIR and open multipart uploads under the prefix; complete objects are skipped. With --bounded-scratch each file leaves DIR once it is in S3 and verified.',
        'Environment: as `download` (HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH) and `upload` (AWS_* credentials and endpoint, MLFLOW_S3_ENDPOINT_URL), ARGO_PROGRESS_FILE.',
      ))
      .option('model-id', { type: 'string', demandOption: true, describe: 'Hub repo id, `org/name`' })
      .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or 40-hex commit sha; resolved to a commit sha first (unless --commit)' })
      .option('commit', commitOption))
      .option('dest', { type: 'string', demandOption: true, describe: 'Work directory the files are downloaded into (created if missing), as `download --dest`' })
      .option('s3-destination', { type: 'string', alias: 'dest-uri', demandOption: true, describe: 'Destination s3://BUCKET/PREFIX, as `upload --dest` (prepare\'s s3_destination output)' })
      .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint URL [default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, $MLFLOW_S3_ENDPOINT_URL, else AWS S3]' })
      .option('region', { type: 'string', describe: 'Region [default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1]' })
      .option('concurrency', { type: 'number', default: 4, describe: 'Files downloaded in parallel (and, with --bounded-scratch, most files on disk at once); files up to 4 MiB get as many workers again of their own' })
      .option('part-concurrency', { type: 'number', default: DEFAULT_PART_CONCURRENCY, describe: 'Upload parts (and small files) in flight in all' })
      .option('part-size-mib', { type: 'number', describe: 'Multipart part size in MiB [default: max(16, size/9000)]' })
      .option('upload-retries', { type: 'number', default: 3, describe: 'Whole-object retries on S3 5xx/network errors' })
      .option('layout', {
        choices: ['mlflow-transformers', 'verbatim'] as const,
        default: 'mlflow-transformers' as const,
        describe: 'Where files go under the prefix, as `upload --layout`',
      })
      .option('bounded-scratch', boundedScratchOption)
      .option('deadline', deadlineOption('transfer (download and upload)'))
      .option('output-dir', {
        type: 'string',
        describe: 'Write Argo output parameters here: those of download (commit_sha, total_bytes, file_count) and upload (bytes_uploaded, objects_uploaded, objects_skipped), bytes_downloaded (received from the Hub by this run) and transfer_seconds',
      })
      .example('$0 transfer --model-id openai-community/gpt2 --dest /work/model --s3-destination s3://mlflow/artifacts/1/abc/artifacts', 'What the Argo transfer step runs')
      .example('$0 transfer --model-id org/big --dest /scratch/big --s3-destination s3://bucket/big --bounded-scratch', 'A model larger than the scratch volume')) as unknown as Argv<TransferArgs>,
  handler: async (args) => {
    const policy = policyFromArgs(args);
    const source = hubSourceFromArgs(args);
    const uploadRetries = integerIn('upload-retries', args['upload-retries'], 0, 20);
    const partSize = args['part-size-mib'] === undefined ? undefined : integerIn('part-size-mib', args['part-size-mib'], 5, 5120) * MiB;
    const deadline = Deadline.start(args.deadline);
    const stats: { value?: DownloadStats } = {};
    let moved;
    try {
      moved = await transferOverlapped({
        download: {
          modelId: args['model-id'],
          revision: args.revision,
          commitSha: args.commit,
          dest: args.dest,
          ...source,
          policy,
          signal: deadline?.signal,
        },
        upload: {
          source: args.dest,
          dest: args['s3-destination'],
          endpoint: args['s3-endpoint'],
          region: args.region,
          concurrency: source.concurrency,
          partConcurrency: positiveInt('part-concurrency', args['part-concurrency'], 64),
          partSize,
          retry: { retries: uploadRetries },
          keyFor: args.layout === 'verbatim' ? undefined : artifactKeyFor,
        },
        boundedScratch: args['bounded-scratch'] ? scratchForRegister : undefined,
        downloadStats: stats,
      });
    } catch (e) {
      if (!(e instanceof StepFailure)) throw e;
      // The error keeps its own exit code (Argo's retry expression reads it); the log says which side.
      log.error(`transfer failed on the ${e.step} side`);
      throw e.error;
    } finally {
      deadline?.clear();
    }
    await writeOutputs(args['output-dir'], {
      commit_sha: moved.manifest.commitSha,
      total_bytes: moved.manifest.totalBytes,
      file_count: moved.manifest.fileCount,
      bytes_downloaded: stats.value?.bytesTransferred ?? 0,
      bytes_uploaded: moved.upload.bytesUploaded,
      objects_uploaded: moved.upload.objectsUploaded,
      objects_skipped: moved.upload.objectsSkipped,
      transfer_seconds: Number(moved.seconds.toFixed(2)),
    });
  },
};
