// Schema migrations, written once for every dialect. Type differences (blob vs bytea) and the
// append-only trigger live in the dialect adapter passed in, not in `if` chains here.
import { Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';

export interface MigrationDialect {
  binaryType: 'blob' | 'bytea';
  /** Statements that make audit_events refuse UPDATE and DELETE. */
  appendOnlyAudit: ReturnType<typeof sql>[];
  autoIncrementPk: (col: import('kysely').ColumnDefinitionBuilder) => import('kysely').ColumnDefinitionBuilder;
}

function migrations(d: MigrationDialect): Record<string, Migration> {
  return {
    '0001-initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('environments')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('position', 'integer', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('secrets')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('spec', 'text', (c) => c.notNull())
          .addColumn('applied_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('versions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('stage', 'text', (c) => c.notNull())
          .addColumn('origin', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('rotated_at', 'bigint')
          .addColumn('promoted_at', 'bigint')
          .addColumn('retire_at', 'bigint')
          .addColumn('retired_at', 'bigint')
          .addColumn('compromised', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('rotation_id', 'text')
          .addColumn('meta', 'text', (c) => c.notNull())
          .addColumn('ciphertext', d.binaryType)
          .addColumn('wrapped_key', d.binaryType)
          .addColumn('master_key_id', 'text')
          .execute();
        await db.schema.createIndex('versions_secret_env_stage').on('versions').columns(['secret', 'environment', 'stage']).execute();
        await db.schema.createIndex('versions_stage').on('versions').column('stage').execute();
        await db.schema
          .createTable('rotations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('method', 'text', (c) => c.notNull())
          .addColumn('operator', 'text', (c) => c.notNull())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('step', 'text', (c) => c.notNull())
          .addColumn('step_state', 'text', (c) => c.notNull())
          .addColumn('pending_version_id', 'text')
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('finished_at', 'bigint')
          .addColumn('error_code', 'text')
          .addColumn('error_message', 'text')
          .execute();
        await db.schema.createIndex('rotations_secret_env').on('rotations').columns(['secret', 'environment', 'started_at']).execute();
        await db.schema.createIndex('rotations_state').on('rotations').column('state').execute();
        await db.schema
          .createTable('locks')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('acquired_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_events')
          .addColumn('seq', 'integer', (c) => d.autoIncrementPk(c))
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('secret', 'text')
          .addColumn('environment', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('entry', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_events_secret').on('audit_events').columns(['secret', 'seq']).execute();
        for (const statement of d.appendOnlyAudit) await statement.execute(db);
      },
    },
    // Rotations parked while a new version waits in standby (publish-ahead of public keys).
    '0002-rotation-promote-after': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('rotations').addColumn('promote_after', 'bigint').execute();
      },
    },
    // Live consumers of `rotor serve` (rotor/client): who holds which version, from heartbeats.
    // `retire` waits until every consumer seen within its lapse window holds the current version.
    '0006-consumers': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('consumers')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('app', 'text', (c) => c.notNull())
          .addColumn('token_id', 'text')
          .addColumn('interval_ms', 'integer', (c) => c.notNull())
          .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('consumer_versions')
          .addColumn('consumer_id', 'text', (c) => c.notNull())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('version_id', 'text', (c) => c.notNull())
          .addColumn('reported_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('consumer_versions_pk', ['consumer_id', 'secret', 'environment'])
          .execute();
        await db.schema.createIndex('consumer_versions_secret_env').on('consumer_versions').columns(['secret', 'environment']).execute();
      },
    },
  };
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: MigrationDialect): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({ db, provider, migrationTableName: 'rotor_migrations', migrationLockTableName: 'rotor_migrations_lock' });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}
