// The SQLite store as the reading commands (status, check, get, run) open it: synchronous
// statements on better-sqlite3 without Kysely, whose query builder alone cost ~30 ms of their
// start-up. Only a store whose migrations are exactly this build's is opened here; any other
// (new, older, written by a newer Rotor) goes through openStore as before, which migrates or
// refuses it. PostgreSQL stores never come here.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { mapSqliteError } from './sqlite-errors.js';

/** The migration names of this build, sorted: scripts/build.mjs defines them for the CLI bundle. */
declare const __ROTOR_MIGRATIONS__: readonly string[] | undefined;

const MIGRATIONS: readonly string[] | undefined =
  typeof __ROTOR_MIGRATIONS__ === 'object' ? __ROTOR_MIGRATIONS__ : undefined;

export type SqlParam = string | number | bigint | Buffer | null;

/** Synchronous statements on one connection to the store. */
export interface StoreReads {
  /** The store file, for messages. */
  readonly location: string;
  all<T>(sql: string, ...params: SqlParam[]): T[];
  get<T>(sql: string, ...params: SqlParam[]): T | undefined;
  run(sql: string, ...params: SqlParam[]): void;
  /**
   * Runs `fn` in a transaction that holds the store's write lock from its first statement
   * (BEGIN IMMEDIATE), like Store.writeTransaction: the audit chain head is read and extended
   * without another writer in between.
   */
  write<T>(fn: () => T): T;
  close(): void;
}

/**
 * better-sqlite3's native addon, named directly: without it better-sqlite3 finds the addon with
 * the `bindings` package, which costs a start-up ~10 ms of module loading and file probing. The
 * same file `bindings` picks for a normal install; for anything unusual, undefined. The CLI
 * bundle holds its own copy of better-sqlite3's JavaScript for this module (scripts/build.mjs),
 * which must always be given the addon: without one, the store is opened by openStore instead.
 */
function nativeBinding(): string | undefined {
  try {
    const root = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const release = join(root, 'build', 'Release', 'better_sqlite3.node');
    const earlier = [join(root, 'build', 'better_sqlite3.node'), join(root, 'build', 'Debug')];
    return existsSync(release) && !earlier.some((p) => existsSync(p)) ? release : undefined;
  } catch {
    return undefined;
  }
}

function openConnection(file: string, binding: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file, { fileMustExist: true, nativeBinding: binding });
  // The pragmas of the Kysely store's connection (sqlite-adapter.ts), so reads and writes behave alike.
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Whether the store has run exactly this build's migrations (false for a store without any). */
async function migrationsCurrent(db: BetterSqlite3.Database, file: string): Promise<boolean> {
  let names: string[];
  try {
    names = db.prepare<[], string>('SELECT name FROM rotor_migrations ORDER BY name').pluck().all();
  } catch {
    return false;
  }
  if (MIGRATIONS !== undefined)
    return names.length === MIGRATIONS.length && names.every((n, i) => n === MIGRATIONS[i]);
  // From sources (tests, tsx) there is no list: ask the migrator's own check.
  const [{ migrationsCurrent: current }, { openSqlite, sqliteMigrationDialect }] =
    await Promise.all([import('./migrations.js'), import('./sqlite-adapter.js')]);
  const kysely = openSqlite(file, { create: false });
  try {
    return await current(kysely as unknown as Kysely<unknown>, sqliteMigrationDialect);
  } finally {
    await kysely.destroy();
  }
}

/**
 * Opens the SQLite store at `file` for synchronous reads, or resolves to undefined when it is not
 * there, not at this build's migrations, or better-sqlite3's addon is not where it is expected:
 * then the caller opens it with openStore, which says why (not initialized) or migrates it.
 * Errors of the open itself are mapped to RotorErrors.
 */
export async function openSqliteReads(file: string): Promise<StoreReads | undefined> {
  const binding = nativeBinding();
  if (binding === undefined || !existsSync(file)) return undefined;
  let db: BetterSqlite3.Database;
  try {
    db = openConnection(file, binding);
  } catch (error) {
    throw mapSqliteError(error, file);
  }
  if (!(await migrationsCurrent(db, file))) {
    db.close();
    return undefined;
  }
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw mapSqliteError(error, file);
    }
  };
  return {
    location: file,
    all: <T>(sql: string, ...params: SqlParam[]) =>
      guard(() => db.prepare<SqlParam[], T>(sql).all(...params)),
    get: <T>(sql: string, ...params: SqlParam[]) =>
      guard(() => db.prepare<SqlParam[], T>(sql).get(...params)),
    run: (sql, ...params) => guard(() => void db.prepare(sql).run(...params)),
    write: (fn) => guard(() => db.transaction(fn).immediate()),
    close: () => db.close(),
  };
}
