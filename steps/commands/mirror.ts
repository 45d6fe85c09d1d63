// `model-mirror mirror <model-id>`: prepare -> download -> upload -> register -> verify -> finalize
// in one process (for people, and for a single-pod job). Any failure after `prepare` finalizes
// the run as FAILED (removing a version it registered) before the error is reported.
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CommandModule } from 'yargs';
import { ExitCode, isUserError, UserError } from '../common/errors';
import { log } from '../common/log';
import { printResult, writeOutputs } from '../common/outputs';
import type { Manifest } from '../common/manifest';
import { Deadline } from '../common/abort';
import { downloadModel, type DownloadModelOptions } from '../hub/download-model';
import { deadlineOption, type HubSourceArgs, hubSourceFromArgs, withHubSourceOptions } from './hub-source-options';
import { s3ClientFromEnv } from '../mlflow/artifacts';
import { MlflowApiError, type MlflowClient } from '../mlflow/client';
import { getRun, runTags } from '../mlflow/runs';
import { TAG } from '../mlflow/tags';
import { clientFromArgs, loggedModelOption, outputDirOption, trackingUriOption } from '../mlflow/cli-options';
import { finalizeRun } from '../mlflow/finalize';
import { planMirror } from '../mlflow/plan';
import type { PrepareResult } from '../mlflow/prepare';
import { LeaseKeeper } from '../mlflow/run-lease';
import { type LoggedModelMode, registerModel } from '../mlflow/register';
import { artifactKeyFor } from '../mlflow/transformers-layout';
import { verifyRegistration } from '../mlflow/verify';
import { type UploadModelOptions, type UploadResult, uploadModel } from '../s3/upload-model';
import { StepFailure, transferOverlapped } from '../transfer/overlapped';
import { boundedScratchOption, scratchForRegister } from './transfer';
import { type PolicyArgs, policyFromArgs, withPolicyOptions } from '../policy/cli-options';

interface MirrorArgs extends PolicyArgs, HubSourceArgs {
  modelId: string;
  revision: string;
  experiment: string;
  modelName?: string;
  task?: string;
  alias?: string;
  workDir?: string;
  keepWorkDir: boolean;
  waitTimeout: number;
  pythonVersion: string;
  loggedModel: LoggedModelMode;
  outputDir?: string;
  trackingUri?: string;
  overlap: boolean;
  boundedScratch: boolean;
  deadline?: string;
}

