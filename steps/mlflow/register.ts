// `register`: describe the uploaded files as an MLflow transformers model (MLmodel + env files,
// written to S3 next to them), create the MLflow 3 logged model, and register a model version.
// Idempotent per (registered model, source repo, commit sha, file selection): find-or-create,
// re-checked after creating (the lowest version number of the identity wins; a loser deletes its
// own version and reuses the winner), so concurrent mirrors end with one version.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import type { Manifest } from '../common/manifest';
import { MLFLOW_VERSION } from '../../lib/versions';
import { TOOL_VERSION } from '../common/version';
import { joinUri, putS3Object } from './artifacts';
import type { MlflowClient } from './client';
import {
  copyModelToLoggedModel, createLoggedModel, deleteLoggedModel, finalizeLoggedModel, isMissingLoggedModelsApi, linkRunOutputs,
  type LoggedModel, warnNoLoggedModels,
} from './logged-models';
import { fileSetHash } from '../common/file-set';
import { copyS3Object } from '../s3/copy-object';
import { findRegisteredVersion, identityVersions } from './identity';
import { abortOpenUploadsUnder } from '../s3/clear-prefix';
import { parseS3Uri } from './artifacts';
import { clearRunFiles, sweepQuietly } from './sweep-failed-runs';
import type { RunIdentity } from './identity-runs';
import {
  buildMlmodel, condaYaml, type HfConfig, type HfTokenizerConfig, pythonEnvYaml, requirementsTxt, resolveTask,
  toYaml, tokenizerTypeOf,
} from './mlmodel';
import {
  createModelVersion, deleteModelVersion, type ModelVersion, getOrCreateRegisteredModel, setAlias,
  setModelVersionTags, validateAlias, validateModelName, versionTags, waitForModelVersionReady,
} from './registry';
import { getRun, logParamsOnce, runTags, setRunTags } from './runs';
import { PARAM, POLICY_TAG_KEYS, TAG } from './tags';
import { MODEL_ARTIFACT_PATH, TOKENIZER_DIR, hasFile, layoutForTransformers, needsSentencepiece, snapshotBytes, tokenizerCopies } from './transformers-layout';

export interface RegisterOptions {
  /** The download dir (holds the files and mirror-manifest.json). */
  readonly sourceDir: string;
  readonly manifest: Manifest;
  readonly runId: string;
  readonly modelName: string;
  readonly task?: string;
  readonly alias?: string;
  /** @default 300 */
  readonly waitTimeoutSeconds?: number;
  /** python_function.python_version and the env files. @default '3.11' */
  readonly pythonVersion?: string;
  readonly s3: S3Client;
  /**
   * MLflow 3 logged model. 'none' (default): none is created and the MLmodel has no model_id,
   * so no object points at a location without the model and storage is not doubled. 'copy':
   * the whole model directory is copied server-side (CopyObject / UploadPartCopy) into the
   * logged model's artifact location, which is finalized READY only after the copy, linked from
   * the run's outputs and the version's model_id (doubles the stored bytes).
   */
  readonly loggedModel?: LoggedModelMode;
}

export type LoggedModelMode = 'none' | 'copy';
export const LOGGED_MODEL_MODES: readonly LoggedModelMode[] = ['none', 'copy'];

export interface RegisterResult {
  readonly model_name: string;
  readonly version: string;
  readonly model_uri: string;
  /** The version's source: `<artifact_uri>/model` of the run that uploaded the files. */
  readonly source: string;
  readonly run_id: string;
  readonly model_id?: string;
  readonly commit_sha: string;
  /** fileSetHash of the version's files (part of its identity). */
  readonly file_set: string;
  /** Bytes copied server-side: tokenizer component copies (+ the logged model's copy with --logged-model copy). */
  readonly bytes_copied: number;
  /** True when an existing version of the same repo at the same commit was returned. */
  readonly reused: boolean;
  readonly alias?: string;
}

/** Files register reads from the download directory itself (the rest it knows from the manifest). */
export const FILES_REGISTER_READS = ['config.json', 'tokenizer_config.json'] as const;

async function readJsonIfPresent<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(`${file} is not valid JSON: ${(e as Error).message}`, { exitCode: ExitCode.Integrity });
  }
}

