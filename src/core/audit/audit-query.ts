// Reading the audit log: parsing and validating stored entries, and listing them with filters.
// Filters apply to the hashed `entry` (the only thing displayed), never to the unhashed index
// columns beside it, so a row edited outside Rotor can change what `verify` says but cannot
// make a listing show something other than what was hashed.
import { canonicalEntry, OUTCOMES, type AuditEntry } from './audit-log.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { METHODS } from '../store/schema.js';

/** One audit row as read back: the event, its position in the chain and its chain hash. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  hash: string;
}

export interface AuditFilter {
  secret?: string;
  environment?: string;
  /** Exact action, or a prefix before a dot: `rotate` matches `rotate.promote`. */
  action?: string;
  /** Inclusive lower bound, milliseconds since the epoch. */
  since?: number;
  /** Inclusive upper bound, milliseconds since the epoch. */
  until?: number;
}

export interface AuditListOptions extends AuditFilter {
  /** `desc` (newest first, the default) or `asc` (chronological). */
  order?: 'asc' | 'desc';
  /** At most this many matching rows; 0 or absent means all. */
  limit?: number;
  /** Rows fetched per query. */
  chunkSize?: number;
}

export const ENTRY_KEYS = ['v', 'at', 'secret', 'environment', 'operator', 'method', 'action', 'outcome', 'requestId', 'notes', 'details'] as const;

// A JSON grammar for exactly what `canonicalEntry` writes: the keys in their fixed order, no
// whitespace, the right types and enums. Used by `verify` on every row because it is several
// times cheaper than JSON.parse; `entryProblem` explains a rejection in words.
// Strings are written as an unrolled loop (`"plain*(escape plain*)*"`), which irregexp scans
// about a fifth faster than an alternation per character.
const PLAIN = '[^"\\\\\\x00-\\x1f]';
const ESCAPE = '\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4})';
const STR = `"${PLAIN}*(?:${ESCAPE}${PLAIN}*)*"`;
const NUM = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const VAL = `(?:null|true|false|${NUM}|${STR})`;
export const CANONICAL_ENTRY_SHAPE = new RegExp(
  '^\\{"v":1,"at":"(?:\\d{4}|[+-]\\d{6})-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"' +
    `,"secret":(?:null|${STR}),"environment":(?:null|${STR}),"operator":${STR}` +
    `,"method":"(?:${METHODS.join('|')})","action":${STR},"outcome":"(?:${OUTCOMES.join('|')})"` +
    `,"requestId":${STR},"notes":${STR},"details":\\{(?:${STR}:${VAL}(?:,${STR}:${VAL})*)?\\}\\}$`,
);

const isStringOrNull = (v: unknown) => v === null || typeof v === 'string';

/**
 * Says what is wrong with a stored entry, or returns undefined when it is a well-formed
 * canonical entry (parses, has exactly the expected keys in order, right types, canonical text).
 */
