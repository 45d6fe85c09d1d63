import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../common/errors';
import { emit, formatBytes, renderFields, renderTable } from '../../common/table';
import { listVersions, requireRegisteredModel, resolveVersionRef } from '../../registry/lookup';
import { parseModelRef } from '../../registry/model-ref';
import { manifestFiles, readVersionManifest, summarize } from '../../registry/version-details';
import { type ModelsArgs, trackingUriOption, withClients } from './context';

interface ShowArgs extends ModelsArgs {
  ref: string;
}

/** Tags worth a line of their own when present (licence and policy decisions other steps record). */
const NOTABLE = /licen[cs]e|policy|gate|scan/i;

export const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <ref>',
  describe: 'One version: its files (size, sha256), Hub repo and commit, run, S3 location and tags. REF: NAME@ALIAS, NAME/VERSION, or NAME (its newest version)',
  builder: (y) => y
    .positional('ref', { type: 'string', demandOption: true, describe: 'NAME@ALIAS, NAME/VERSION or NAME' })
    .option('tracking-uri', trackingUriOption) as never,
  handler: (args) => withClients(args, async ({ mlflow, s3, mode }) => {
    const ref = parseModelRef(args.ref);
    let version = ref.version;
    if (!ref.alias && !version) {
      await requireRegisteredModel(mlflow, ref.name);
      version = (await listVersions(mlflow, ref.name)).pop()?.version;
      if (!version) throw new UserError(`Registered model '${ref.name}' has no versions`, { exitCode: ExitCode.NotFound });
    }
    const mv = await resolveVersionRef(mlflow, { ...ref, version });
    const manifest = await readVersionManifest(s3, mv);
    const summary = summarize(mv, manifest);
    const files = manifestFiles(manifest);
    emit(mode, { ...summary, files: files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })) }, () => {
      const notable = Object.entries(summary.tags).filter(([k]) => NOTABLE.test(k));
      const fields: [string, string][] = [
        ['Model', `${summary.name}/${summary.version}`],
        ['Status', summary.status],
        ['Aliases', summary.aliases.join(', ') || '-'],
        ['Hub repo', summary.source_repo ?? '-'],
        ['Commit', summary.commit_sha ?? '-'],
        ['Requested', summary.requested_revision ?? '-'],
        ['Run', summary.run_id ?? '-'],
        ['Created', summary.created ?? '-'],
        ['MLflow model', summary.source],
        ['Serving dir', summary.storage_uri ?? '-'],
        ['Size', manifest ? `${formatBytes(manifest.totalBytes)} (${manifest.totalBytes} bytes, ${manifest.fileCount} files)` : 'unknown (no mirror-manifest.json)'],
        ...notable.map(([k, v]) => [k, v] as [string, string]),
      ];
      const tagRows = Object.entries(summary.tags).sort(([a], [b]) => a.localeCompare(b));
      const tableMode = mode === 'table' ? 'table' : 'plain';
      return renderFields(fields)
        + (files.length ? `\nFiles:\n${renderTable(files, [
          { header: 'Path', value: (f) => f.path },
          { header: 'Size', value: (f) => String(f.size), align: 'right' },
          { header: 'sha256', value: (f) => f.sha256 },
        ], tableMode)}` : '')
        + (tagRows.length ? `\nTags:\n${renderTable(tagRows, [{ header: 'Key', value: (t) => t[0] }, { header: 'Value', value: (t) => t[1] }], tableMode)}` : '');
    });
  }),
};
