// Opens the store named by configuration: SQLite at `.rotor/rotor.db` by default, PostgreSQL
// with ROTOR_STORE_URL=postgres://… (postgres-adapter.ts), without touching any query.
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { migrationFailure } from './store-errors.js';
import { migrateToLatest, migrationsCurrent } from './migrations.js';
import type { Database } from './schema.js';
import { mapSqliteError, openSqlite, sqliteMigrationDialect } from './sqlite-adapter.js';
import { sqliteAuditReaderSource } from './sqlite-audit-reader.js';
import { resolveStoreTarget } from './store-url.js';
import { sqliteChangeSource } from './sqlite-changes.js';
import { sqliteFastReadsSource } from './sqlite-fast-reads.js';
import type { ChangeSource, FastReadsSource } from './store-capabilities.js';

export type * from './store-capabilities.js';

/** One audit row as a bulk reader returns it: `[seq, entry, hash]` (arrays are cheaper to build than objects). */
export type AuditRowTuple = [seq: number, entry: string, hash: string];

/**
 * A dialect's fast path for reading the whole audit chain, on its own read-only connection.
 * `verify` uses it where a dialect offers one and falls back to portable Kysely queries where not.
 */
export interface AuditReader {
  /** Up to `limit` rows with `after < seq <= upTo`, in seq order. */
  rows(after: number, upTo: number, limit: number): AuditRowTuple[] | Promise<AuditRowTuple[]>;
  /** The newest row with `seq <= seq` as `[seq, hash]`, if any: where a range of the chain starts. */
  rowAtOrBefore(
    seq: number,
  ): [seq: number, hash: string] | undefined | Promise<[seq: number, hash: string] | undefined>;
  /** The highest seq, 0 for an empty log. */
  maxSeq(): number | Promise<number>;
  close(): void | Promise<void>;
}

/** What a module named by `AuditReaderSource.remote` exports, so another thread can open its own reader. */
export interface AuditReaderModule {
  openAuditReader(config: unknown): AuditReader;
}

export interface AuditReaderSource {
  /** Opens a reader on a new connection; the caller closes it. */
  open(): AuditReader;
  /**
   * How a worker thread opens its own reader: import `module` (a URL) and call its
   * `openAuditReader(config)`; `config` is plain data. Absent where connections cannot be
   * opened from another thread.
   */
  readonly remote?: { module: string; config: unknown };
}

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  /** Human-readable location, for messages: the SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string;
  /** The dialect's bulk reader for the audit chain, where it has one (SQLite); absent means portable queries only. */
  readonly auditReader?: AuditReaderSource;
  /** A synchronous read path for the server's hot reads, where the dialect has one (SQLite). */
  readonly fastReads?: FastReadsSource;
  /** A cheap signal that another connection committed; absent means poll with portable queries. */
  readonly changes?: ChangeSource;
  /** Runs `fn`, mapping driver errors to RotorErrors that name the store. */
  guard<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a transaction that holds the store's write lock from its first statement, so
   * read-then-write sequences (the audit chain head, promotion) never interleave across processes.
   */
  writeTransaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** The project's state directory (default `.rotor`). */
  stateDir: string;
  /** Create the file and run migrations if missing. */
  create?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function storeFile(stateDir: string): string {
  return join(stateDir, 'rotor.db');
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const target = resolveStoreTarget(options.stateDir, options.env ?? process.env);
  if (target.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres-adapter.js');
    return openPostgresStore(target, { create: options.create ?? false });
  }
  const file = target.file;
  const db = openSqlite(file, { create: options.create ?? false });
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw mapSqliteError(error, file);
    }
  };
  const writeTransaction = <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
    guard(() =>
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (error) {
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw error;
        }
      }),
    );
  const store: Store = {
    db,
    dialect: 'sqlite',
    location: file,
    auditReader: sqliteAuditReaderSource(file),
    fastReads: sqliteFastReadsSource(file),
    changes: sqliteChangeSource(file),
    guard,
    writeTransaction,
    close: () => db.destroy(),
  };
  try {
    const migrating = db as unknown as Kysely<unknown>;
    if (!(await migrationsCurrent(migrating, sqliteMigrationDialect)))
      await guard(() => migrateToLatest(migrating, sqliteMigrationDialect));
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw migrationFailure(error, file);
  }
  return store;
}

export async function getMeta(store: Store, key: string): Promise<string | undefined> {
  const row = await store.db
    .selectFrom('meta')
    .select('value')
    .where('key', '=', key)
    .executeTakeFirst();
  return row?.value;
}

export async function setMeta(db: Kysely<Database>, key: string, value: string): Promise<void> {
  await db
    .insertInto('meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}