export function entryProblem(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'is not valid JSON';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'is not a JSON object';
  const o = parsed as Record<string, unknown>;
  const keys = Object.keys(o);
  const missing = ENTRY_KEYS.filter((k) => !keys.includes(k));
  if (missing.length > 0) return `lacks ${missing.map((k) => `"${k}"`).join(', ')}`;
  const extra = keys.filter((k) => !(ENTRY_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) return `has unexpected ${extra.map((k) => `"${k}"`).join(', ')}`;
  if (o.v !== 1) return `has unknown version ${JSON.stringify(o.v)}`;
  if (typeof o.at !== 'string' || Number.isNaN(Date.parse(o.at)) || new Date(Date.parse(o.at)).toISOString() !== o.at) return '"at" is not an ISO-8601 UTC time';
  if (!isStringOrNull(o.secret) || !isStringOrNull(o.environment)) return '"secret" and "environment" must be strings or null';
  for (const k of ['operator', 'action', 'requestId', 'notes'] as const) if (typeof o[k] !== 'string') return `"${k}" is not a string`;
  if (!(METHODS as readonly unknown[]).includes(o.method)) return `"method" is not one of ${METHODS.join(', ')}`;
  if (!(OUTCOMES as readonly unknown[]).includes(o.outcome)) return `"outcome" is not one of ${OUTCOMES.join(', ')}`;
  const d = o.details;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return '"details" is not an object';
  for (const [k, v] of Object.entries(d)) {
    if (!(v === null || ['string', 'number', 'boolean'].includes(typeof v))) return `"details.${k}" is not a string, number, boolean or null`;
  }
  if (canonicalEntry(o as unknown as AuditEntry) !== text) return 'is not in canonical form (key order, spacing or escaping differs)';
  return undefined;
}

/** Parses a stored entry for display; a malformed one is an error naming the row. */
export function parseAuditEntry(text: string, seq: number): AuditEntry {
  let entry: AuditEntry | undefined;
  try {
    entry = JSON.parse(text) as AuditEntry;
  } catch {
    entry = undefined;
  }
  if (!entry || typeof entry !== 'object' || entry.v !== 1 || typeof entry.at !== 'string' || typeof entry.action !== 'string' || typeof entry.details !== 'object') {
    throw new RotorError('ERR_ROTOR_AUDIT_CHAIN_BROKEN', `audit row ${seq} is malformed (its entry ${entryProblem(text) ?? 'cannot be read'}): run \`rotor audit verify\``, {
      details: { seq },
    });
  }
  return entry;
}

/** Only the known keys, in a fixed order, so an unexpected key in a stored entry never leaks into output. */
function toRecord(seq: number, hash: string, e: AuditEntry): AuditRecord {
  return {
    seq,
    v: e.v,
    at: e.at,
    secret: e.secret ?? null,
    environment: e.environment ?? null,
    operator: e.operator,
    method: e.method,
    action: e.action,
    outcome: e.outcome,
    requestId: e.requestId,
    notes: e.notes ?? '',
    details: e.details ?? {},
    hash,
  };
}

function matches(e: AuditEntry, f: AuditFilter): boolean {
  if (f.secret !== undefined && e.secret !== f.secret) return false;
  if (f.environment !== undefined && e.environment !== f.environment) return false;
  if (f.action !== undefined && e.action !== f.action && !e.action.startsWith(`${f.action}.`)) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const at = Date.parse(e.at);
    if (f.since !== undefined && at < f.since) return false;
    if (f.until !== undefined && at > f.until) return false;
  }
  return true;
}

/**
 * Streams matching rows in `seq` order, fetching keyset-paginated chunks so memory stays flat
 * on any log size.
 *
 * @example
 * for await (const r of iterateAudit(store, { secret: 'JWT_ACCESS_SECRET', order: 'asc' })) console.log(r.seq, r.action);
 */
export async function* iterateAudit(store: Pick<Store, 'db' | 'guard'>, options: AuditListOptions = {}): AsyncGenerator<AuditRecord> {
  const desc = (options.order ?? 'desc') === 'desc';
  const chunkSize = options.chunkSize ?? 2000;
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  let cursor: number | undefined;
  let found = 0;
  for (;;) {
    const after = cursor;
    const rows = await store.guard(() => {
      let q = store.db.selectFrom('audit_events').select(['seq', 'entry', 'hash']);
      if (after !== undefined) q = q.where('seq', desc ? '<' : '>', after);
      return q.orderBy('seq', desc ? 'desc' : 'asc').limit(chunkSize).execute();
    });
    for (const row of rows) {
      const entry = parseAuditEntry(row.entry, row.seq);
      if (!matches(entry, options)) continue;
      yield toRecord(row.seq, row.hash, entry);
      if (++found >= limit) return;
    }
    if (rows.length < chunkSize) return;
    cursor = rows[rows.length - 1]!.seq;
  }
}

/**
 * Lists matching rows, newest first unless `order: 'asc'`.
 *
 * @example
 * const last10 = await listAudit(store, { environment: 'production', limit: 10 });
 */
export async function listAudit(store: Pick<Store, 'db' | 'guard'>, options: AuditListOptions = {}): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const record of iterateAudit(store, options)) out.push(record);
  return out;
}
