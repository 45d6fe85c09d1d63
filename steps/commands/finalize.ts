import type { CommandModule } from 'yargs';
import { log } from '../common/log';
import { classifyArgoFailures } from '../common/argo-failures';
import { printResult, writeOutputs } from '../common/outputs';
import { clientFromArgs, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { WORKFLOW_STATUSES, type WorkflowStatus, finalizeRun } from '../mlflow/finalize';

interface FinalizeArgs {
  runId?: string;
  workflowStatus: WorkflowStatus;
  failures?: string;
  modelName?: string;
  trackingUri?: string;
  outputDir?: string;
}

export const finalizeCommand: CommandModule<object, FinalizeArgs> = {
  command: 'finalize',
  describe: 'Close the run (FINISHED/FAILED); on failure record why and delete versions registered from it',
  builder: (y) => y
    .option('run-id', { type: 'string', describe: 'Run from `prepare` (empty: nothing to finalize)' })
    .option('workflow-status', { type: 'string', choices: WORKFLOW_STATUSES as string[], demandOption: true, describe: 'Argo {{workflow.status}}' })
    .option('failures', { type: 'string', describe: 'Argo {{workflow.failures}} JSON (or text), recorded as model_mirror.failure_reason' })
    .option('model-name', { type: 'string', describe: 'Only clean up versions of this registered model' })
    .option('tracking-uri', trackingUriOption)
    .option('output-dir', outputDirOption) as never,
  handler: async (args) => {
    // Whether a retry could help, for whoever reads the workflow's outputs (the catalog's summary
    // counts a permanent failure before any run as "refused", anything else as "failed").
    const failureClass = args.workflowStatus === 'Succeeded' ? 'none' : classifyArgoFailures(args.failures);
    await writeOutputs(args.outputDir, { failure_class: failureClass });
    const runId = (args.runId ?? '').trim();
    if (!runId || runId.startsWith('{{')) {
      // The workflow failed before `prepare` created a run: nothing to close.
      log.warn('No run id: nothing to finalize');
      printResult({ run_id: null, run_status: null, deleted_versions: [] });
      return;
    }
    const client = clientFromArgs(args);
    const result = await finalizeRun(client, {
      runId,
      workflowStatus: args.workflowStatus,
      failures: args.failures,
      modelName: args.modelName || undefined,
    });
    printResult({ ...result });
  },
};
