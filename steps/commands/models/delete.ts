import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../common/errors';
import { emit } from '../../common/table';
import { resolveVersionRef } from '../../registry/lookup';
import { parseModelRef } from '../../registry/model-ref';
import { executeRemoval, planDeleteVersion } from '../../registry/remove-versions';
import { type ModelsArgs, trackingUriOption, withClients } from './context';
import { describePlan, describeResult } from './removal-output';

interface DeleteArgs extends ModelsArgs {
  ref: string;
  yes?: boolean;
}

export const deleteCommand: CommandModule<object, DeleteArgs> = {
  command: 'delete <ref>',
  describe: 'Delete one version and then its S3 objects (never a version holding an alias; objects another version uses stay). Prints what would go unless --yes',
  builder: (y) => y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME/VERSION' })
    .option('yes', { type: 'boolean', default: false, describe: 'Act (default: dry run, nothing changes)' })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, s3, mode }) => {
    const ref = parseModelRef(args.ref);
    if (!ref.version) throw new UserError(`'${args.ref}': name the version by number (NAME/VERSION)`, { exitCode: ExitCode.Usage, hint: 'An alias is never deleted with its version; see `model-mirror models show NAME@ALIAS` for its number.' });
    const mv = await resolveVersionRef(mlflow, ref);
    const plan = await planDeleteVersion(mlflow, s3, ref.name, mv);
    const tableMode = mode === 'table' ? 'table' : 'plain';
    if (!args.yes) {
      emit(mode, { dry_run: true, ...plan }, () => describePlan(plan, tableMode));
      return;
    }
    const result = await executeRemoval(mlflow, s3, plan);
    emit(mode, { dry_run: false, model: plan.model, ...result }, () => describeResult(plan.model, result, tableMode));
  }),
};
