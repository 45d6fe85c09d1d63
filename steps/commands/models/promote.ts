import type { CommandModule } from 'yargs';
import { emit } from '../../common/table';
import { promote } from '../../registry/promote';
import { type ModelsArgs, trackingUriOption, withClients } from './context';

interface PromoteArgs extends ModelsArgs {
  name: string;
  version: string;
  alias: string;
  ifCurrent?: string;
}

export const promoteCommand: CommandModule<object, PromoteArgs> = {
  command: 'promote <name> <version>',
  describe: 'Point an alias at a version; prints which version held it before',
  builder: (y) => y
    .version(false)
    .positional('name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .positional('version', { type: 'string', demandOption: true, describe: 'Version number the alias moves to' })
    .option('alias', { type: 'string', demandOption: true, describe: 'Alias to set or move, e.g. production' })
    .option('if-current', { type: 'string', describe: 'Only if the alias is still at this version (\'none\': still unset); otherwise exit 8 and change nothing' })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, mode }) => {
    const result = await promote(mlflow, { name: args.name, version: String(args.version), alias: args.alias, ifCurrent: args.ifCurrent === undefined ? undefined : String(args.ifCurrent) });
    emit(mode, result, () => (result.changed
      ? `${result.model}@${result.alias}: version ${result.previous ?? '(unset)'} -> ${result.version}\n`
      : `${result.model}@${result.alias} is already at version ${result.version}; nothing changed\n`));
  }),
};
