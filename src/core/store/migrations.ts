// Schema migrations, written once for every dialect. Type differences (blob vs bytea) and the
// append-only trigger live in the dialect adapter passed in, not in `if` chains here.
import {
  Kysely,
  Migrator,
  sql,
  type ColumnDataType,
  type Expression,
  type Migration,
  type MigrationProvider,
} from 'kysely';

export interface MigrationDialect {
  binaryType: 'blob' | 'bytea';
  /** Text columns: PostgreSQL's are `COLLATE "C"`, so names sort and compare bytewise as in SQLite. */
  text: ColumnDataType | Expression<unknown>;
  /** The audit seq's type: SQLite's rowid alias must be `integer`; PostgreSQL uses `bigint`. */
  seqType: 'integer' | 'bigint';
  /** Statements run before migration 0007's indexes (PostgreSQL: the JSON field function). */
  auditEntryFieldSetup?: ReturnType<typeof sql>[];
  /** Statements that make audit_events refuse UPDATE and DELETE. */
  appendOnlyAudit: ReturnType<typeof sql>[];
  autoIncrementPk: (
    col: import('kysely').ColumnDefinitionBuilder,
  ) => import('kysely').ColumnDefinitionBuilder;
  /** Statements that signal other connections when the change feed's tables change (PostgreSQL: NOTIFY). */
  changeNotify?: ReturnType<typeof sql>[];
  /** `field` of the hashed audit entry (JSON text) as an SQL expression, for indexes and filters. */
  auditEntryField: (field: 'secret' | 'environment' | 'action' | 'at') => ReturnType<typeof sql>;
}

