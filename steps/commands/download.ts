// `model-mirror download`: fetch one model revision from the Hub into a directory, verified,
// with mirror-manifest.json next to the files.
import type { Argv, CommandModule } from 'yargs';
import { usageText } from '../common/help-text';
import { Deadline } from '../common/abort';
import { writeOutputs } from '../common/outputs';
import { downloadModel } from '../hub/download-model';
import { type PolicyArgs, policyFromArgs, withPolicyOptions } from '../policy/cli-options';
import { commitOption, deadlineOption, type HubSourceArgs, hubSourceFromArgs, withHubSourceOptions } from './hub-source-options';

export interface DownloadArgs extends PolicyArgs, HubSourceArgs {
  'model-id': string;
  revision: string;
  commit?: string;
  dest: string;
  deadline?: string;
  'output-dir'?: string;
}

export const downloadCommand: CommandModule<object, DownloadArgs> = {
  command: 'download',
  describe: 'Download a model revision from the HuggingFace Hub, verify every file, write mirror-manifest.json',
  builder: (y: Argv) =>
    withPolicyOptions(withHubSourceOptions(y
      .usage(usageText(
        '$0 download --model-id ORG/NAME --dest DIR [options]',
        'Resolves --revision to its commit sha, lists the files once, downloads them in parallel to DIR (resuming partial `.part` files with HTTP Range), verifies size + sha256 / git blob sha1 against the Hub, and writes DIR/mirror-manifest.json. Rerunning is cheap: complete files are verified and kept.',
        'Environment: HF_ENDPOINT (Hub URL), HF_TOKEN (token), HF_TOKEN_PATH (file holding the token), ARGO_PROGRESS_FILE (progress for the Argo UI, written as N/M bytes).',
      ))
      .option('model-id', { type: 'string', demandOption: true, describe: 'Hub repo id, `org/name` (legacy single names like `gpt2` also work)' })
      .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or 40-hex commit sha; resolved to a commit sha first (unless --commit)' })
      .option('commit', commitOption))
      .option('dest', { type: 'string', demandOption: true, describe: 'Directory to download into (created if missing)' })
      .option('concurrency', { type: 'number', default: 4, describe: 'Files downloaded in parallel; files up to 4 MiB get as many workers again of their own (they wait on round trips, not on the link)' })
      .option('deadline', deadlineOption('download'))
      .option('output-dir', { type: 'string', describe: 'Write Argo output parameters here: commit_sha, total_bytes, file_count' })
      .example('$0 download --model-id openai-community/gpt2 --dest /data/gpt2', 'Whole repo at main')
      .example('$0 download --model-id meta-llama/Llama-3.2-1B --revision v1.0 --token-file /secrets/hf/token --dest /data/llama', 'Gated repo with a mounted token')
      .example("$0 download --model-id org/name --allow-patterns '*.safetensors,*.json' --ignore-patterns 'original/' --dest /data/m", 'Only safetensors + json, not the original/ folder')) as unknown as Argv<DownloadArgs>,
  handler: async (args) => {
    const policy = policyFromArgs(args);
    const source = hubSourceFromArgs(args);
    const deadline = Deadline.start(args.deadline);
    const manifest = await downloadModel({
      modelId: args['model-id'],
      revision: args.revision,
      commitSha: args.commit,
      dest: args.dest,
      ...source,
      policy,
      signal: deadline?.signal,
    }).finally(() => deadline?.clear());
    await writeOutputs(args['output-dir'], {
      commit_sha: manifest.commitSha,
      total_bytes: manifest.totalBytes,
      file_count: manifest.fileCount,
    });
  },
};
