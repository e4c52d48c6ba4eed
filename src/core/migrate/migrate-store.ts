// `rotor store migrate`: copies every table of one store into an empty one (SQLite → PostgreSQL),
// row for row. Sealed values stay sealed under the same master key; audit rows keep their seq,
// entry and hash, so the chain verifies on the target. Both sides then record `store.migrated`.
import type { Kysely } from 'kysely';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import { verifyAuditChain } from '../audit/audit-verify.js';
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { syncAuditSequence } from '../store/postgres-adapter.js';
import type { Database } from '../store/schema.js';

export interface MigrateStoreInput {
  source: Store;
  target: Store;
  clock: Clock;
  actor: Actor;
}

export interface MigrateStoreResult {
  /** Rows copied per table (the `store.migrated` rows excluded). */
  tables: Record<string, number>;
  /** The audit head both chains share before each side's `store.migrated` row. */
  headSeq: number;
  headHash: string;
}

const AUDIT = 'audit_events';
const CHUNK = 500;
// Kysely's migration bookkeeping: each store has its own.
const SKIPPED = /^rotor_migrations/;

type AnyDb = Kysely<Record<string, Record<string, unknown>>>;

/** The store seen through an open transaction, read with portable queries only. */
function portable(store: Store, trx: Kysely<Database>): Pick<Store, 'db' | 'guard' | 'dialect'> {
  return { db: trx, guard: (fn) => store.guard(fn), dialect: store.dialect };
}

/** Table → column names, from the database itself, so tables added by later migrations are copied too. */
async function tableColumns(db: Kysely<Database>): Promise<Map<string, string[]>> {
  const tables = await db.introspection.getTables();
  return new Map(
    tables
      .filter((t) => !t.isView && !SKIPPED.test(t.name))
      .map((t) => [t.name, t.columns.map((c) => c.name)]),
  );
}

async function assertEmpty(db: Kysely<Database>, tables: string[], where: string): Promise<void> {
  const any = db as unknown as AnyDb;
  for (const table of tables) {
    const row = await any.selectFrom(table).selectAll().limit(1).executeTakeFirst();
    if (row) {
      throw new RotorError(
        'ERR_ROTOR_STORE_TARGET_NOT_EMPTY',
        `the target store ${where} already holds data (table ${table}): store migrate only fills an empty store; nothing was copied`,
        { details: { store: where, table } },
      );
    }
  }
}

async function insertChunked(
  dst: AnyDb,
  table: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await dst
      .insertInto(table)
      .values(rows.slice(i, i + CHUNK))
      .execute();
}

/** Copies one table; the audit log in seq order, a chunk at a time (it may be millions of rows). */
async function copyTable(
  src: AnyDb,
  dst: AnyDb,
  table: string,
  columns: string[],
): Promise<number> {
  if (table !== AUDIT) {
    const rows = await src
      .selectFrom(table)
      .select(columns as never)
      .execute();
    await insertChunked(dst, table, rows);
    return rows.length;
  }
  let copied = 0;
  for (let after = 0; ;) {
    const rows = (await src
      .selectFrom(AUDIT)
      .select(columns as never)
      .where('seq' as never, '>', after as never)
      .orderBy('seq' as never)
      .limit(CHUNK)
      .execute()) as Array<Record<string, unknown>>;
    if (rows.length === 0) return copied;
    await insertChunked(dst, AUDIT, rows);
    copied += rows.length;
    after = Number(rows[rows.length - 1]!.seq);
  }
}

/**
 * Copies `source` into the empty `target` inside both stores' write transactions (nobody writes
 * to either meanwhile), checks the target's chain ends at the source's head, then appends
 * `store.migrated` to both. Refuses a non-empty target and a source whose chain is broken.
 */
export async function migrateStore(input: MigrateStoreInput): Promise<MigrateStoreResult> {
  const { source, target, clock, actor } = input;
  const [from, to] = [await tableColumns(source.db), await tableColumns(target.db)];
  const missing = [...from.keys()].filter((t) => !to.has(t));
  if (missing.length > 0) {
    throw new RotorError(
      'ERR_ROTOR_STORE_CORRUPT',
      `the target store ${target.location} lacks table(s) ${missing.join(', ')}: is it the same Rotor version?`,
    );
  }
  const tables = [...from.keys()].sort((a, b) => Number(a === AUDIT) - Number(b === AUDIT));
  return source.writeTransaction((src) =>
    target.writeTransaction(async (dst) => {
      await assertEmpty(dst, [...to.keys()], target.location);
      const before = await verifyAuditChain(portable(source, src), { allowSeqGaps: true });
      if (!before.ok) {
        throw new RotorError(
          'ERR_ROTOR_AUDIT_CHAIN_BROKEN',
          `the source store's audit chain is broken (${before.firstBad?.message ?? 'unknown'}): run \`rotor audit verify\`; nothing was copied`,
        );
      }
      const copied: Record<string, number> = {};
      for (const table of tables) {
        const columns = from.get(table)!.filter((c) => to.get(table)!.includes(c));
        copied[table] = await copyTable(src as never, dst as never, table, columns);
      }
      if (target.dialect === 'postgres') await syncAuditSequence(dst);
      const after = await verifyAuditChain(portable(target, dst), { allowSeqGaps: true });
      if (!after.ok || after.headSeq !== before.headSeq || after.headHash !== before.headHash) {
        throw new RotorError(
          'ERR_ROTOR_AUDIT_CHAIN_BROKEN',
          `the copied audit chain does not match the source (${after.firstBad?.message ?? `head ${after.headSeq}`}): nothing was copied`,
        );
      }
      const details = { rows: before.rows, headSeq: before.headSeq, headHash: before.headHash };
      await appendAudit(src, clock, actor, {
        action: 'store.migrated',
        outcome: 'success',
        notes: `copied to ${target.location}`,
        details: { ...details, to: target.location },
      });
      await appendAudit(dst, clock, actor, {
        action: 'store.migrated',
        outcome: 'success',
        notes: `copied from ${source.location}`,
        details: { ...details, from: source.location },
      });
      return { tables: copied, headSeq: before.headSeq, headHash: before.headHash };
    }),
  );
}
