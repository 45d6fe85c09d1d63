// Output of the read-mostly commands (`models ...`): one JSON object with --json, a table on a
// terminal, and plain aligned columns otherwise (pipes, logs, `grep`).

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  /** Numbers read better right-aligned. */
  readonly align?: 'left' | 'right';
}

export type OutputMode = 'json' | 'table' | 'plain';

/** --json wins; otherwise a table when stdout is a terminal. */
export function outputMode(args: { json?: boolean }, stream: { isTTY?: boolean } = process.stdout): OutputMode {
  if (args.json) return 'json';
  return stream.isTTY ? 'table' : 'plain';
}

function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, width - [...text].length));
  return align === 'right' ? fill + text : text + fill;
}

/** Rows as text: a boxed table (`table`) or columns separated by two spaces (`plain`). */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], mode: 'table' | 'plain'): string {
  const cells = rows.map((r) => columns.map((c) => c.value(r).replace(/\s*\n\s*/g, ' ')));
  const widths = columns.map((c, i) => Math.max([...c.header].length, ...cells.map((row) => [...row[i]].length)));
  if (mode === 'plain') {
    const line = (values: string[]) => values.map((v, i) => pad(v, i === values.length - 1 && columns[i].align !== 'right' ? 0 : widths[i], columns[i].align)).join('  ').trimEnd();
    return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
  }
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  const line = (values: string[]) => '│' + values.map((v, i) => ` ${pad(v, widths[i], columns[i].align)} `).join('│') + '│';
  return [rule('┌', '┬', '┐'), line(columns.map((c) => c.header)), rule('├', '┼', '┤'), ...cells.map(line), rule('└', '┴', '┘')].join('\n') + '\n';
}

/** `key: value` lines, keys aligned, for one record (e.g. `models show`). */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${pad(`${k}:`, width + 1)} ${v}`).join('\n') + '\n';
}

/** 1234567 -> "1.2 MB" (decimal units, as S3 consoles show them); exact bytes stay in --json. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '?';
  const sign = bytes < 0 ? '-' : '';
  let n = Math.abs(bytes);
  if (n < 1000) return `${sign}${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let u = -1;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${sign}${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[u]}`;
}

/** Epoch milliseconds (MLflow's timestamps) as an ISO date-time without milliseconds. */
export function formatTimestamp(ms: number | string | undefined): string {
  const n = Number(ms);
  if (ms === undefined || !Number.isFinite(n) || n <= 0) return '?';
  return new Date(n).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Writes the result: JSON (one line) or the human form. */
export function emit(mode: OutputMode, json: unknown, human: () => string): void {
  process.stdout.write(mode === 'json' ? JSON.stringify(json) + '\n' : human());
}
