// What the policy needs from the Hub, at the pinned commit, before any weight is downloaded:
// the model card's licence (model info `cardData.license`), each selected file's scan status
// (paths-info with expand: `securityFileStatus.status`), and whether config.json has an
// `auto_map` (config.json itself: a few KB, and the model info's `config` summary is not
// documented to carry auto_map).
import { withRetry } from '../common/retry';
import { resolveUrl } from '../hub/download-file';
import { toHubUserError } from '../hub/errors';
import { badHubAnswer, createHubFetch, HubHttpError, readHubJson, type HubFetchOptions } from '../hub/hub-fetch';

export interface HubFactsOptions extends HubFetchOptions {
  readonly repo: string;
  /** The pinned 40-hex commit. */
  readonly commitSha: string;
}

/** paths-info takes a list of paths per request: keep each request small. */
const PATHS_PER_REQUEST = 100;

function context(opts: HubFactsOptions, op: 'revision' | 'list' | 'file', path?: string) {
  return { hubUrl: opts.hubUrl, repo: opts.repo, revision: opts.commitSha, path, hasToken: !!opts.accessToken, op };
}

/** `cardData.license` of the model card at this commit: a list (the card may state several), undefined when none. */
export async function fetchCardLicenses(opts: HubFactsOptions): Promise<string[] | undefined> {
  const url = `${opts.hubUrl}/api/models/${opts.repo}/revision/${encodeURIComponent(opts.commitSha)}?expand=cardData`;
  let info: unknown;
  try {
    info = await readHubJson(await createHubFetch(opts)(url, { headers: { accept: 'application/json' } }), url);
  } catch (e) {
    throw toHubUserError(e, context(opts, 'revision'));
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw badHubAnswer(url, 'not a model\'s info (expected a JSON object)');
  const card = (info as { cardData?: unknown }).cardData;
  const license = typeof card === 'object' && card !== null ? (card as { license?: unknown }).license : undefined;
  if (typeof license === 'string') return [license];
  if (Array.isArray(license)) return license.filter((l): l is string => typeof l === 'string');
  return undefined;
}

/** The Hub's aggregated scan status of each path (lowercase); paths it reports no status for are absent. */
export async function fetchScanStatus(opts: HubFactsOptions, paths: readonly string[]): Promise<Map<string, string>> {
  const url = `${opts.hubUrl}/api/models/${opts.repo}/paths-info/${encodeURIComponent(opts.commitSha)}`;
  const hubFetch = createHubFetch(opts);
  const out = new Map<string, string>();
  for (let i = 0; i < paths.length; i += PATHS_PER_REQUEST) {
    const batch = paths.slice(i, i + PATHS_PER_REQUEST);
    let entries: unknown;
    try {
      // A read-only POST: safe to repeat, so it is retried like the GETs.
      entries = await withRetry(async () => readHubJson(await hubFetch(url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ paths: batch, expand: true }),
      }), url), { signal: opts.signal, ...opts.retry });
    } catch (e) {
      throw toHubUserError(e, context(opts, 'list'));
    }
    if (!Array.isArray(entries)) throw badHubAnswer(url, 'not a paths-info listing (expected a JSON array)');
    for (const e of entries) {
      if (typeof e !== 'object' || e === null) continue;
      const { path, securityFileStatus } = e as { path?: unknown; securityFileStatus?: unknown };
      const status = typeof securityFileStatus === 'object' && securityFileStatus !== null ? (securityFileStatus as { status?: unknown }).status : undefined;
      if (typeof path === 'string' && typeof status === 'string') out.set(path, status.toLowerCase());
    }
  }
  return out;
}

/** Whether config.json at this commit has a non-empty `auto_map`; false when there is no config.json. */
export async function fetchHasAutoMap(opts: HubFactsOptions): Promise<boolean> {
  const url = resolveUrl(opts.hubUrl, opts.repo, opts.commitSha, 'config.json');
  let config: unknown;
  try {
    config = await readHubJson(await createHubFetch(opts)(url, { headers: { 'accept-encoding': 'identity' } }), url);
  } catch (e) {
    if (e instanceof HubHttpError && e.status === 404) return false;
    throw toHubUserError(e, context(opts, 'file', 'config.json'));
  }
  if (typeof config !== 'object' || config === null) return false;
  const autoMap = (config as { auto_map?: unknown }).auto_map;
  return typeof autoMap === 'object' && autoMap !== null && Object.keys(autoMap).length > 0;
}