/** The result when this commit's version already existed (found first, or won a race): it is reused. */
function reusedResult(opts: RegisterOptions, version: ModelVersion, commitSha: string, fileSet: string, bytesCopied: number): RegisterResult {
  return {
    model_name: opts.modelName,
    version: version.version,
    model_uri: `models:/${opts.modelName}/${version.version}`,
    source: version.source,
    run_id: version.run_id ?? opts.runId,
    model_id: version.model_id || undefined,
    commit_sha: commitSha,
    file_set: fileSet,
    bytes_copied: bytesCopied,
    reused: true,
    alias: opts.alias,
  };
}

export async function registerModel(client: MlflowClient, opts: RegisterOptions): Promise<RegisterResult> {
  const { manifest } = opts;
  validateModelName(opts.modelName);
  if (opts.alias) validateAlias(opts.alias);
  const task = resolveTask(opts.task, manifest.pipelineTag);
  const run = await getRun(client, opts.runId);
  const tags = runTags(run);
  if (tags[TAG.sourceRepo] && tags[TAG.sourceRepo] !== manifest.repo) {
    throw new UserError(`Run ${opts.runId} was prepared for ${tags[TAG.sourceRepo]}, but the manifest in ${opts.sourceDir} is for ${manifest.repo}`, {
      exitCode: ExitCode.Conflict,
    });
  }
  const modelRoot = joinUri(run.info.artifact_uri, MODEL_ARTIFACT_PATH);
  const timeout = opts.waitTimeoutSeconds ?? 300;

  const fileSet = fileSetHash(manifest.files);

  // Idempotency: the same repo at the same commit with the same files is registered once
  // (`prepare` normally finds it first; this catches a version registered in between).
  const identity: RunIdentity = { experimentId: run.info.experiment_id, modelName: opts.modelName, repo: manifest.repo, commitSha: manifest.commitSha, fileSet };
  // The upload is complete: open multipart uploads left under this prefix (an adopted run's
  // attempts that the upload did not resume) are garbage now.
  const modelLoc = parseS3Uri(modelRoot);
  // Provenance on the run (params are immutable: logParamsOnce tolerates a rerun), beside the
  // S3 cleanup: independent round trips.
  const [aborted] = await Promise.all([
    abortOpenUploadsUnder(opts.s3, modelLoc.bucket, modelLoc.key).catch((e: unknown) => {
      log.warn('Could not list/abort open multipart uploads under the run\'s prefix', { location: modelRoot, error: (e as Error).message });
      return 0;
    }),
    logParamsOnce(client, run, {
      [PARAM.commitSha]: manifest.commitSha,
      [PARAM.fileCount]: String(manifest.fileCount),
      [PARAM.totalBytes]: String(manifest.totalBytes),
    }),
    setRunTags(client, opts.runId, { [TAG.commitSha]: manifest.commitSha, [TAG.registeredModel]: opts.modelName, [TAG.fileSet]: fileSet }),
  ]);
  if (aborted) log.info(`Aborted ${aborted} open multipart uploads an earlier attempt left under ${modelRoot}`);
  const existing = await findRegisteredVersion(client, { modelName: opts.modelName, repo: manifest.repo, commitSha: manifest.commitSha, fileSet }, timeout);
  if (existing) {
    log.info('This commit is already registered: reusing the version', { model: opts.modelName, version: existing.version, commit: manifest.commitSha, fromRun: existing.run_id });
    await reuseVersion(client, opts, existing, run.info.artifact_uri);
    await sweepQuietly(client, opts.s3, identity, existing);
    return reusedResult(opts, existing, manifest.commitSha, fileSet, 0);
  }

  // Describe the checkpoint from its own config files.
  // The tokenizer copies only (a few files): an entry per snapshot file is made only for a logged
  // model's copy, below.
  const componentCopies = tokenizerCopies(manifest);
  const hasTokenizer = componentCopies.length > 0;
  const has = (p: string) => hasFile(manifest, p);
  if (!has('config.json')) {
    throw new UserError(`${manifest.repo}@${manifest.commitSha.slice(0, 12)} has no config.json in the download`, {
      exitCode: ExitCode.Usage,
      hint: 'Only transformers checkpoints can be registered; if --allow-patterns excluded config.json, include it.',
    });
  }
  const [configFile, tokConfigFile] = FILES_REGISTER_READS;
  const config = (await readJsonIfPresent<HfConfig>(path.join(opts.sourceDir, configFile))) ?? {};
  const tokConfig = await readJsonIfPresent<HfTokenizerConfig>(path.join(opts.sourceDir, tokConfigFile));
  const hasTokenizerJson = has('tokenizer.json');
  const tokenizerType = hasTokenizer ? tokenizerTypeOf(tokConfig, hasTokenizerJson) : undefined;
  if (!hasTokenizer) log.warn('No tokenizer files in the download: the MLflow model has no tokenizer component', { repo: manifest.repo });

  // model/model/ holds the whole Hub snapshot; mlflow.transformers reads the tokenizer from
  // components/tokenizer/: copy those files there on the server (no bytes go through this pod).
  let bytesCopied = 0;
  for (const c of componentCopies) {
    bytesCopied += await copyS3Object(opts.s3, joinUri(modelRoot, c.copyOf!), joinUri(modelRoot, c.key), { size: c.size });
  }
  if (componentCopies.length) {
    log.info(`Copied ${componentCopies.length} tokenizer files to ${TOKENIZER_DIR}/ (server-side, ${bytesCopied} bytes)`, { location: modelRoot });
  }

  // MLflow 3 logged model: only with --logged-model copy (see RegisterOptions.loggedModel).
  const mode = opts.loggedModel ?? 'none';
  let logged: LoggedModel | undefined;
  if (mode === 'copy') {
    try {
      logged = await createLoggedModel(client, {
        experimentId: run.info.experiment_id,
        name: opts.modelName,
        sourceRunId: opts.runId,
        modelType: 'transformers',
        tags: { [TAG.sourceRepo]: manifest.repo, [TAG.commitSha]: manifest.commitSha, [TAG.fileSet]: fileSet },
        params: { task: task.task, source_repo: manifest.repo, commit_sha: manifest.commitSha },
      });
    } catch (e) {
      if (!isMissingLoggedModelsApi(e)) throw e;
      warnNoLoggedModels();
    }
  }
  const modelId = logged?.info.model_id;

  // MLmodel + env files next to the uploaded files.
  const mlflowVersion = (await client.serverVersion()) ?? MLFLOW_VERSION;
  const pythonVersion = opts.pythonVersion ?? '3.11';
  const requirements = requirementsTxt({ mlflowVersion, transformersVersion: config.transformers_version, needsSentencepiece: needsSentencepiece(manifest) });
  const mlmodel = buildMlmodel({
    repo: manifest.repo,
    task,
    config,
    tokenizerType,
    runId: opts.runId,
    modelId,
    mlflowVersion,
    pythonVersion,
    modelSizeBytes: snapshotBytes(manifest),
    metadata: {
      'model_mirror.source_repo': manifest.repo,
      'model_mirror.commit_sha': manifest.commitSha,
      'model_mirror.requested_revision': manifest.requestedRevision,
      'model_mirror.tool_version': TOOL_VERSION,
    },
  });
  const files: [string, string, string][] = [
    ['MLmodel', toYaml(mlmodel), 'text/yaml'],
    ['requirements.txt', requirements, 'text/plain'],
    ['python_env.yaml', pythonEnvYaml(pythonVersion), 'text/yaml'],
    ['conda.yaml', condaYaml(pythonVersion, requirements), 'text/yaml'],
  ];
  // Side by side: each PUT is a round trip or two, and nothing reads them before the version exists.
  await Promise.all(files.map(([name, body, type]) => putS3Object(opts.s3, joinUri(modelRoot, name), body, type)));
  log.info('Wrote MLmodel and environment files', { location: modelRoot, task: task.task, tokenizer: tokenizerType ?? 'none' });
  if (logged) {
    // READY only once its location holds the whole model; on any failure it is deleted, so
    // nothing points at a partial copy.
    try {
      bytesCopied += await copyModelToLoggedModel(client, opts.s3, { modelRoot, logged, layout: layoutForTransformers(manifest) });
      await finalizeLoggedModel(client, logged.info.model_id, 'LOGGED_MODEL_READY');
      await linkRunOutputs(client, opts.runId, logged.info.model_id);
      await setRunTags(client, opts.runId, { [TAG.loggedModelId]: logged.info.model_id });
    } catch (e) {
      await deleteLoggedModel(client, logged.info.model_id).catch((de: unknown) => log.warn('Could not delete the incomplete logged model', { modelId: logged?.info.model_id, error: (de as Error).message }));
      throw e;
    }
  }

  // Registered model + version.
  await getOrCreateRegisteredModel(client, opts.modelName, {
    description: `Mirror of the Hugging Face model ${manifest.repo}`,
    tags: { [TAG.sourceRepo]: manifest.repo },
  });
  const versionTagValues = {
    [TAG.sourceRepo]: manifest.repo,
    [TAG.commitSha]: manifest.commitSha,
    [TAG.fileSet]: fileSet,
    [TAG.requestedRevision]: manifest.requestedRevision,
    // The policy decision prepare recorded on the run travels with the version.
    ...Object.fromEntries(POLICY_TAG_KEYS.filter((k) => tags[k] !== undefined).map((k) => [k, tags[k]])),
  };
  const created = await createModelVersion(client, {
    name: opts.modelName,
    source: modelRoot,
    runId: opts.runId,
    modelId,
    tags: versionTagValues,
    description: `${manifest.repo} at commit ${manifest.commitSha} (requested revision ${manifest.requestedRevision})`,
  });
  const mv = await waitForModelVersionReady(client, opts.modelName, created.version, timeout);
  // Tags were sent with the create call; set them again in case the store dropped any.
  const have = versionTags(mv);
  const missing = Object.fromEntries(Object.entries(versionTagValues).filter(([k, v]) => have[k] !== v));
  if (Object.keys(missing).length) await setModelVersionTags(client, opts.modelName, mv.version, missing);
  // Re-check: another mirror may have registered the same identity meanwhile. Version numbers are
  // assigned in commit order, so every contender sees the lowest one: it wins, the others give
  // theirs up (one version per commit).
  const winner = (await identityVersions(client, identity))[0];
  if (winner && winner.version !== mv.version && Number(winner.version) < Number(mv.version)) {
    log.info(`Another mirror registered this commit as version ${winner.version} at the same time: removing version ${mv.version}, reusing ${winner.version}`, { model: opts.modelName });
    await deleteModelVersion(client, opts.modelName, mv.version);
    if (logged) {
      await deleteLoggedModel(client, logged.info.model_id).catch((de: unknown) => log.warn('Could not delete the unused logged model', { modelId: logged?.info.model_id, error: (de as Error).message }));
    }
    const ready = winner.status === 'READY' ? winner : await waitForModelVersionReady(client, opts.modelName, winner.version, timeout);
    await reuseVersion(client, opts, ready, run.info.artifact_uri);
    return reusedResult(opts, ready, manifest.commitSha, fileSet, bytesCopied);
  }
  if (opts.alias) await setAlias(client, opts.modelName, opts.alias, mv.version);
  await sweepQuietly(client, opts.s3, identity, mv);
  await setRunTags(client, opts.runId, { [TAG.modelVersion]: mv.version });
  log.info('Registered model version', { model: opts.modelName, version: mv.version, alias: opts.alias, source: modelRoot });
  return {
    model_name: opts.modelName,
    version: mv.version,
    model_uri: `models:/${opts.modelName}/${mv.version}`,
    source: modelRoot,
    run_id: opts.runId,
    model_id: modelId,
    commit_sha: manifest.commitSha,
    file_set: fileSet,
    bytes_copied: bytesCopied,
    reused: false,
    alias: opts.alias,
  };
}

