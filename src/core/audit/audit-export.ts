// `rotor audit export` as md, csv or json (formats: docs/audit.md), streamed chunk by chunk so a
// log of millions of rows never becomes one string in memory.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { ENTRY_KEYS, iterateAudit, type AuditFilter, type AuditRecord } from './audit-query.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';

export const AUDIT_EXPORT_FORMATS = ['md', 'csv', 'json'] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

export interface AuditExportOptions {
  format: AuditExportFormat;
  filter?: AuditFilter;
  /** Rows rendered per write (default 1000). */
  batch?: number;
}

/** Checks a user-supplied format name; anything else is ERR_ROTOR_INVALID_ARGUMENT naming the choices. */
export function parseAuditExportFormat(format: string): AuditExportFormat {
  if ((AUDIT_EXPORT_FORMATS as readonly string[]).includes(format))
    return format as AuditExportFormat;
  throw new RotorError(
    'ERR_ROTOR_INVALID_ARGUMENT',
    `unknown export format "${format}": use one of ${AUDIT_EXPORT_FORMATS.join(', ')}`,
    { details: { format } },
  );
}

/** One Markdown table cell: no raw pipe, line break, HTML or control character survives. */
export function markdownCell(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/\\/g, '\\\\')
      .replace(/\|/g, '\\|')
      .replace(/\r\n|\r|\n/g, '<br>')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x1f\x7f]/g, ' ')
  );
}

/** First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field per RFC 4180, neutralised against formula injection: a cell an attacker could
 * fill (a reason, an operator name, a note) and that starts like a formula is prefixed with `'`
 * and quoted, so a spreadsheet shows it as text.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const raw = String(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return text !== raw || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const MD_HEADER =
  '| Date | Secret | Operator | Method | Notes |\n| --- | --- | --- | --- | --- |\n';
/** What csv and json rows hold, in order: an entry's keys between its seq and its hash. */
const RECORD_KEYS = ['seq', ...ENTRY_KEYS, 'hash'] as const;
/** csv leaves out the entry format version and names columns in snake_case. */
const CSV_KEYS = RECORD_KEYS.filter((k) => k !== 'v');
const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const CSV_HEADER = `${CSV_KEYS.map(snakeCase).join(',')}\r\n`;

function mdRow(r: AuditRecord): string {
  const secret =
    r.secret === null ? '—' : r.environment === null ? r.secret : `${r.secret} (${r.environment})`;
  const notes = `${r.action} (${r.outcome})${r.notes ? `: ${r.notes}` : ''}`;
  return `| ${[r.at, secret, r.operator, r.method, notes].map(markdownCell).join(' | ')} |\n`;
}

function csvRow(r: AuditRecord): string {
  const cells = CSV_KEYS.map((k) => (k === 'details' ? JSON.stringify(r.details) : r[k]));
  return `${cells.map(csvField).join(',')}\r\n`;
}

function jsonRow(r: AuditRecord): string {
  return JSON.stringify(Object.fromEntries(RECORD_KEYS.map((k) => [k, r[k]])));
}

async function write(out: Writable, text: string): Promise<void> {
  if (text !== '' && !out.write(text)) await once(out, 'drain');
}

/**
 * Writes the (filtered) audit log to `out`, oldest first, and resolves to the row count. Does
 * not end `out`.
 *
 * @example
 * await exportAudit(store, createWriteStream('audit.csv'), { format: 'csv' });
 */
export async function exportAudit(
  store: Pick<Store, 'db' | 'guard'> & Partial<Pick<Store, 'dialect'>>,
  out: Writable,
  options: AuditExportOptions,
): Promise<{ rows: number }> {
  const batch = options.batch ?? 1000;
  const { format } = options;
  let rows = 0;
  let pending: string[] = [];
  const flush = async () => {
    const text = pending.join('');
    pending = [];
    await write(out, text);
  };
  if (format === 'md') pending.push(MD_HEADER);
  else if (format === 'csv') pending.push(CSV_HEADER);
  else pending.push('[');
  for await (const record of iterateAudit(store, { ...options.filter, order: 'asc' })) {
    if (format === 'md') pending.push(mdRow(record));
    else if (format === 'csv') pending.push(csvRow(record));
    else pending.push(rows === 0 ? '\n' : ',\n', jsonRow(record));
    rows++;
    if (pending.length >= batch) await flush();
  }
  if (format === 'json') pending.push(rows === 0 ? ']\n' : '\n]\n');
  await flush();
  return { rows };
}
