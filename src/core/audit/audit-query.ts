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

export const ENTRY_KEYS = [
  'v',
  'at',
  'secret',
  'environment',
  'operator',
  'method',
  'action',
  'outcome',
  'requestId',
  'notes',
  'details',
] as const;

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
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return 'is not a JSON object';
  const o = parsed as Record<string, unknown>;
  const keys = Object.keys(o);
  const missing = ENTRY_KEYS.filter((k) => !keys.includes(k));
  if (missing.length > 0) return `lacks ${missing.map((k) => `"${k}"`).join(', ')}`;
  const extra = keys.filter((k) => !(ENTRY_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) return `has unexpected ${extra.map((k) => `"${k}"`).join(', ')}`;
  if (o.v !== 1) return `has unknown version ${JSON.stringify(o.v)}`;
  if (
    typeof o.at !== 'string' ||
    Number.isNaN(Date.parse(o.at)) ||
    new Date(Date.parse(o.at)).toISOString() !== o.at
  )
    return '"at" is not an ISO-8601 UTC time';
  if (!isStringOrNull(o.secret) || !isStringOrNull(o.environment))
    return '"secret" and "environment" must be strings or null';
  for (const k of ['operator', 'action', 'requestId', 'notes'] as const)
    if (typeof o[k] !== 'string') return `"${k}" is not a string`;
  if (!(METHODS as readonly unknown[]).includes(o.method))
    return `"method" is not one of ${METHODS.join(', ')}`;
  if (!(OUTCOMES as readonly unknown[]).includes(o.outcome))
    return `"outcome" is not one of ${OUTCOMES.join(', ')}`;
  const d = o.details;
  if (d === null || typeof d !== 'object' || Array.isArray(d)) return '"details" is not an object';
  for (const [k, v] of Object.entries(d)) {
    if (!(v === null || ['string', 'number', 'boolean'].includes(typeof v)))
      return `"details.${k}" is not a string, number, boolean or null`;
  }
  if (canonicalEntry(o as unknown as AuditEntry) !== text)
    return 'is not in canonical form (key order, spacing or escaping differs)';
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
  if (
    !entry ||
    typeof entry !== 'object' ||
    entry.v !== 1 ||
    typeof entry.at !== 'string' ||
    typeof entry.action !== 'string' ||
    typeof entry.details !== 'object'
  ) {
    throw new RotorError(
      'ERR_ROTOR_AUDIT_CHAIN_BROKEN',
      `audit row ${seq} is malformed (its entry ${entryProblem(text) ?? 'cannot be read'}): run \`rotor audit verify\``,
      {
        details: { seq },
      },
    );
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
  if (f.action !== undefined && e.action !== f.action && !e.action.startsWith(`${f.action}.`))
    return false;
  if (f.since !== undefined || f.until !== undefined) {
    const at = Date.parse(e.at);
    if (f.since !== undefined && at < f.since) return false;
    if (f.until !== undefined && at > f.until) return false;
  }
  return true;
}

/**
 * Rows one query may scan when no index narrows it (time filters only), and rows it may return.
 * Each query is one synchronous SQLite call, so these bound how long one holds the event loop;
 * between queries the iterator yields to other requests (see `yieldToEventLoop`).
 */
const SCAN_WINDOW = 2048;
const DEFAULT_CHUNK = 250;

/**
 * Lets the requests waiting on the event loop run (SQLite calls complete synchronously, so a scan
 * would otherwise never give way). When other work did run meanwhile, the server is busy: the
 * scan then also pauses for three times as long as its last slice took, so a long listing or
 * export takes at most about a quarter of a busy server's time and little of an idle one's.
 */
function createPacer(): () => Promise<void> {
  let resumed = performance.now();
  return async () => {
    const worked = performance.now() - resumed;
    const before = performance.now();
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (performance.now() - before > 1)
      await new Promise<void>((resolve) =>
        setTimeout(resolve, Math.min(50, Math.ceil(3 * worked))),
      );
    resumed = performance.now();
  };
}

/** The ISO form of a time bound, for comparing with the entry's `at` in SQL (years 0000-9999). */
function isoBound(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/**
 * Streams matching rows in `seq` order. Filters run in SQL on fields of the hashed entry
 * (indexed by migration 0007: secret, environment, action) and again on the parsed entry, so a
 * listing shows only what was hashed. Queries are keyset-paginated within windows of seqs, and
 * the iterator yields to the event loop between them, so a scan of millions of rows neither
 * grows memory nor holds back other requests.
 *
 * @example
 * for await (const r of iterateAudit(store, { secret: 'JWT_ACCESS_SECRET', order: 'asc' })) console.log(r.seq, r.action);
 */
export async function* iterateAudit(
  store: Pick<Store, 'db' | 'guard'> & Partial<Pick<Store, 'dialect'>>,
  options: AuditListOptions = {},
): AsyncGenerator<AuditRecord> {
  // The indexed expressions of migration 0007 (loaded here, not at the top: worker threads import this module without Kysely).
  const field =
    store.dialect === 'postgres'
      ? (await import('../store/postgres-adapter.js')).postgresMigrationDialect.auditEntryField
      : (await import('../store/sqlite-adapter.js')).sqliteMigrationDialect.auditEntryField;
  const desc = (options.order ?? 'desc') === 'desc';
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  const since = isoBound(options.since);
  const until = isoBound(options.until);
  const window = SCAN_WINDOW;
  // Two queries: SQLite answers min() or max() alone from the b-tree's edge, both together by a full scan.
  const edgeSeq = (direction: 'asc' | 'desc') =>
    store.guard(() =>
      store.db
        .selectFrom('audit_events')
        .select('seq')
        .orderBy('seq', direction)
        .limit(1)
        .executeTakeFirst(),
    );
  const hi = Number((await edgeSeq('desc'))?.seq ?? 0);
  if (hi === 0) return;
  const lo = Number((await edgeSeq('asc'))?.seq ?? 1);
  let found = 0;
  const yieldToEventLoop = createPacer();
  // Rows in (from, to] for asc; [to, from) walking down for desc.
  let cursor = desc ? hi + 1 : lo - 1;
  while (desc ? cursor > lo : cursor < hi) {
    const after = cursor;
    const edge = desc ? Math.max(lo, after - window) : Math.min(hi, after + window);
    const rows = await store.guard(() => {
      let q = store.db.selectFrom('audit_events').select(['seq', 'entry', 'hash']);
      q = desc
        ? q.where('seq', '<', after).where('seq', '>=', edge)
        : q.where('seq', '>', after).where('seq', '<=', edge);
      if (options.secret !== undefined) q = q.where(field('secret'), '=', options.secret);
      if (options.environment !== undefined)
        q = q.where(field('environment'), '=', options.environment);
      if (options.action !== undefined) {
        // The action itself or `action.*`: one index range (the parsed check below drops `action-x`).
        const action = options.action;
        q = q.where(field('action'), '>=', action).where(field('action'), '<', `${action}/`);
      }
      // `at` strings compare in time order for years 0000-9999; others ('+', '-') sort first and are kept for the parsed check.
      if (since !== undefined)
        q = q.where((eb) => eb.or([eb(field('at'), '>=', since), eb(field('at'), '<', '0')]));
      if (until !== undefined)
        q = q.where((eb) => eb.or([eb(field('at'), '<=', until), eb(field('at'), '<', '0')]));
      return q
        .orderBy('seq', desc ? 'desc' : 'asc')
        .limit(chunkSize)
        .execute();
    });
    for (const row of rows) {
      const entry = parseAuditEntry(row.entry, row.seq);
      if (!matches(entry, options)) continue;
      yield toRecord(row.seq, row.hash, entry);
      if (++found >= limit) return;
    }
    // A full chunk may have more rows in this window; otherwise the window is done.
    cursor = rows.length === chunkSize ? rows[rows.length - 1]!.seq : edge;
    if (rows.length < chunkSize && (desc ? edge <= lo : edge >= hi)) return;
    await yieldToEventLoop();
  }
}

/**
 * Lists matching rows, newest first unless `order: 'asc'`.
 *
 * @example
 * const last10 = await listAudit(store, { environment: 'production', limit: 10 });
 */
export async function listAudit(
  store: Pick<Store, 'db' | 'guard'> & Partial<Pick<Store, 'dialect'>>,
  options: AuditListOptions = {},
): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const record of iterateAudit(store, options)) out.push(record);
  return out;
}