/** Default registered model name for a Hub id: `org/name` -> `org--name` (MLflow names cannot hold '/'). */
export function defaultModelName(repo: string): string {
  return repo.replace(/\//g, '--');
}

/** In the work dir: the run this mirror writes into, until it finalizes. */
const RUN_STATE_FILE = '.model-mirror-run.json';

async function readRunState(workDir: string): Promise<string | undefined> {
  try {
    const state = JSON.parse(await fs.readFile(path.join(workDir, RUN_STATE_FILE), 'utf8')) as { runId?: unknown };
    return typeof state.runId === 'string' ? state.runId : undefined;
  } catch {
    return undefined; // none, or unreadable: start a new run
  }
}

async function writeRunState(workDir: string, runId: string): Promise<void> {
  try {
    await fs.mkdir(workDir, { recursive: true });
    await fs.writeFile(path.join(workDir, RUN_STATE_FILE), `${JSON.stringify({ runId })}\n`);
  } catch (e) {
    throw new UserError(`Cannot write to --work-dir ${workDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      exitCode: ExitCode.LocalStorage,
      hint: 'Pass a --work-dir this user can write to, with room for the whole model.',
    });
  }
}

async function clearRunState(workDir: string): Promise<void> {
  await fs.rm(path.join(workDir, RUN_STATE_FILE), { force: true }).catch(() => undefined);
}

/** MLflow did not answer for the whole --unavailable-timeout: finalizing now would only wait again. */
function isMlflowUnavailable(e: unknown): boolean {
  return e instanceof MlflowApiError && e.exitCode === ExitCode.Unavailable;
}

/**
 * A run an earlier mirror in this work dir could not finalize (MLflow was down) while the version
 * it made is now found READY: close it (FINISHED if it made that version), then forget it.
 */
async function closeLeftoverRun(
  client: MlflowClient, runId: string | undefined, version: { version: string; run_id?: string }, mirror: { modelId: string; modelName: string }, workDir: string,
): Promise<void> {
  if (!runId) return;
  const { modelName } = mirror;
  const run = await getRun(client, runId).catch((e) => {
    if (isUserError(e) && e.exitCode === ExitCode.NotFound) return undefined;
    throw e;
  });
  const tags = run ? runTags(run) : {};
  // Only a run made for this model and registered name: another mirror's run is not ours to close.
  const ours = tags[TAG.sourceRepo] === mirror.modelId && tags[TAG.registeredModel] === modelName;
  if (run?.info.status === 'RUNNING' && ours) {
    const made = version.run_id === runId;
    log.info(`Closing run ${runId} that an earlier mirror left RUNNING`, { version: version.version });
    await finalizeRun(client, made
      ? { runId, workflowStatus: 'Succeeded', modelName }
      : { runId, workflowStatus: 'Failed', failures: `superseded: ${modelName} version ${version.version} already holds this model`, modelName });
  }
  await clearRunState(workDir);
}

export const mirrorCommand: CommandModule<object, MirrorArgs> = {
  command: 'mirror <model-id>',
  describe: 'Mirror one model end to end: prepare, download, upload, register, verify, finalize',
  builder: (y) => withPolicyOptions(withHubSourceOptions(y
    .positional('model-id', { type: 'string', demandOption: true, describe: 'Hub model id, org/name' })
    .option('revision', { type: 'string', default: 'main', describe: 'Branch, tag or commit sha' }))
    .option('experiment', { type: 'string', default: 'model-mirror', describe: 'MLflow experiment name' })
    .option('model-name', { type: 'string', describe: 'Registered model name [default: org--name]' })
    .option('task', { type: 'string', describe: 'transformers pipeline task [default: the Hub\'s pipeline_tag]' })
    .option('alias', { type: 'string', describe: 'Point this alias at the new version' })
    .option('work-dir', { type: 'string', describe: 'Download directory [default: <tmp>/model-mirror/<org--name>]' })
    .option('keep-work-dir', { type: 'boolean', default: false, describe: 'Keep the downloaded files afterwards' })
    .option('concurrency', { type: 'number', default: 4, describe: 'Files transferred in parallel; files up to 4 MiB get as many download workers again of their own' })
    .option('wait-timeout', { type: 'number', default: 300, describe: 'Seconds to wait for the version to become READY' })
    .option('python-version', { type: 'string', default: '3.11', describe: 'Python version recorded in the MLmodel/env files' })
    .option('logged-model', loggedModelOption)
    .option('output-dir', outputDirOption)
    .option('tracking-uri', trackingUriOption)
    .option('deadline', deadlineOption('mirror (the Hub check, download and upload stop at once; register and verify are not started after it)'))
    .option('overlap', {
      type: 'boolean',
      default: true,
      describe: 'Upload each file\'s parts while it is still downloading (--no-overlap: download everything, then upload)',
    })
    .option('bounded-scratch', boundedScratchOption)) as never,
  handler: async (args) => {
    if (args.boundedScratch && !args.overlap) {
      throw new UserError('--bounded-scratch needs the overlapped transfer: drop --no-overlap', { exitCode: ExitCode.Usage });
    }
    const modelName = args.modelName || defaultModelName(args.modelId);
    const policy = policyFromArgs(args);
    const source = hubSourceFromArgs(args);
    const client = clientFromArgs(args);
    const deadline = Deadline.start(args.deadline);

    const workDir = path.resolve(args.workDir ?? path.join(os.tmpdir(), 'model-mirror', defaultModelName(args.modelId)));
    // Hub check, then the registry: an identical version already registered means 0 bytes to
    // move and no run (see plan.ts). A failed or killed mirror of the same identity left a run:
    // adopt it (same S3 prefix, so finished objects are skipped and open multipart uploads
    // resume) instead of a new one; a live one is waited for and its version reused.
    const previousRunId = await readRunState(workDir);
    const s3 = s3ClientFromEnv();
    let planned: { run: PrepareResult; leaseOwner?: string; commitSha: string } | undefined;
    try {
      planned = await planOrReuse(args, { client, s3, source, policy, deadline, modelName, workDir, previousRunId });
    } catch (e) {
      s3.destroy();
      throw e;
    }
    if (!planned) {
      s3.destroy();
      return;
    }
    const prep = planned.run;
    // Renewed while this process works, so a concurrent mirror waits instead of adopting the run.
    const lease = planned.leaseOwner ? new LeaseKeeper(client, prep.run_id, planned.leaseOwner).start() : undefined;
    let step = 'download';
    try {
      await writeRunState(workDir, prep.run_id);
      const downloadOpts: DownloadModelOptions = {
        modelId: args.modelId,
        revision: args.revision,
        // The commit the plan checked (reuse, identity tags): not wherever the branch is by now.
        commitSha: planned.commitSha,
        dest: workDir,
        ...source,
        policy,
        signal: deadline?.signal,
      };
      // Files go where mlflow.transformers expects them (see transformers-layout.ts).
      const uploadOpts: UploadModelOptions = {
        source: workDir,
        dest: prep.s3_destination,
        client: s3,
        concurrency: source.concurrency,
        keyFor: artifactKeyFor,
        signal: deadline?.signal,
      };
      let manifest: Manifest;
      let uploaded: UploadResult;
      const transferStarted = Date.now();
      if (args.overlap) {
        const moved = await transferOverlapped({ download: downloadOpts, upload: uploadOpts, boundedScratch: args.boundedScratch ? scratchForRegister : undefined });
        manifest = moved.manifest;
        uploaded = moved.upload;
      } else {
        manifest = await downloadModel(downloadOpts);
        step = 'upload';
        uploaded = await uploadModel(uploadOpts);
      }
      // Download + upload wall time, comparable with the `transfer` step's transfer_seconds.
      const transferSeconds = (Date.now() - transferStarted) / 1000;

      step = 'register';
      deadline?.check('before register');
      const reg = await registerModel(client, {
        sourceDir: workDir,
        manifest,
        runId: prep.run_id,
        modelName,
        task: args.task,
        alias: args.alias,
        waitTimeoutSeconds: args.waitTimeout,
        pythonVersion: args.pythonVersion,
        s3,
        loggedModel: args.loggedModel,
      });

      step = 'verify';
      deadline?.check('before verify');
      const ver = await verifyRegistration(client, { manifest, runId: prep.run_id, modelName, version: reg.version });

      step = 'finalize';
      await finalizeRun(client, { runId: prep.run_id, workflowStatus: 'Succeeded', modelName });
      await clearRunState(workDir);
      if (!args.keepWorkDir && !args.workDir) await fs.rm(workDir, { recursive: true, force: true });
      const result = {
        ...prep,
        commit_sha: manifest.commitSha,
        version: reg.version,
        model_uri: reg.model_uri,
        model_id: reg.model_id,
        reused: reg.reused,
        files_checked: ver.files_checked,
        // Sent by this process (an adopted prefix's finished objects and resumed parts are not).
        bytes_uploaded: uploaded.bytesUploaded,
        bytes_resumed: uploaded.bytesResumed,
        bytes_skipped: uploaded.bytesSkipped,
        transfer_seconds: Number(transferSeconds.toFixed(2)),
      };
      await writeOutputs(args.outputDir, {
        run_id: prep.run_id,
        artifact_uri: prep.artifact_uri,
        experiment_id: prep.experiment_id,
        version: reg.version,
        model_uri: reg.model_uri,
      });
      printResult(result);
    } catch (caught) {
      let e = caught;
      if (e instanceof StepFailure) {
        step = e.step;
        e = e.error;
      }
      e = deadline ? deadline.explain(e, `during ${step}`) : e;
      const reason = `${step}: ${isUserError(e) ? e.message : (e as Error)?.message ?? String(e)}`;
      // The run-state file goes only once the run is closed: until then a rerun in this work dir
      // continues the run (or closes it, if its version turns out READY).
      const keptState = `the run state in ${path.join(workDir, RUN_STATE_FILE)} lets a rerun in this --work-dir continue or close it`;
      if (isMlflowUnavailable(e)) {
        log.error(`mirror failed at ${step}: MLflow is unavailable, run ${prep.run_id} stays RUNNING; ${keptState}`);
        throw e;
      }
      log.error(`mirror failed at ${step}; marking run ${prep.run_id} FAILED`);
      const closed = await finalizeRun(client, { runId: prep.run_id, workflowStatus: 'Failed', failures: reason, modelName }).then(
        () => true,
        (fe) => {
          log.warn(`finalize after failure also failed; ${keptState}`, { error: (fe as Error).message });
          return false;
        },
      );
      if (closed) await clearRunState(workDir);
      throw e;
    } finally {
      lease?.stop();
      s3.destroy();
      deadline?.clear();
    }
  },
};

/**
 * The Hub check and the registry lookup (plan.ts). When an identical version is registered, it is
 * reported here and undefined is returned. In a function of its own so that the checked listing
 * (20,000 entries for a 20,000-file repo) is not held through the transfer: only the run is kept.
 */
async function planOrReuse(
  args: MirrorArgs,
  o: {
    client: MlflowClient; s3: S3Client; source: ReturnType<typeof hubSourceFromArgs>; policy: ReturnType<typeof policyFromArgs>;
    deadline: Deadline | undefined; modelName: string; workDir: string; previousRunId: string | undefined;
  },
): Promise<{ run: PrepareResult; leaseOwner?: string; commitSha: string } | undefined> {
  const planning = planMirror(o.client, {
    modelId: args.modelId,
    revision: args.revision,
    experiment: args.experiment,
    modelName: o.modelName,
    task: args.task,
    hubUrl: o.source.hubUrl,
    alias: args.alias,
    accessToken: o.source.accessToken,
    allowPatterns: o.source.allowPatterns,
    ignorePatterns: o.source.ignorePatterns,
    previousRunId: o.previousRunId,
    waitTimeoutSeconds: args.waitTimeout,
    policy: o.policy,
    s3: o.s3,
  });
  const plan = await (o.deadline ? o.deadline.bound(planning, 'during the Hub check') : planning);
  if (!plan.reused) return { run: plan.run, leaseOwner: plan.leaseOwner, commitSha: plan.source.commitSha };
  await closeLeftoverRun(o.client, o.previousRunId, plan.version, { modelId: args.modelId, modelName: o.modelName }, o.workDir);
  await writeOutputs(args.outputDir, { version: plan.version.version, model_uri: plan.model_uri });
  printResult({
    reused: true,
    model_name: o.modelName,
    version: plan.version.version,
    model_uri: plan.model_uri,
    commit_sha: plan.source.commitSha,
    source: plan.version.source,
    alias: args.alias,
    bytes_downloaded: 0,
    bytes_uploaded: 0,
  });
  return undefined;
}
