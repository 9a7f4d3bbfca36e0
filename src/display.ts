/**
 * Tables and markdown for notebooks: an HTML table in a kernel, an aligned text table in a
 * plain process. Accepts row objects or a danfojs DataFrame — duck-typed on
 * `.columns` / `.values` (and `.index`) so src/ need not import danfo.
 */
import { display, displayBundle, inNotebook } from './notebook_env';

export interface TableOptions {
  caption?: string;
  /** Rows shown before the middle is elided (head and tail kept). Default 20. */
  maxRows?: number;
  /** Decimals for non-integer numbers. Default 4. */
  digits?: number;
  /** Longer strings are cut with an ellipsis. Default 80. */
  maxChars?: number;
}

/** What a danfojs DataFrame (or Series) looks like to us. */
export interface DataFrameLike {
  columns: string[] | string;
  values: unknown[] | unknown[][];
  index?: unknown[];
}

export type TableInput = Record<string, unknown>[] | DataFrameLike;

/** A table normalised to header + cells, before formatting. */
export interface Table {
  columns: string[];
  rows: unknown[][];
  /** Row labels, only when they carry information (not just 0..n-1). */
  index?: unknown[];
}

const ELLIPSIS = '…';

export function isDataFrameLike(input: unknown): input is DataFrameLike {
  return (
    typeof input === 'object' &&
    input !== null &&
    !Array.isArray(input) &&
    'columns' in input &&
    'values' in input &&
    Array.isArray((input as DataFrameLike).values)
  );
}

function isDefaultIndex(index: unknown[]): boolean {
  return index.every((label, i) => label === i);
}

/** Row objects (union of their keys, in first-seen order) or a DataFrame → Table. */
export function toTable(input: TableInput): Table {
  if (isDataFrameLike(input)) {
    const values = input.values;
    const oneColumn = values.length > 0 && !Array.isArray(values[0]);
    const columns = Array.isArray(input.columns) ? input.columns.map(String) : [String(input.columns ?? 'value')];
    const rows = oneColumn ? (values as unknown[]).map((v) => [v]) : (values as unknown[][]).map((r) => [...r]);
    const index = Array.isArray(input.index) && !isDefaultIndex(input.index) ? [...input.index] : undefined;
    return { columns: oneColumn ? columns.slice(0, 1) : columns, rows, index };
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of input) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  return { columns, rows: input.map((row) => columns.map((c) => row[c])) };
}

function truncate(text: string, maxChars: number): string {
  return text.length > maxChars ? text.slice(0, Math.max(1, maxChars - 1)) + ELLIPSIS : text;
}

export function isNumeric(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint';
}

/** One cell as text: integers as is, other numbers with `digits` decimals (exponent when tiny/huge). */
export function formatCell(value: unknown, digits = 4, maxChars = 80): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
    if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
    const abs = Math.abs(value);
    if (abs >= 1e9 || (abs > 0 && abs < Math.pow(10, -digits))) return value.toExponential(Math.max(1, digits - 1));
    return value.toFixed(digits);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'string') return truncate(value.replace(/\s+/g, ' '), maxChars);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return truncate(`[${Array.from(value as unknown as ArrayLike<number>).join(', ')}]`, maxChars);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return truncate(json ?? String(value), maxChars);
}

interface Layout {
  header: string[];
  /** null marks the elided middle. */
  body: Array<{ cells: string[]; numeric: boolean[] } | null>;
  numericColumn: boolean[];
  caption?: string;
}

