import type { Argv, CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/**
 * A command whose module (and what it imports: the AWS SDK, the MLflow client, …) is loaded only
 * when that command runs or prints its own help. `--help` and `download` then never load the S3
 * client: every module loaded stays in memory for the whole run. `command` and `describe` are
 * repeated here for the top-level `--help`; test/unit/commands-index.test.ts checks that they
 * match the module's own.
 */
function lazyCommand(command: string, describe: string, load: () => AnyCommand): AnyCommand {
  return {
    command,
    describe,
    builder: (y: Argv) => {
      const { builder } = load();
      if (typeof builder === 'function') return builder(y) as Argv;
      return builder ? y.options(builder) : y;
    },
    handler: (args) => load().handler(args),
  };
}

// Order is the order of a mirror: it is also the order `--help` lists them in.
// The require() calls are what keeps each module out of memory until its command runs (esbuild
// bundles them as modules initialised on first require).
/* eslint-disable @typescript-eslint/no-require-imports */
export const commands: AnyCommand[] = [
  lazyCommand('prepare', 'Check the repo and revision on the Hub; reuse the version already registered for this commit and file selection, or adopt the run a failed attempt left (its S3 prefix: only missing bytes are sent again), or create the MLflow run to upload into',
    () => (require('./prepare') as typeof import('./prepare')).prepareCommand),
  lazyCommand('download', 'Download a model revision from the HuggingFace Hub, verify every file, write mirror-manifest.json',
    () => (require('./download') as typeof import('./download')).downloadCommand),
  lazyCommand('upload', 'Upload a downloaded model (with its manifest) to S3, skipping objects already there',
    () => (require('./upload') as typeof import('./upload')).uploadCommand),
  // download + upload overlapped: the template's transfer step.
  lazyCommand('transfer', 'Download a model from the Hub and upload it to S3 at the same time (download + upload in one step)',
    () => (require('./transfer') as typeof import('./transfer')).transferCommand),
  lazyCommand('register', 'Write the MLmodel next to the uploaded files and register a model version (idempotent per commit)',
    () => (require('./register') as typeof import('./register')).registerCommand),
  lazyCommand('verify', 'Check via MLflow that the version is READY and every mirrored file is in the run\'s artifacts with its size',
    () => (require('./verify') as typeof import('./verify')).verifyCommand),
  lazyCommand('finalize', 'Close the run (FINISHED/FAILED); on failure record why and delete versions registered from it',
    () => (require('./finalize') as typeof import('./finalize')).finalizeCommand),
  lazyCommand('mirror <model-id>', 'Mirror one model end to end: prepare, download, upload, register, verify, finalize',
    () => (require('./mirror') as typeof import('./mirror')).mirrorCommand),
  // Day 2: registry operations on what the steps above produced.
  lazyCommand('models <command>', 'Registry operations on mirrored models: list, show, promote, resolve, compare, cleanup, delete',
    () => (require('./models') as typeof import('./models')).modelsCommand),
  // Run by the catalog CronWorkflow.
  lazyCommand('catalog-summary', 'Summarise a catalog sync (new, unchanged, refused, failed); run by the catalog CronWorkflow',
    () => (require('./catalog-summary') as typeof import('./catalog-summary')).catalogSummaryCommand),
];
/* eslint-enable @typescript-eslint/no-require-imports */
