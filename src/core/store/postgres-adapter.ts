// The PostgreSQL side of the store (ROTOR_STORE_URL=postgres://…): pool, type parsing, error
// mapping, the migration dialect and the write lock. `pg` is imported when a store opens, so
// SQLite users never load it. Queries above this file are the same Kysely as for SQLite.
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { RotorError } from '../errors.js';
import { appendOnlyRefusal, migrationFailure } from './store-errors.js';
import { migrateToLatest, type MigrationDialect } from './migrations.js';
import { postgresChangeSource } from './postgres-changes.js';
import { kyselyAuditReader } from './kysely-audit-reader.js';
import type { AuditReaderSource, Store } from './open-store.js';
import type { Database } from './schema.js';

/** The advisory lock every write transaction takes first: one writer at a time, as in SQLite. */
export const WRITE_LOCK_KEY = 0x526f746f72; // "Rotor"

// A plpgsql function so the trigger can raise the code the adapter maps; TRUNCATE is refused too.
const APPEND_ONLY_FUNCTION = sql`CREATE OR REPLACE FUNCTION rotor_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY: audit rows are append-only'; END $$`;

// The hashed entry's field, NULL when the entry is not a JSON object (edited outside Rotor), so
// the index never refuses a row; IMMUTABLE so it can be indexed (PostgreSQL 15 has no IS JSON).
const ENTRY_FIELD_FUNCTION = sql`CREATE OR REPLACE FUNCTION rotor_audit_field(entry text, field text) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN entry::jsonb ->> field; EXCEPTION WHEN others THEN RETURN NULL; END $$`;

// One channel for every change the watchers care about; NOTIFY folds duplicates within a
// transaction. The readiness probe's meta row is left out: /readyz would wake every instance.
const NOTIFY_FUNCTION = sql`CREATE OR REPLACE FUNCTION rotor_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('rotor_changes', TG_TABLE_NAME); RETURN NULL; END $$`;
const notifyOnStatement = (table: string) =>
  sql.raw(
    `CREATE TRIGGER ${table}_notify AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION rotor_notify_change()`,
  );

export const postgresMigrationDialect: MigrationDialect = {
  binaryType: 'bytea',
  text: sql`text COLLATE "C"`,
  seqType: 'bigint',
  autoIncrementPk: (c) => c.primaryKey().generatedByDefaultAsIdentity(),
  auditEntryField: (field) => sql.raw(`(rotor_audit_field(entry, '${field}') COLLATE "C")`),
  auditEntryFieldSetup: [ENTRY_FIELD_FUNCTION],
  appendOnlyAudit: [
    APPEND_ONLY_FUNCTION,
    sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION rotor_audit_append_only()`,
    sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION rotor_audit_append_only()`,
    sql`CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION rotor_audit_append_only()`,
  ],
  changeNotify: [
    NOTIFY_FUNCTION,
    notifyOnStatement('versions'),
    notifyOnStatement('secrets'),
    notifyOnStatement('api_tokens'),
    sql`CREATE TRIGGER meta_notify AFTER INSERT OR UPDATE ON meta FOR EACH ROW WHEN (NEW.key <> 'ready_probe_at') EXECUTE FUNCTION rotor_notify_change()`,
  ],
};

// Network errors, then SQLSTATE classes: connection (08), resources (53), operator intervention
// (57), serialization/deadlock (40), read-only transaction (25006), authentication (28).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE']);
const UNAVAILABLE_SQLSTATE = /^(08|53|57|40|28)|^25006$/;
const NETWORK_MESSAGE = /Connection terminated|timeout expired|connection timeout/i;