function migrations(d: MigrationDialect): Record<string, Migration> {
  return {
    '0001-initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('meta')
          .addColumn('key', d.text, (c) => c.primaryKey())
          .addColumn('value', d.text, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('environments')
          .addColumn('name', d.text, (c) => c.primaryKey())
          .addColumn('position', 'integer', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('secrets')
          .addColumn('name', d.text, (c) => c.primaryKey())
          .addColumn('kind', d.text, (c) => c.notNull())
          .addColumn('spec', d.text, (c) => c.notNull())
          .addColumn('applied_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('versions')
          .addColumn('id', d.text, (c) => c.primaryKey())
          .addColumn('secret', d.text, (c) => c.notNull())
          .addColumn('environment', d.text, (c) => c.notNull())
          .addColumn('stage', d.text, (c) => c.notNull())
          .addColumn('origin', d.text, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('rotated_at', 'bigint')
          .addColumn('promoted_at', 'bigint')
          .addColumn('retire_at', 'bigint')
          .addColumn('retired_at', 'bigint')
          .addColumn('compromised', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('rotation_id', d.text)
          .addColumn('meta', d.text, (c) => c.notNull())
          .addColumn('ciphertext', d.binaryType)
          .addColumn('wrapped_key', d.binaryType)
          .addColumn('master_key_id', d.text)
          .execute();
        await db.schema
          .createIndex('versions_secret_env_stage')
          .on('versions')
          .columns(['secret', 'environment', 'stage'])
          .execute();
        await db.schema.createIndex('versions_stage').on('versions').column('stage').execute();
        await db.schema
          .createTable('rotations')
          .addColumn('id', d.text, (c) => c.primaryKey())
          .addColumn('secret', d.text, (c) => c.notNull())
          .addColumn('environment', d.text, (c) => c.notNull())
          .addColumn('method', d.text, (c) => c.notNull())
          .addColumn('operator', d.text, (c) => c.notNull())
          .addColumn('request_id', d.text, (c) => c.notNull())
          .addColumn('reason', d.text)
          .addColumn('state', d.text, (c) => c.notNull())
          .addColumn('step', d.text, (c) => c.notNull())
          .addColumn('step_state', d.text, (c) => c.notNull())
          .addColumn('pending_version_id', d.text)
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('error_code', d.text)
          .addColumn('error_message', d.text)
          .execute();
        await db.schema
          .createIndex('rotations_secret_env')
          .on('rotations')
          .columns(['secret', 'environment', 'started_at'])
          .execute();
        await db.schema.createIndex('rotations_state').on('rotations').column('state').execute();
        await db.schema
          .createTable('locks')
          .addColumn('name', d.text, (c) => c.primaryKey())
          .addColumn('owner', d.text, (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('host', d.text, (c) => c.notNull())
          .addColumn('acquired_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_events')
          .addColumn('seq', d.seqType, (c) => d.autoIncrementPk(c))
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('secret', d.text)
          .addColumn('environment', d.text)
          .addColumn('action', d.text, (c) => c.notNull())
          .addColumn('entry', d.text, (c) => c.notNull())
          .addColumn('hash', d.text, (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('audit_events_secret')
          .on('audit_events')
          .columns(['secret', 'seq'])
          .execute();
        for (const statement of d.appendOnlyAudit) await statement.execute(db);
      },
    },
    // Rotations parked while a new version waits in standby (publish-ahead of public keys).
    '0002-rotation-promote-after': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('rotations').addColumn('promote_after', 'bigint').execute();
      },
    },
    // API tokens for `rotor serve`: only a SHA-256 of each token's secret part is kept (the tokens
    // are 32 random bytes, so a slow hash would add nothing); grants are JSON arrays of globs.
    '0003-api-tokens': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('api_tokens')
          .addColumn('id', d.text, (c) => c.primaryKey())
          .addColumn('name', d.text, (c) => c.notNull())
          .addColumn('role', d.text, (c) => c.notNull())
          .addColumn('secrets', d.text, (c) => c.notNull())
          .addColumn('environments', d.text, (c) => c.notNull())
          .addColumn('hash', d.text, (c) => c.notNull())
          .addColumn('created_by', d.text, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .addColumn('revoked_reason', d.text)
          .addColumn('last_used_at', 'bigint')
          .execute();
      },
    },
    // Live consumers of `rotor serve` (rotor/client): who holds which version, from heartbeats.
    // `retire` waits until every consumer seen within its lapse window holds the current version.
    '0006-consumers': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('consumers')
          .addColumn('id', d.text, (c) => c.primaryKey())
          .addColumn('app', d.text, (c) => c.notNull())
          .addColumn('token_id', d.text)
          .addColumn('interval_ms', 'integer', (c) => c.notNull())
          .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('consumer_versions')
          .addColumn('consumer_id', d.text, (c) => c.notNull())
          .addColumn('secret', d.text, (c) => c.notNull())
          .addColumn('environment', d.text, (c) => c.notNull())
          .addColumn('version_id', d.text, (c) => c.notNull())
          .addColumn('reported_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('consumer_versions_pk', ['consumer_id', 'secret', 'environment'])
          .execute();
        await db.schema
          .createIndex('consumer_versions_secret_env')
          .on('consumer_versions')
          .columns(['secret', 'environment'])
          .execute();
      },
    },
    // Operators of the dashboard: argon2id password hashes (PHC strings), the TOTP secret sealed
    // with the master-key envelope, and web sessions keyed by a SHA-256 of the cookie (the cookie
    // is 32 random bytes, so a slow hash would add nothing), with the CSRF token's hash beside it.
    '0004-operators': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('operators')
          .addColumn('name', d.text, (c) => c.primaryKey())
          .addColumn('password_hash', d.text, (c) => c.notNull())
          .addColumn('totp_ciphertext', d.binaryType, (c) => c.notNull())
          .addColumn('totp_wrapped_key', d.binaryType, (c) => c.notNull())
          .addColumn('totp_master_key_id', d.text, (c) => c.notNull())
          .addColumn('totp_last_step', 'bigint')
          .addColumn('feed_token_hash', d.text)
          .addColumn('created_by', d.text, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('disabled_at', 'bigint')
          .execute();
        await db.schema
          .createTable('web_sessions')
          .addColumn('id', d.text, (c) => c.primaryKey())
          .addColumn('operator', d.text, (c) => c.notNull())
          .addColumn('csrf_hash', d.text, (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('web_sessions_operator')
          .on('web_sessions')
          .column('operator')
          .execute();
      },
    },
    // Audit filters (`/v1/audit?secret=`, `rotor audit list --secret`) run as indexed SQL on the
    // hashed entry itself, never on the unhashed columns beside it: one index per filter field,
    // with seq, so a filtered page is a range of one index in seq order.
    '0007-audit-entry-indexes': {
      async up(db: Kysely<unknown>) {
        for (const statement of d.auditEntryFieldSetup ?? []) await statement.execute(db);
        for (const field of ['secret', 'environment', 'action'] as const) {
          await sql`CREATE INDEX ${sql.raw(`audit_entry_${field}`)} ON audit_events (${d.auditEntryField(field)}, seq)`.execute(
            db,
          );
        }
      },
    },
    // The scheduler: one leader per store (a lease with an expiry), retry state of failed
    // scheduled rotations, and one row per reminder slot and channel, whose primary key is what
    // keeps a reminder from going out twice (across restarts and concurrent schedulers).
    // SQLite has nothing to install (its watchers poll PRAGMA data_version): an empty step there.
    '0008-change-notify': {
      async up(db: Kysely<unknown>) {
        for (const statement of d.changeNotify ?? []) await statement.execute(db);
      },
    },
    // Failed dashboard sign-ins (and checks in flight) per hashed key, so every `rotor serve` on
    // the store counts the same attempts and a restart forgets none (docs/security.md).
    '0009-sign-in-failures': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('sign_in_attempts')
          .addColumn('attempt', d.text, (c) => c.notNull())
          .addColumn('key_hash', d.text, (c) => c.notNull())
          .addColumn('state', d.text, (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('sign_in_attempts_pk', ['attempt', 'key_hash'])
          .execute();
        await db.schema
          .createIndex('sign_in_attempts_key')
          .on('sign_in_attempts')
          .columns(['key_hash', 'at'])
          .execute();
        await db.schema
          .createIndex('sign_in_attempts_at')
          .on('sign_in_attempts')
          .column('at')
          .execute();
      },
    },
    '0005-scheduler': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('scheduler_leases')
          .addColumn('name', d.text, (c) => c.primaryKey())
          .addColumn('owner', d.text, (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('host', d.text, (c) => c.notNull())
          .addColumn('acquired_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('scheduler_attempts')
          .addColumn('secret', d.text, (c) => c.notNull())
          .addColumn('environment', d.text, (c) => c.notNull())
          .addColumn('cycle', 'bigint', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('state', d.text, (c) => c.notNull())
          .addColumn('last_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('next_attempt_at', 'bigint')
          .addColumn('last_error', d.text)
          .addPrimaryKeyConstraint('scheduler_attempts_pk', ['secret', 'environment', 'cycle'])
          .execute();
        await db.schema
          .createTable('scheduler_reminders')
          .addColumn('key', d.text, (c) => c.primaryKey())
          .addColumn('secret', d.text, (c) => c.notNull())
          .addColumn('environment', d.text, (c) => c.notNull())
          .addColumn('cycle', 'bigint', (c) => c.notNull())
          .addColumn('slot', d.text, (c) => c.notNull())
          .addColumn('channel', d.text, (c) => c.notNull())
          .addColumn('state', d.text, (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('claimed_at', 'bigint', (c) => c.notNull())
          .addColumn('sent_at', 'bigint')
          .addColumn('last_error', d.text)
          .execute();
      },
    },
  };
}

/**
 * Whether the store has run exactly the migrations this build knows: one cheap read, so that
 * opening a current store (every CLI command) skips the migrator's locking and introspection.
 */
export async function migrationsCurrent(
  db: Kysely<unknown>,
  dialect: MigrationDialect,
): Promise<boolean> {
  const names = Object.keys(migrations(dialect)).sort();
  try {
    const { rows } = await sql<{
      name: string;
    }>`select name from rotor_migrations order by name`.execute(db);
    return rows.length === names.length && rows.every((row, i) => row.name === names[i]);
  } catch {
    return false; // no migration table yet: a new store
  }
}

export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: MigrationDialect,
): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'rotor_migrations',
    migrationLockTableName: 'rotor_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
}
