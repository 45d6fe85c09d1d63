// `model-mirror models …`: day-2 registry operations on what `mirror` produced (REST only: MLflow
// and the S3 artifact store, with the same environment as the steps).
import type { CommandModule } from 'yargs';
import { usageText } from '../common/help-text';
import { cleanupCommand } from './models/cleanup';
import { compareCommand } from './models/compare';
import { deleteCommand } from './models/delete';
import { listCommand } from './models/list';
import { promoteCommand } from './models/promote';
import { resolveCommand } from './models/resolve';
import { showCommand } from './models/show';

export const modelsCommand: CommandModule = {
  command: 'models <command>',
  describe: 'Registry operations on mirrored models: list, show, promote, resolve, compare, cleanup, delete',
  builder: (y) => y
    .usage(usageText(
      '$0 models <command> [options]',
      'Output: a table on a terminal, plain columns otherwise, one JSON object with --json. Exit codes as for the steps: 3 unknown model, version or alias; 8 conflict (an alias moved, a version holds an alias).',
    ))
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    .command([listCommand, showCommand, promoteCommand, resolveCommand, compareCommand, cleanupCommand, deleteCommand] as CommandModule<any, any>[])
    .demandCommand(1, 'Name a models command: see `model-mirror models --help`.'),
  handler: () => undefined,
};