function layoutTable(input: TableInput, opts: TableOptions): Layout {
  const table = toTable(input);
  const digits = opts.digits ?? 4;
  const maxChars = opts.maxChars ?? 80;
  const maxRows = Math.max(2, opts.maxRows ?? 20);
  const withIndex = table.index !== undefined;
  const header = withIndex ? ['', ...table.columns] : [...table.columns];
  const fullRows = table.rows.map((r, i) => (withIndex ? [table.index![i], ...r] : r));

  const keep: Array<number | null> = [];
  if (fullRows.length <= maxRows) {
    fullRows.forEach((_, i) => keep.push(i));
  } else {
    const head = Math.ceil(maxRows / 2);
    const tail = maxRows - head;
    for (let i = 0; i < head; i++) keep.push(i);
    keep.push(null);
    for (let i = fullRows.length - tail; i < fullRows.length; i++) keep.push(i);
  }
  const body = keep.map((i) => {
    if (i === null) return null;
    const row = fullRows[i];
    return {
      cells: header.map((_, c) => formatCell(row[c], digits, maxChars)),
      numeric: header.map((_, c) => isNumeric(row[c])),
    };
  });
  // A column is numeric (right-aligned header) when every non-empty shown cell is.
  const numericColumn = header.map((_, c) => {
    const shown = keep.filter((i): i is number => i !== null).map((i) => fullRows[i][c]);
    const present = shown.filter((v) => v !== null && v !== undefined);
    return present.length > 0 && present.every(isNumeric);
  });
  if (withIndex) numericColumn[0] = false;
  const sizeNote =
    fullRows.length > maxRows ? `${fullRows.length} rows × ${table.columns.length} columns, showing ${maxRows}` : undefined;
  const caption = [opts.caption, sizeNote].filter(Boolean).join(' — ') || undefined;
  return { header, body, numericColumn, caption };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The table as HTML (numbers right-aligned in tabular figures). */
export function tableHtml(input: TableInput, opts: TableOptions = {}): string {
  const t = layoutTable(input, opts);
  // `align` as well as style: sanitizers of untrusted notebooks strip style attributes.
  const align = (right: boolean) => (right ? ' align="right" style="text-align:right"' : ' align="left" style="text-align:left"');
  const head = t.header.map((h, c) => `<th${align(t.numericColumn[c])}>${escapeHtml(h)}</th>`).join('');
  const rows = t.body.map((row) => {
    if (row === null) return `<tr>${t.header.map(() => `<td style="text-align:center">${ELLIPSIS}</td>`).join('')}</tr>`;
    return `<tr>${row.cells
      .map((cell, c) => {
        const tag = c === 0 && t.header[0] === '' ? 'th' : 'td';
        return `<${tag}${align(row.numeric[c])}>${escapeHtml(cell)}</${tag}>`;
      })
      .join('')}</tr>`;
  });
  // The caption sits above the table, not in a <caption>: a <caption> is as wide as its
  // table, so a two-column table wraps its caption into 3–4 short lines.
  const caption = t.caption ? `<div style="text-align:left;margin:0 0 0.3em;max-width:60em">${escapeHtml(t.caption)}</div>` : '';
  return (
    `${caption}<table style="border-collapse:collapse;font-variant-numeric:tabular-nums">` +
    `<thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

/** The table as aligned plain text (for logs, tests and scripts). */
export function tableText(input: TableInput, opts: TableOptions = {}): string {
  const t = layoutTable(input, opts);
  const widths = t.header.map((h, c) =>
    Math.max(h.length, ...t.body.map((row) => (row === null ? 1 : row.cells[c].length))),
  );
  const pad = (text: string, c: number, right: boolean) => (right ? text.padStart(widths[c]) : text.padEnd(widths[c]));
  const lines: string[] = [];
  if (t.caption) lines.push(t.caption);
  lines.push(t.header.map((h, c) => pad(h, c, t.numericColumn[c])).join('  ').trimEnd());
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of t.body) {
    if (row === null) lines.push(widths.map((w, c) => pad(ELLIPSIS, c, t.numericColumn[c])).join('  ').trimEnd());
    else lines.push(row.cells.map((cell, c) => pad(cell, c, row.numeric[c] || t.numericColumn[c])).join('  ').trimEnd());
  }
  return lines.join('\n');
}

/** Show a table: HTML in a notebook, aligned text elsewhere. */
export function showTable(input: TableInput, opts: TableOptions = {}): void {
  const text = tableText(input, opts);
  if (inNotebook()) displayBundle({ 'text/html': tableHtml(input, opts), 'text/plain': text });
  else console.log(text);
}

/** Show markdown: rendered in a notebook, as is elsewhere. */
export function showMarkdown(md: string): void {
  display.markdown(md);
}
