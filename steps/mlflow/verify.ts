// `verify`: check through MLflow's own API (the server lists S3 with its credentials) that the
// registered version is READY, resolves to the run's model directory, and that every file of the
// manifest is there with its size, plus the MLmodel and env files.
import { ExitCode, UserError } from '../common/errors';
import { log } from '../common/log';
import { indexedFiles, type Manifest } from '../common/manifest';
import { PathIndex } from '../common/path-index';
import { forEachArtifactDir, joinUri, listArtifacts } from './artifacts';
import type { MlflowClient } from './client';
import { getModelVersion, getModelVersionDownloadUri } from './registry';
import { getRun } from './runs';
import { METADATA_FILES, MODEL_ARTIFACT_PATH, artifactKeyFor, keyRelativePath, tokenizerCopies } from './transformers-layout';

export interface VerifyOptions {
  readonly manifest: Manifest;
  /** The run this workflow made; undefined when prepare reused an existing version (no run). */
  readonly runId?: string;
  readonly modelName: string;
  readonly version: string;
}

export interface VerifyResult {
  readonly verified: true;
  readonly model_name: string;
  readonly version: string;
  readonly run_id: string;
  readonly download_uri: string;
  readonly files_checked: number;
  readonly bytes_checked: number;
}

function normUri(u: string): string {
  return u.replace(/\/+$/, '');
}

export async function verifyRegistration(client: MlflowClient, opts: VerifyOptions): Promise<VerifyResult> {
  const mv = await getModelVersion(client, opts.modelName, opts.version);
  if (mv.status !== 'READY') {
    throw new UserError(`Model version ${opts.modelName}/${opts.version} is ${mv.status}, not READY${mv.status_message ? `: ${mv.status_message}` : ''}`, {
      exitCode: ExitCode.Integrity,
    });
  }
  // A rerun may have reused a version registered by an earlier run of the same commit: check the
  // run that holds the version's files.
  const runId = mv.run_id || opts.runId;
  if (!runId) {
    throw new UserError(`Model version ${opts.modelName}/${opts.version} has no run id and none was given`, { exitCode: ExitCode.Usage });
  }
  if (opts.runId && runId !== opts.runId) log.info('The version was registered from another run (same commit): verifying that run\'s files', { versionRun: runId, thisRun: opts.runId });
  const run = await getRun(client, runId);
  const expectedRoot = joinUri(run.info.artifact_uri, MODEL_ARTIFACT_PATH);

  const problems: string[] = [];
  const downloadUri = await getModelVersionDownloadUri(client, opts.modelName, opts.version);
  if (normUri(downloadUri) !== normUri(expectedRoot)) {
    problems.push(`download URI of ${opts.modelName}/${opts.version} is ${downloadUri}, expected ${expectedRoot}`);
  }

  const root = await listArtifacts(client, runId);
  if (!root.some((f) => f.path === MODEL_ARTIFACT_PATH && f.is_dir)) {
    throw new UserError(`Run ${runId} has no '${MODEL_ARTIFACT_PATH}/' artifact directory (listed by MLflow at ${run.info.artifact_uri})`, {
      exitCode: ExitCode.NotFound,
      hint: 'Did `upload` write to the s3_destination that `prepare` printed? Does the MLflow server have read access to the bucket?',
    });
  }
  // Expected sizes: the snapshot's files (model/model/<path>) by their manifest path, found in an
  // index of the manifest's rows (no string per file is kept); the few tokenizer copies and the
  // metadata files by their key. Each listed directory is checked as it comes and its files
  // dropped, so what is not seen at the end is missing (nothing of the listing is kept).
  const snapshotPrefix = `${MODEL_ARTIFACT_PATH}/${artifactKeyFor('')}`;
  const rows = indexedFiles(opts.manifest.files);
  const keyAt = (r: number) => keyRelativePath(rows.path(r));
  const index = new PathIndex(rows.length, keyAt);
  const seen = new Uint8Array(rows.length);
  const expectedCopies = new Map<string, number>();
  for (const c of tokenizerCopies(opts.manifest)) expectedCopies.set(`${MODEL_ARTIFACT_PATH}/${c.key}`, c.size);
  const metadata = new Set<string>(METADATA_FILES.map((f) => `${MODEL_ARTIFACT_PATH}/${f}`));
  const filesChecked = index.size + expectedCopies.size + metadata.size;
  const wrongSize: string[] = [];
  let bytes = 0;
  await forEachArtifactDir(client, runId, MODEL_ARTIFACT_PATH, (files) => {
    for (const f of files) {
      metadata.delete(f.path);
      let want: number | undefined;
      if (f.path.startsWith(snapshotPrefix)) {
        const r = index.find(f.path.slice(snapshotPrefix.length));
        if (r >= 0 && !seen[r]) {
          seen[r] = 1;
          want = rows.size(r);
        }
      } else {
        want = expectedCopies.get(f.path);
        expectedCopies.delete(f.path);
      }
      if (want === undefined) continue;
      const size = Number(f.file_size ?? 0);
      if (size !== want) wrongSize.push(`${f.path} (${size} bytes, expected ${want})`);
      else bytes += size;
    }
  });
  // Counted, and named up to 20: a version with none of its 100,000 files is one line, not a list.
  let missingCount = 0;
  const missing: string[] = [];
  const noteMissing = (p: string) => {
    if (missingCount++ < 20) missing.push(p);
  };
  for (let r = 0; r < rows.length; r++) {
    if (seen[r]) continue;
    const key = keyAt(r);
    if (index.find(key) === r) noteMissing(snapshotPrefix + key);
  }
  for (const p of expectedCopies.keys()) noteMissing(p);
  for (const p of metadata) noteMissing(p);
  const list = (xs: string[], count: number) => (count > xs.length ? [...xs, `… and ${count - xs.length} more`] : xs).join(', ');
  if (missingCount) problems.push(`${missingCount} file(s) missing: ${list(missing, missingCount)}`);
  if (wrongSize.length) problems.push(`${wrongSize.length} file(s) with the wrong size: ${list(wrongSize.slice(0, 20), wrongSize.length)}`);
  if (problems.length) {
    const onlyMissing = !wrongSize.length && normUri(downloadUri) === normUri(expectedRoot);
    throw new UserError(`Verification of ${opts.modelName}/${opts.version} (run ${runId}, ${expectedRoot}) failed: ${problems.join('; ')}`, {
      exitCode: onlyMissing ? ExitCode.NotFound : ExitCode.Integrity,
      hint: 'Re-run upload (and register, for MLmodel) for this run; `finalize --workflow-status Failed` removes the version.',
    });
  }
  log.info('Verified model version', { model: opts.modelName, version: opts.version, files: filesChecked, bytes });
  return {
    verified: true,
    model_name: opts.modelName,
    version: opts.version,
    run_id: runId,
    download_uri: downloadUri,
    files_checked: filesChecked,
    bytes_checked: bytes,
  };
}
