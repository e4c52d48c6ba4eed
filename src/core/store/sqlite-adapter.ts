// The SQLite (better-sqlite3) side of the store: file handling, pragmas, error mapping and the
// migration dialect. Everything above this file is dialect-neutral Kysely. The bulk audit
// reader is its own file, sqlite-audit-reader.ts, so that worker threads can load it without
// Kysely.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { RotorError } from '../errors.js';
import { mapSqliteError } from './sqlite-errors.js';
import type { Database } from './schema.js';
import type { MigrationDialect } from './migrations.js';

export { mapSqliteError };

export const sqliteMigrationDialect: MigrationDialect = {
  binaryType: 'blob',
  text: 'text',
  seqType: 'integer',
  autoIncrementPk: (c) => c.primaryKey().autoIncrement(),
  // NULL for an entry that is not JSON (edited outside Rotor), so the index never refuses a row
  // and `rotor audit verify` can still name it; queries must use this same expression.
  auditEntryField: (field) =>
    sql.raw(`(CASE WHEN json_valid(entry) THEN json_extract(entry, '$.${field}') END)`),
  appendOnlyAudit: [
    sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY: audit rows are append-only'); END`,
    sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY: audit rows are append-only'); END`,
  ],
};

export function openSqlite(
  file: string,
  options: { create: boolean; readonly?: boolean },
): Kysely<Database> {
  if (!options.create && !existsSync(file)) {
    throw new RotorError(
      'ERR_ROTOR_STORE_NOT_INITIALIZED',
      `no Rotor store at ${file}: run \`rotor init\` then \`rotor apply\``,
      { details: { file } },
    );
  }
  if (options.create) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let handle: BetterSqlite3.Database;
  try {
    handle = new BetterSqlite3(file, {
      readonly: options.readonly ?? false,
      fileMustExist: !options.create,
    });
    if (!options.readonly) handle.pragma('journal_mode = WAL');
    handle.pragma('busy_timeout = 5000');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('foreign_keys = ON');
    // The file holds sealed values and the audit log: owner-only, like the master key.
    if (options.create) chmodSync(file, 0o600);
  } catch (error) {
    throw mapSqliteError(error, file);
  }
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: handle }) });
}
