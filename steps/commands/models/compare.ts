import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../common/errors';
import { emit, formatBytes, renderFields, renderTable } from '../../common/table';
import { compareManifests } from '../../registry/compare';
import { resolveVersionRef } from '../../registry/lookup';
import { parseModelRef } from '../../registry/model-ref';
import { readVersionManifest, summarize } from '../../registry/version-details';
import { type ModelsArgs, trackingUriOption, withClients } from './context';

interface CompareArgs extends ModelsArgs {
  name: string;
  v1: string;
  v2: string;
}

/** `3` or `production` (an alias) for a version of `name`. */
function versionOf(name: string, text: string) {
  const t = String(text).trim();
  return /^\d+$/.test(t) ? { name, version: t } : parseModelRef(`${name}@${t}`);
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <name> <v1> <v2>',
  describe: 'Differences between two versions: Hub commits, files added, removed or changed (by sha256), size delta. V1/V2: version numbers or aliases',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true, describe: 'Registered model name' })
    .positional('v1', { type: 'string', demandOption: true, describe: 'The older version (number or alias)' })
    .positional('v2', { type: 'string', demandOption: true, describe: 'The newer version (number or alias)' })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, s3, mode }) => {
    const [a, b] = [await resolveVersionRef(mlflow, versionOf(args.name, args.v1)), await resolveVersionRef(mlflow, versionOf(args.name, args.v2))];
    const [ma, mb] = [await readVersionManifest(s3, a), await readVersionManifest(s3, b)];
    for (const [mv, m] of [[a, ma], [b, mb]] as const) {
      if (!m) throw new UserError(`${args.name}/${mv.version} has no mirror-manifest.json next to its files (${mv.source})`, { exitCode: ExitCode.NotFound, hint: 'Only versions model-mirror mirrored can be compared.' });
    }
    const cmp = compareManifests(args.name, summarize(a, ma), ma!, summarize(b, mb), mb!);
    emit(mode, cmp, () => {
      const tableMode = mode === 'table' ? 'table' : 'plain';
      const rows = [
        ...cmp.added.map((f) => ({ change: 'added', path: f.path, before: '', after: String(f.size_after) })),
        ...cmp.removed.map((f) => ({ change: 'removed', path: f.path, before: String(f.size_before), after: '' })),
        ...cmp.changed.map((f) => ({ change: 'changed', path: f.path, before: String(f.size_before), after: String(f.size_after) })),
      ];
      const sign = cmp.size_delta > 0 ? '+' : '';
      return renderFields([
        ['Model', cmp.model],
        ['From', `version ${cmp.from.version}: ${cmp.from.source_repo}@${cmp.from.commit_sha}`],
        ['To', `version ${cmp.to.version}: ${cmp.to.source_repo}@${cmp.to.commit_sha}`],
        ['Files', `${cmp.added.length} added, ${cmp.removed.length} removed, ${cmp.changed.length} changed, ${cmp.unchanged} unchanged`],
        ['Size', `${formatBytes(cmp.from.total_bytes)} -> ${formatBytes(cmp.to.total_bytes)} (${sign}${cmp.size_delta} bytes)`],
      ]) + (rows.length ? '\n' + renderTable(rows, [
        { header: 'Change', value: (r) => r.change },
        { header: 'Path', value: (r) => r.path },
        { header: 'Bytes before', value: (r) => r.before, align: 'right' },
        { header: 'Bytes after', value: (r) => r.after, align: 'right' },
      ], tableMode) : '');
    });
  }),
};
