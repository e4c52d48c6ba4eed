// Versions of a secret in one environment: sealed on write, opened on read, destroyed on
// retirement (metadata kept). All queries are plain Kysely so every store dialect runs them.
import type { Kysely, Selectable, Updateable } from 'kysely';
import { RotorError } from '../errors.js';
import { openValue, sealValue, type MasterKey } from '../crypto/envelope.js';
import type { Database, Stage, VersionsTable } from '../store/schema.js';

export type VersionRow = Selectable<VersionsTable>;

/** Version metadata without the sealed bytes, for listing and status. */
export type VersionInfo = Omit<VersionRow, 'ciphertext' | 'wrapped_key'>;

export const INFO_COLUMNS = [
  'id',
  'secret',
  'environment',
  'stage',
  'origin',
  'created_at',
  'rotated_at',
  'promoted_at',
  'retire_at',
  'retired_at',
  'compromised',
  'rotation_id',
  'meta',
  'master_key_id',
] as const;

export interface NewVersion {
  id: string;
  secret: string;
  environment: string;
  stage: Stage;
  origin: VersionRow['origin'];
  value: string;
  meta: Record<string, string | number | boolean>;
  now: number;
  rotatedAt: number | null;
  promotedAt?: number | null;
  rotationId: string | null;
}

export async function insertVersion(
  db: Kysely<Database>,
  master: MasterKey,
  v: NewVersion,
): Promise<void> {
  const sealed = sealValue(master, Buffer.from(v.value, 'utf8'), {
    secret: v.secret,
    environment: v.environment,
    versionId: v.id,
  });
  await db
    .insertInto('versions')
    .values({
      id: v.id,
      secret: v.secret,
      environment: v.environment,
      stage: v.stage,
      origin: v.origin,
      created_at: v.now,
      rotated_at: v.rotatedAt,
      promoted_at: v.promotedAt ?? null,
      retire_at: null,
      retired_at: null,
      compromised: 0,
      rotation_id: v.rotationId,
      meta: JSON.stringify(v.meta),
      ciphertext: sealed.ciphertext,
      wrapped_key: sealed.wrappedKey,
      master_key_id: sealed.masterKeyId,
    })
    .execute();
}

export function parseMeta(
  row: Pick<VersionRow, 'meta'>,
): Record<string, string | number | boolean> {
  return JSON.parse(row.meta) as Record<string, string | number | boolean>;
}

/** Opens a version's value. Retired and failed versions have none. */
export function openVersion(master: MasterKey, row: VersionRow): string {
  if (!row.ciphertext || !row.wrapped_key) {
    throw new RotorError(
      'ERR_ROTOR_VERSION_NOT_FOUND',
      `${row.secret}/${row.environment} version ${row.id} is ${row.stage}: its value was destroyed`,
    );
  }
  return openValue(
    master,
    { ciphertext: row.ciphertext, wrappedKey: row.wrapped_key },
    { secret: row.secret, environment: row.environment, versionId: row.id },
  ).toString('utf8');
}

export async function getVersion(
  db: Kysely<Database>,
  id: string,
): Promise<VersionRow | undefined> {
  return db.selectFrom('versions').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The version in `stage` (current, previous or pending) for one secret and environment. */
export async function versionInStage(
  db: Kysely<Database>,
  secret: string,
  environment: string,
  stage: Stage,
): Promise<VersionRow | undefined> {
  return db
    .selectFrom('versions')
    .selectAll()
    .where('secret', '=', secret)
    .where('environment', '=', environment)
    .where('stage', '=', stage)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Moves a version from one stage to another, with `set` written alongside; a version no longer in
 * `from` (a concurrent or repeated move) is left as it is.
 */
export async function moveStage(
  db: Kysely<Database>,
  move: {
    id: string;
    from: Stage | readonly Stage[];
    to: Stage;
    set?: Omit<Updateable<VersionsTable>, 'stage'>;
  },
): Promise<void> {
  await db
    .updateTable('versions')
    .set({ ...move.set, stage: move.to })
    .where('id', '=', move.id)
    .where('stage', 'in', typeof move.from === 'string' ? [move.from] : move.from)
    .execute();
}

/** Retires a version: the value and its data key are erased, metadata stays. */
export async function destroyVersion(
  db: Kysely<Database>,
  id: string,
  {
    now,
    stage,
    compromised = false,
  }: { now: number; stage: 'retired' | 'failed'; compromised?: boolean },
): Promise<void> {
  await db
    .updateTable('versions')
    .set({
      stage,
      retired_at: now,
      retire_at: null,
      ciphertext: null,
      wrapped_key: null,
      ...(compromised ? { compromised: 1 } : {}),
    })
    .where('id', '=', id)
    .execute();
}