/** Maps a `pg` error to a RotorError naming the store (never its password); others pass through. */
export function mapPostgresError(error: unknown, display: string): unknown {
  if (error instanceof RotorError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  const refusal = appendOnlyRefusal(error);
  if (refusal) return refusal;
  if (code === '3D000') {
    return new RotorError(
      'ERR_ROTOR_STORE_NOT_INITIALIZED',
      `the database of the store ${display} does not exist: create it (CREATE DATABASE), then run \`rotor init\` or \`rotor store migrate\``,
      { cause: error, details: { store: display } },
    );
  }
  const network = typeof code === 'string' && NETWORK_CODES.has(code);
  const sqlstate = typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code);
  if (network || sqlstate || NETWORK_MESSAGE.test(message)) {
    const cause = typeof code === 'string' ? code : 'connection';
    return new RotorError(
      'ERR_ROTOR_STORE_UNAVAILABLE',
      `the store ${display} cannot be reached or written (${cause}): nothing was changed; check the server, the credentials and the network`,
      { cause: error, details: { store: display, cause } },
    );
  }
  return error;
}

export interface PostgresConnection {
  url: string;
  password?: string;
  display: string;
}

/** A Kysely over a `pg` pool: int8 as JS numbers (ms times, seqs), bytea as Buffers. */
export async function openPostgres(target: PostgresConnection): Promise<Kysely<Database>> {
  const { default: pg } = await import('pg');
  const int8 = Number(pg.types.builtins.INT8);
  const parseInt8 = (value: string): number => Number(value);
  const getTypeParser = (oid: number, format?: 'text' | 'binary'): unknown =>
    oid === int8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format);
  const types = { getTypeParser: getTypeParser as typeof pg.types.getTypeParser };
  const pool = new pg.Pool({
    connectionString: target.url,
    ...(target.password !== undefined ? { password: target.password } : {}),
    max: 10,
    connectionTimeoutMillis: 10_000,
    application_name: 'rotor',
    types,
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Whether Rotor's migrations have ever run in this database. */
export async function postgresStoreExists(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{
    t: string | null;
  }>`SELECT to_regclass('rotor_migrations')::text AS t`.execute(db);
  return typeof rows[0]?.t === 'string';
}

/** After rows were copied in with their own seqs: the next append continues after the highest. */
export async function syncAuditSequence(db: Kysely<Database>): Promise<void> {
  await sql`SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), coalesce((SELECT max(seq) FROM audit_events), 0) + 1, false)`.execute(
    db,
  );
}

/** Runs `fn` in a transaction that first takes the store's write lock (released at commit). */
export function postgresWriteTransaction<T>(
  db: Kysely<Database>,
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx: Transaction<Database>) => {
    await sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`.execute(trx);
    return fn(trx);
  });
}

/**
 * The audit chain's bulk reader over the store's pool: rows as tuples, in seq order. It lets
 * `verify` and the dashboard's incremental check take the same path as on SQLite (no worker
 * threads: `remote` is absent).
 */
export function postgresAuditReaderSource(db: Kysely<Database>): AuditReaderSource {
  return { open: () => kyselyAuditReader(db) };
}

/** Opens (and, with `create`, initialises) the PostgreSQL store: the `Store` of open-store.ts. */
export async function openPostgresStore(
  target: PostgresConnection,
  options: { create: boolean },
): Promise<Store> {
  const db = await openPostgres(target);
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw mapPostgresError(error, target.display);
    }
  };
  const store: Store = {
    db,
    dialect: 'postgres',
    location: target.display,
    auditReader: postgresAuditReaderSource(db),
    guard,
    writeTransaction: (fn) => guard(() => postgresWriteTransaction(db, fn)),
    changes: postgresChangeSource(target, { db, guard }),
    close: () => db.destroy(),
  };
  try {
    if (!options.create && !(await guard(() => postgresStoreExists(db)))) {
      throw new RotorError(
        'ERR_ROTOR_STORE_NOT_INITIALIZED',
        `no Rotor store in ${target.display}: run \`rotor init\` (or \`rotor store migrate --to\`) first`,
        { details: { store: target.display } },
      );
    }
    await guard(() => migrateToLatest(db as unknown as Kysely<unknown>, postgresMigrationDialect));
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw migrationFailure(error, target.display);
  }
  return store;
}
