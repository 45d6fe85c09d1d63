// Where the Hub is and which token to send. @huggingface/hub reads no environment variables, so
// HF_ENDPOINT / HF_TOKEN / HF_TOKEN_PATH are mapped here and passed explicitly.
import { readFileSync } from 'node:fs';
import { ExitCode, UserError } from '../common/errors';
import { log, registerSecret } from '../common/log';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export interface HubConfig {
  /** No trailing slash. */
  readonly hubUrl: string;
  readonly accessToken?: string;
  /** Where the token came from, for logs (never the token itself). */
  readonly tokenSource?: 'HF_TOKEN' | '--token-file' | 'HF_TOKEN_PATH';
}

const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$/;

/**
 * Validates a model id: `org/name`, or a legacy single-segment id like `gpt2`. Same rules as the
 * Hub: letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96 characters per part.
 */
export function validateModelId(id: string): string {
  const trimmed = (id ?? '').trim();
  const parts = trimmed.split('/');
  const ok = trimmed.length > 0
    && parts.length <= 2
    && parts.every((p) => REPO_PART.test(p) && !p.includes('--') && !p.includes('..'))
    && !trimmed.endsWith('.git');
  if (!ok) {
    const hint = /^https?:\/\//.test(trimmed)
      ? 'Pass the repo id, not its URL: e.g. https://huggingface.co/openai-community/gpt2 -> --model-id openai-community/gpt2.'
      : 'Expected `org/name` (e.g. openai-community/gpt2) or a legacy single name (e.g. gpt2): letters, digits, `-`, `_`, `.`.';
    throw new UserError(`Invalid model id ${JSON.stringify(id)}`, { exitCode: ExitCode.Usage, hint });
  }
  return trimmed;
}

export function normalizeHubUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UserError(`Invalid Hub URL ${JSON.stringify(url)}`, { exitCode: ExitCode.Usage, hint: 'Use e.g. --hub-url https://huggingface.co (or HF_ENDPOINT).' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UserError(`Invalid Hub URL ${JSON.stringify(url)}: must be http(s)`, { exitCode: ExitCode.Usage });
  }
  if (u.username || u.password) {
    throw new UserError('The Hub URL must not contain credentials; use HF_TOKEN or --token-file', { exitCode: ExitCode.Usage });
  }
  return u.toString().replace(/\/+$/, '');
}

function readToken(file: string, source: string, required: boolean): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (required) {
      throw new UserError(`Cannot read the Hub token file ${file} (${source}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        exitCode: ExitCode.Usage,
        hint: 'Check the Secret is mounted at that path, or set HF_TOKEN instead.',
      });
    }
    log.warn(`HF_TOKEN_PATH is set but ${file} cannot be read; continuing without a Hub token`);
    return undefined;
  }
  const token = text.trim();
  if (!token) {
    if (required) throw new UserError(`The Hub token file ${file} is empty`, { exitCode: ExitCode.Usage });
    return undefined;
  }
  return token;
}

/**
 * Resolves Hub URL and token. URL: `hubUrl` flag, else HF_ENDPOINT, else huggingface.co.
 * Token: `--token-file`, else HF_TOKEN, else the file at HF_TOKEN_PATH. The token is registered
 * as a secret so logs never show it.
 */
export function resolveHubConfig(opts: { hubUrl?: string; tokenFile?: string; env?: NodeJS.ProcessEnv } = {}): HubConfig {
  const env = opts.env ?? process.env;
  const hubUrl = normalizeHubUrl(opts.hubUrl || env.HF_ENDPOINT || DEFAULT_HUB_URL);
  let accessToken: string | undefined;
  let tokenSource: HubConfig['tokenSource'];
  if (opts.tokenFile) {
    accessToken = readToken(opts.tokenFile, '--token-file', true);
    tokenSource = '--token-file';
  } else if (env.HF_TOKEN?.trim()) {
    accessToken = env.HF_TOKEN.trim();
    tokenSource = 'HF_TOKEN';
  } else if (env.HF_TOKEN_PATH) {
    accessToken = readToken(env.HF_TOKEN_PATH, 'HF_TOKEN_PATH', false);
    tokenSource = accessToken ? 'HF_TOKEN_PATH' : undefined;
  }
  if (accessToken && /\s/.test(accessToken)) {
    throw new UserError(`The Hub token from ${tokenSource} contains whitespace`, { exitCode: ExitCode.Usage, hint: 'The token file must hold only the token.' });
  }
  registerSecret(accessToken);
  return { hubUrl, accessToken, tokenSource };
}
