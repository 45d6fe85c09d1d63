import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../common/errors';
import { log, registerSecret } from '../../common/log';
import { toYaml } from '../../mlflow/mlmodel';
import { resolveS3Config } from '../../s3/client';
import { CREDENTIAL_PLACEHOLDER, kserveManifests } from '../../registry/kserve';
import { resolveVersionRef } from '../../registry/lookup';
import { parseVersionRef } from '../../registry/model-ref';
import { summarize } from '../../registry/version-details';
import { type ModelsArgs, trackingUriOption, withClients } from './context';

const FORMATS = ['uri', 'env', 'kserve'] as const;
type Format = (typeof FORMATS)[number];

interface ResolveArgs extends ModelsArgs {
  ref: string;
  format: Format;
  name?: string;
  namespace?: string;
  serviceAccount?: string;
  secretName?: string;
  withCredentials?: boolean;
}

/** POSIX shell single-quoting, so `eval "$(model-mirror models resolve … --format env)"` is safe. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export const resolveCommand: CommandModule<object, ResolveArgs> = {
  command: 'resolve <ref>',
  describe: 'The S3 URI of a version\'s serving-ready directory (the complete Hub snapshot: config, weights, tokenizer), for KServe, vLLM or from_pretrained',
  builder: (y) => y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME@ALIAS or NAME/VERSION' })
    .option('format', { choices: FORMATS, default: 'uri' as Format, describe: 'uri: the s3:// URI; env: MODEL_* shell variables; kserve: a Secret, ServiceAccount and InferenceService (huggingface runtime) as YAML' })
    .option('name', { type: 'string', describe: 'kserve: InferenceService name [default: <model>-v<version>, as a DNS label]' })
    .option('namespace', { type: 'string', describe: 'kserve: namespace for the three objects [default: none, kubectl\'s current]' })
    .option('service-account', { type: 'string', describe: 'kserve: ServiceAccount name [default: <name>-s3]' })
    .option('secret-name', { type: 'string', describe: 'kserve: Secret with the S3 credentials [default: <name>-s3]' })
    .option('with-credentials', { type: 'boolean', default: false, describe: `kserve: put AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from this environment into the Secret (the output then holds a secret; without it the keys are ${CREDENTIAL_PLACEHOLDER})` })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, mode }) => {
    const ref = parseVersionRef(args.ref);
    const mv = await resolveVersionRef(mlflow, ref);
    const summary = summarize(mv);
    if (!summary.storage_uri) {
      throw new UserError(`${mv.name}/${mv.version} is stored at ${mv.source}, not in S3`, { exitCode: ExitCode.Usage, hint: 'Only versions whose source is an s3:// location can be resolved.' });
    }
    if (mv.status !== 'READY') {
      throw new UserError(`${mv.name}/${mv.version} is ${mv.status}, not READY`, { exitCode: ExitCode.Conflict, hint: 'Resolve a READY version (its files are complete).' });
    }
    const result = {
      model: mv.name,
      version: mv.version,
      alias: ref.alias,
      storage_uri: summary.storage_uri,
      source_repo: summary.source_repo,
      commit_sha: summary.commit_sha,
    };
    if (args.format === 'kserve') {
      let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
      if (args.withCredentials) {
        const accessKeyId = process.env.AWS_ACCESS_KEY_ID ?? '';
        const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY ?? '';
        if (!accessKeyId || !secretAccessKey) throw new UserError('--with-credentials needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment', { exitCode: ExitCode.Usage });
        registerSecret(secretAccessKey);
        credentials = { accessKeyId, secretAccessKey };
      } else {
        log.info(`The Secret's keys are ${CREDENTIAL_PLACEHOLDER}: fill them in, or pass --with-credentials`);
      }
      const docs = kserveManifests({
        storageUri: summary.storage_uri,
        modelName: mv.name,
        version: mv.version,
        name: args.name,
        namespace: args.namespace,
        serviceAccount: args.serviceAccount,
        secretName: args.secretName,
        s3: resolveS3Config(),
        credentials,
      });
      process.stdout.write(mode === 'json' ? JSON.stringify({ ...result, manifests: docs }) + '\n' : docs.map((d) => `---\n${toYaml(d)}`).join(''));
      return;
    }
    if (mode === 'json') {
      process.stdout.write(JSON.stringify(result) + '\n');
    } else if (args.format === 'env') {
      const vars: [string, string | undefined][] = [
        ['MODEL_NAME', result.model], ['MODEL_VERSION', result.version], ['MODEL_STORAGE_URI', result.storage_uri],
        ['MODEL_SOURCE_REPO', result.source_repo], ['MODEL_COMMIT_SHA', result.commit_sha],
      ];
      process.stdout.write(vars.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${shellQuote(v!)}\n`).join(''));
    } else {
      process.stdout.write(`${result.storage_uri}\n`);
    }
  }),
};
