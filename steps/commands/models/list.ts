import type { CommandModule } from 'yargs';
import { emit, formatBytes, formatTimestamp, renderTable } from '../../common/table';
import { listMirroredModels } from '../../registry/list-models';
import type { VersionSummary } from '../../registry/version-details';
import { type ModelsArgs, trackingUriOption, withClients } from './context';

interface ListArgs extends ModelsArgs {
  filter?: string;
}

type Row = VersionSummary & { model: string };

export const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'Registered models model-mirror mirrored: every version with its aliases, Hub source repo@commit, size and creation date',
  builder: (y) => y
    .option('filter', { type: 'string', describe: 'Only models whose name or Hub repo contains this text (case-insensitive)' })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, s3, mode }) => {
    const models = await listMirroredModels(mlflow, s3, args.filter);
    emit(mode, { models }, () => {
      if (!models.length) return `No mirrored models${args.filter ? ` matching '${args.filter}'` : ''} on ${mlflow.url}.\n`;
      const rows: Row[] = models.flatMap((m) => (m.versions.length ? m.versions : [{ name: m.name, version: '-', status: '', aliases: [], source: '', tags: {} } as VersionSummary]).map((v) => ({ ...v, model: m.name })));
      return renderTable(rows, [
        { header: 'Model', value: (r) => r.model },
        { header: 'Version', value: (r) => r.version, align: 'right' },
        { header: 'Aliases', value: (r) => r.aliases.join(',') },
        { header: 'Source', value: (r) => (r.source_repo ? `${r.source_repo}@${(r.commit_sha ?? '?').slice(0, 12)}` : '') },
        { header: 'Size', value: (r) => (r.total_bytes === undefined ? '' : formatBytes(r.total_bytes)), align: 'right' },
        { header: 'Created', value: (r) => (r.created ? formatTimestamp(Date.parse(r.created)) : '') },
        { header: 'Status', value: (r) => r.status },
      ], mode === 'table' ? 'table' : 'plain');
    });
  }),
};