/**
 * Points the alias and this run's tags at a version another run registered. This run's own files
 * are then unreferenced: they are deleted (unless the version's source is this run's prefix,
 * when two mirrors shared an adopted run).
 */
async function reuseVersion(client: MlflowClient, opts: RegisterOptions, mv: ModelVersion, artifactUri: string): Promise<void> {
  if (opts.alias) await setAlias(client, opts.modelName, opts.alias, mv.version);
  const fromOtherRun = mv.run_id !== opts.runId;
  await setRunTags(client, opts.runId, { [TAG.modelVersion]: mv.version, ...(fromOtherRun ? { [TAG.reusedVersion]: mv.version } : {}) });
  const root = artifactUri.replace(/\/+$/, '');
  if (fromOtherRun && mv.source !== root && !mv.source.startsWith(`${root}/`)) {
    const c = await clearRunFiles(opts.s3, artifactUri).catch((e: unknown) => {
      log.warn('Could not delete this run\'s unused files', { location: root, error: (e as Error).message });
      return undefined;
    });
    if (c) {
      await setRunTags(client, opts.runId, { [TAG.swept]: new Date().toISOString(), [TAG.supersededBy]: `${mv.name}/${mv.version}` });
      log.info(`Deleted this run's ${c.objects} uploaded objects (${c.bytes} bytes): version ${mv.version} already holds them`, { uploadsAborted: c.uploads });
    }
  }
}
