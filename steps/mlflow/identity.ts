// A registered version's identity: (registered model, Hub repo, commit sha, file selection).
// A rerun for an identity that is already registered moves nothing: it finds the version here,
// re-applies the alias and the identity tags, and creates no run and no objects.
import { log } from '../common/log';
import type { MlflowClient } from './client';
import {
  filterLiteral, getRegisteredModel, type ModelVersion, searchModelVersions, setAlias, setModelVersionTags, versionTags,
  waitForModelVersionReady,
} from './registry';
import { TAG } from './tags';

export interface VersionIdentity {
  readonly modelName: string;
  readonly repo: string;
  readonly commitSha: string;
  /** fileSetHash of the selected files. */
  readonly fileSet: string;
}

/**
 * The oldest usable version with exactly this identity (READY, or PENDING then waited for), or
 * undefined. Versions without a file-set tag (made before it existed) never match: a full mirror
 * must not reuse a version that may hold only some of the files.
 */
export async function findRegisteredVersion(client: MlflowClient, id: VersionIdentity, waitTimeoutSeconds = 300): Promise<ModelVersion | undefined> {
  // The lowest number: the one register.ts keeps when concurrent mirrors registered the identity
  // twice (a higher one may be about to be deleted by its loser).
  const [mv] = await identityVersions(client, id);
  if (!mv) return undefined;
  return mv.status === 'READY' ? mv : waitForModelVersionReady(client, id.modelName, mv.version, waitTimeoutSeconds);
}

/** Every version with exactly this identity that did not fail registration, oldest (lowest number) first. */
export async function identityVersions(client: MlflowClient, id: VersionIdentity): Promise<ModelVersion[]> {
  if (!(await getRegisteredModel(client, id.modelName))) return [];
  const filter = `name=${filterLiteral(id.modelName)} and tags.\`${TAG.commitSha}\`=${filterLiteral(id.commitSha)} and tags.\`${TAG.fileSet}\`=${filterLiteral(id.fileSet)}`;
  return (await searchModelVersions(client, filter))
    .filter((mv) => {
      const t = versionTags(mv);
      return t[TAG.sourceRepo] === id.repo && t[TAG.commitSha] === id.commitSha && t[TAG.fileSet] === id.fileSet;
    })
    .filter((mv) => mv.status !== 'FAILED_REGISTRATION')
    .sort((a, b) => Number(a.version) - Number(b.version));
}

/** Points the alias at the version again and re-applies its identity tags (no files are touched). */
export async function reapplyToExisting(client: MlflowClient, id: VersionIdentity, mv: ModelVersion, alias?: string): Promise<void> {
  const want: Record<string, string> = {
    [TAG.sourceRepo]: id.repo,
    [TAG.commitSha]: id.commitSha,
    [TAG.fileSet]: id.fileSet,
  };
  const have = versionTags(mv);
  const missing = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
  await setModelVersionTags(client, id.modelName, mv.version, { ...missing, [TAG.lastResync]: new Date().toISOString() });
  if (alias) await setAlias(client, id.modelName, alias, mv.version);
  log.info(`${id.repo}@${id.commitSha.slice(0, 12)} is already registered as ${id.modelName} version ${mv.version}: nothing to transfer`, {
    version: mv.version,
    alias,
    source: mv.source,
  });
}
