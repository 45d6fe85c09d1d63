// `models list`: the registered models model-mirror created (they carry the model_mirror.*
// tags), each version with its aliases, Hub source, size and creation date.
import type { S3Client } from '@aws-sdk/client-s3';
import type { MlflowClient } from '../mlflow/client';
import { fromKeyValues } from '../mlflow/client';
import type { RegisteredModel } from '../mlflow/registry';
import { TAG } from '../mlflow/tags';
import { listVersions } from './lookup';
import { type VersionSummary, readVersionManifest, summarize } from './version-details';

export interface MirroredModel {
  readonly name: string;
  readonly source_repo?: string;
  readonly aliases: Readonly<Record<string, string>>;
  readonly versions: readonly VersionSummary[];
}

export function isMirrored(model: RegisteredModel): boolean {
  return Object.keys(fromKeyValues(model.tags)).some((k) => k.startsWith('model_mirror.'));
}

async function allRegisteredModels(client: MlflowClient): Promise<RegisteredModel[]> {
  const out: RegisteredModel[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await client.get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
      '/api/2.0/mlflow/registered-models/search', { max_results: 1000, page_token: pageToken },
    );
    out.push(...(res.registered_models ?? []));
    pageToken = res.next_page_token || undefined;
    if (!pageToken) break;
  }
  return out;
}

/** `filter`: a case-insensitive substring of the model name or its Hub repo. */
export async function listMirroredModels(client: MlflowClient, s3: S3Client, filter?: string): Promise<MirroredModel[]> {
  const needle = (filter ?? '').trim().toLowerCase();
  const models = (await allRegisteredModels(client))
    .filter(isMirrored)
    .filter((m) => !needle || m.name.toLowerCase().includes(needle) || (fromKeyValues(m.tags)[TAG.sourceRepo] ?? '').toLowerCase().includes(needle))
    .sort((a, b) => a.name.localeCompare(b.name));
  const out: MirroredModel[] = [];
  for (const m of models) {
    const versions: VersionSummary[] = [];
    for (const mv of await listVersions(client, m.name)) versions.push(summarize(mv, await readVersionManifest(s3, mv)));
    out.push({
      name: m.name,
      source_repo: fromKeyValues(m.tags)[TAG.sourceRepo],
      aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, a.version])),
      versions,
    });
  }
  return out;
}
