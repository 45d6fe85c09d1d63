import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../common/errors';
import { emit, formatBytes, renderTable } from '../../common/table';
import { deleteOrphans, planOrphans } from '../../registry/orphans';
import { executeRemoval, planKeepNewest } from '../../registry/remove-versions';
import { type ModelsArgs, trackingUriOption, withClients } from './context';
import { describePlan, describeResult } from './removal-output';

interface CleanupArgs extends ModelsArgs {
  name: string;
  keep?: number;
  orphans?: boolean;
  yes?: boolean;
}

export const cleanupCommand: CommandModule<object, CleanupArgs> = {
  command: 'cleanup <name>',
  describe: 'Remove old versions and their S3 objects (--keep N), or S3 prefixes of this tool\'s runs no version uses (--orphans). Prints what would go unless --yes',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .option('keep', { type: 'number', describe: 'Keep the N newest versions; older ones go, oldest first, except those holding an alias' })
    .option('orphans', { type: 'boolean', default: false, describe: 'Delete artifact prefixes of the model\'s finished or failed runs that no version points into (never a RUNNING run\'s)' })
    .option('yes', { type: 'boolean', default: false, describe: 'Act (default: dry run, nothing changes)' })
    .check((a) => {
      if ((a.keep === undefined) === !a.orphans) throw new UserError('Pass exactly one of --keep N or --orphans', { exitCode: ExitCode.Usage });
      return true;
    })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, s3, mode }) => {
    const tableMode = mode === 'table' ? 'table' : 'plain';
    if (args.orphans) {
      const plan = await planOrphans(mlflow, s3, args.name);
      const orphanTable = () => renderTable(plan.orphans, [
        { header: 'Prefix', value: (o) => o.prefix },
        { header: 'Run', value: (o) => `${o.run_id} (${o.run_status})` },
        { header: 'Objects', value: (o) => String(o.objects), align: 'right' },
        { header: 'Bytes', value: (o) => String(o.bytes), align: 'right' },
      ], tableMode);
      if (!args.yes) {
        emit(mode, { dry_run: true, ...plan }, () => (plan.orphans.length
          ? `Dry run: would delete ${plan.orphans.length} orphaned prefixes, ${plan.objects} objects, ${plan.bytes} bytes (${formatBytes(plan.bytes)}). Pass --yes to delete.\n${orphanTable()}`
          : `No orphaned prefixes for '${args.name}'.\n`) + plan.skipped.map((s) => `skipped run ${s.run_id}: ${s.reason}\n`).join(''));
        return;
      }
      const done = await deleteOrphans(mlflow, s3, plan);
      emit(mode, { dry_run: false, model: args.name, ...done, skipped: plan.skipped }, () => `Deleted ${done.deleted.length} orphaned prefixes, ${done.bytes_deleted} bytes (${formatBytes(done.bytes_deleted)}).\n`
        + done.kept.map((p) => `kept ${p}: a version points there now\n`).join(''));
      return;
    }
    const plan = await planKeepNewest(mlflow, s3, args.name, Number(args.keep));
    if (!args.yes) {
      emit(mode, { dry_run: true, ...plan }, () => describePlan(plan, tableMode));
      return;
    }
    const result = await executeRemoval(mlflow, s3, plan);
    emit(mode, { dry_run: false, model: plan.model, ...result }, () => describeResult(plan.model, result, tableMode));
  }),
};
