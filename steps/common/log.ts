// One logger for every step. Human lines by default, one JSON object per line with --json
// (MODEL_MIRROR_LOG_FORMAT=json). Secrets are redacted before anything is written.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

let jsonMode = process.env.MODEL_MIRROR_LOG_FORMAT === 'json';
let debugEnabled = !!process.env.MODEL_MIRROR_DEBUG;
const secrets = new Set<string>();

export function setJsonLogs(on: boolean): void {
  jsonMode = on;
}
export function isJsonLogs(): boolean {
  return jsonMode;
}
export function setDebug(on: boolean): void {
  debugEnabled = on;
}

/** Register a value (token, secret key, password) that must never reach the logs. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  // Hub tokens and bearer headers that were never registered still get masked.
  return out.replace(/hf_[A-Za-z0-9]{6,}/g, 'hf_***').replace(/(Bearer\s+)[^\s"']+/gi, '$1***');
}

function write(level: LogLevel, msg: string, fields?: LogFields): void {
  if (level === 'debug' && !debugEnabled) return;
  const stream = level === 'error' || level === 'warn' ? process.stderr : process.stderr;
  if (jsonMode) {
    stream.write(redact(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })) + '\n');
    return;
  }
  const extra = fields && Object.keys(fields).length
    ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
    : '';
  const prefix = level === 'info' ? '' : `${level.toUpperCase()}: `;
  stream.write(redact(`${prefix}${msg}${extra}`) + '\n');
}

export const log = {
  debug: (msg: string, fields?: LogFields) => write('debug', msg, fields),
  info: (msg: string, fields?: LogFields) => write('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => write('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => write('error', msg, fields),
};
