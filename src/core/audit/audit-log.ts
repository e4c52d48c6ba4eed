// The append-only, hash-chained audit log. Each row's `entry` is canonical JSON of the event
// and its hash is SHA-256 over the previous row's hash and that entry, so editing, deleting,
// inserting or reordering any row breaks the chain at that row. Entries never hold a value.
import { hash as sha256 } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import type { StoreReads } from '../store/sqlite-reads.js';
import type { Database, Method } from '../store/schema.js';

export const GENESIS_HASH = '0'.repeat(64);

export const OUTCOMES = ['success', 'failure', 'started', 'info'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Who is acting and under which request; attached to every row a command writes. */
export interface Actor {
  operator: string;
  requestId: string;
  method: Method;
}

export interface AuditEventInput {
  secret?: string | null;
  environment?: string | null;
  action: string;
  outcome: Outcome;
  notes?: string;
  /** Non-secret structured facts: version ids, step names, error codes. */
  details?: Record<string, string | number | boolean | null>;
  /** Overrides the actor's method (a rotation's method may differ from the command's). */
  method?: Method;
}

/** The event as stored and hashed, in a fixed key order. */
export interface AuditEntry {
  v: 1;
  at: string;
  secret: string | null;
  environment: string | null;
  operator: string;
  method: Method;
  action: string;
  outcome: Outcome;
  requestId: string;
  notes: string;
  details: Record<string, string | number | boolean | null>;
}

export function canonicalEntry(e: AuditEntry): string {
  const details: Record<string, string | number | boolean | null> = {};
  for (const key of Object.keys(e.details).sort()) details[key] = e.details[key] ?? null;
  return JSON.stringify({
    v: e.v,
    at: e.at,
    secret: e.secret,
    environment: e.environment,
    operator: e.operator,
    method: e.method,
    action: e.action,
    outcome: e.outcome,
    requestId: e.requestId,
    notes: e.notes,
    details,
  });
}

// Scratch space for chainHash. Encoding both parts into one reused buffer and hashing a view of
// it skips building, then flattening, a concatenated string per row: about 5% of `verify`'s
// time per row (10–15% of the hashing). Views are cached per length because creating one per
// call costs about as much as it saves. The bytes are exactly the UTF-8 of
// `${previousHash}\n${entry}` (lone surrogates become U+FFFD either way), so hashes are unchanged.
const SCRATCH = Buffer.alloc(64 * 1024);
const VIEWS: Uint8Array[] = [];

/** The chain link: SHA-256 over the previous hash, a newline, and the canonical entry. */
export function chainHash(previousHash: string, entry: string): string {
  // At most 3 UTF-8 bytes per UTF-16 unit: anything that might not fit takes the plain path,
  // and so does a tampered row whose column is not text (null, a BLOB) despite the types.
  if (
    typeof previousHash !== 'string' ||
    typeof entry !== 'string' ||
    (previousHash.length + entry.length) * 3 + 1 > SCRATCH.length
  ) {
    return sha256('sha256', `${previousHash}\n${entry}`, 'hex');
  }
  let n = SCRATCH.write(previousHash, 0, 'utf8');
  SCRATCH[n++] = 0x0a;
  n += SCRATCH.write(entry, n, 'utf8');
  return sha256(
    'sha256',
    (VIEWS[n] ??= new Uint8Array(SCRATCH.buffer, SCRATCH.byteOffset, n)),
    'hex',
  );
}

/** The entry an event is stored as, at `at` (ms since the epoch). */
export function auditEntry(at: number, actor: Actor, input: AuditEventInput): AuditEntry {
  return {
    v: 1,
    at: new Date(at).toISOString(),
    secret: input.secret ?? null,
    environment: input.environment ?? null,
    operator: actor.operator,
    method: input.method ?? actor.method,
    action: input.action,
    outcome: input.outcome,
    requestId: actor.requestId,
    notes: input.notes ?? '',
    details: input.details ?? {},
  };
}

/**
 * Appends one event. Must run inside `store.writeTransaction` (or use `recordAudit`), so that
 * reading the chain head and inserting the next row cannot interleave with another writer.
 */
export async function appendAudit(
  trx: Kysely<Database>,
  clock: Clock,
  actor: Actor,
  input: AuditEventInput,
): Promise<AuditEntry> {
  const at = clock.now();
  const entry = auditEntry(at, actor, input);
  const head = await trx
    .selectFrom('audit_events')
    .select('hash')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const text = canonicalEntry(entry);
  await trx
    .insertInto('audit_events')
    .values({
      at,
      secret: entry.secret,
      environment: entry.environment,
      action: entry.action,
      entry: text,
      hash: chainHash(head?.hash ?? GENESIS_HASH, text),
    })
    .execute();
  return entry;
}

/** appendAudit on the synchronous SQLite read path: call it inside `reads.write`. */
export function appendAuditOn(
  reads: Pick<StoreReads, 'get' | 'run'>,
  clock: Clock,
  actor: Actor,
  input: AuditEventInput,
): AuditEntry {
  const at = clock.now();
  const entry = auditEntry(at, actor, input);
  const head = reads.get<{ hash: string }>(
    'SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  );
  const text = canonicalEntry(entry);
  reads.run(
    'INSERT INTO audit_events (at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?)',
    at,
    entry.secret,
    entry.environment,
    entry.action,
    text,
    chainHash(head?.hash ?? GENESIS_HASH, text),
  );
  return entry;
}

/** Appends events in their own write transaction. */
export async function recordAudit(
  store: Store,
  clock: Clock,
  actor: Actor,
  ...inputs: AuditEventInput[]
): Promise<void> {
  await store.writeTransaction(async (trx) => {
    for (const input of inputs) await appendAudit(trx, clock, actor, input);
  });
}
