// Which S3 prefixes the registry still points at. A prefix is only deleted when no remaining
// version of any registered model points into it (a version can be registered again from an
// existing source, e.g. a reused or adopted one).
import type { MlflowClient } from '../mlflow/client';
import { type ModelVersion, searchModelVersions } from '../mlflow/registry';
import { prefixesOverlap } from './s3-objects';

export interface Reference {
  readonly name: string;
  readonly version: string;
  readonly source: string;
}

export async function allVersionSources(client: MlflowClient): Promise<Reference[]> {
  const versions: ModelVersion[] = await searchModelVersions(client, '', 10_000);
  return versions.map((v) => ({ name: v.name, version: v.version, source: v.source }));
}

/** The references (other than `except`) that point into `prefix` or contain it. */
export function referencesInto(prefix: string, refs: readonly Reference[], except: (r: Reference) => boolean = () => false): Reference[] {
  return refs.filter((r) => !except(r) && /^s3a?:\/\//.test(r.source) && prefixesOverlap(r.source, prefix));
}
