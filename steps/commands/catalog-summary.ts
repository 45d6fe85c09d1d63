import type { CommandModule } from 'yargs';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { printResult, writeOutputs } from '../common/outputs';
import { summarizeCatalog } from '../catalog/summary';

interface CatalogSummaryArgs {
  entries: string;
  results: string;
  outputDir?: string;
}

export const catalogSummaryCommand: CommandModule<object, CatalogSummaryArgs> = {
  command: 'catalog-summary',
  describe: 'Summarise a catalog sync (new, unchanged, refused, failed); run by the catalog CronWorkflow',
  builder: (y) => y
    .option('entries', { type: 'string', demandOption: true, describe: 'The catalog entries, JSON [{model_id, revision, ...}]' })
    .option('results', { type: 'string', demandOption: true, describe: "Argo's aggregated outputs of the entries' Workflows, JSON [{model_id, revision, phase, outputs, workflow}]" })
    .option('output-dir', { type: 'string', describe: 'Write new, unchanged, refused, failed (counts) and entries (JSON) here' }) as never,
  handler: async (args) => {
    const summary = summarizeCatalog(args.entries, args.results);
    for (const e of summary.entries) log.info(`catalog entry ${e.model_id}@${e.revision}: ${e.outcome}`, { ...e });
    const c = summary.counts;
    log.info(`catalog sync: ${c.new} new, ${c.unchanged} unchanged, ${c.refused} refused, ${c.failed} failed`, { ...c });
    await writeOutputs(args.outputDir, { ...c, entries: JSON.stringify(summary.entries) });
    printResult({ ...c, entries: summary.entries });
    const bad = c.refused + c.failed;
    if (bad > 0) {
      const names = summary.entries.filter((e) => e.outcome === 'refused' || e.outcome === 'failed').map((e) => `${e.model_id}@${e.revision} (${e.outcome})`);
      throw new UserError(`${bad} of ${summary.entries.length} catalog entries did not mirror: ${names.join(', ')}`, {
        exitCode: ExitCode.Unavailable,
        hint: "See each entry's Workflow (label model-mirror.io/catalog) with argo get / argo logs.",
      });
    }
  },
};
