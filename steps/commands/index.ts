import type { CommandModule } from 'yargs';
import { catalogSummaryCommand } from './catalog-summary';
import { downloadCommand } from './download';
import { finalizeCommand } from './finalize';
import { mirrorCommand } from './mirror';
import { modelsCommand } from './models';
import { prepareCommand } from './prepare';
import { registerCommand } from './register';
import { transferCommand } from './transfer';
import { uploadCommand } from './upload';
import { verifyCommand } from './verify';

// Order is the order of a mirror: it is also the order `--help` lists them in.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [
  prepareCommand,
  downloadCommand,
  uploadCommand,
  // download + upload overlapped: the template's transfer step.
  transferCommand,
  registerCommand,
  verifyCommand,
  finalizeCommand,
  mirrorCommand,
  // Day 2: registry operations on what the steps above produced.
  modelsCommand,
  // Run by the catalog CronWorkflow.
  catalogSummaryCommand,
];
