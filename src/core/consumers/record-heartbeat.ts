// Records consumer heartbeats: the consumer row (first seen, last seen, interval) and the
// versions it reports holding, which replace its previous report. Many heartbeats go in one
// write transaction of a few multi-row statements, so a thousand clients acknowledging a rotation
// at once cost a few short commits.
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import { clampInterval, isLive, tokenStillValid, type Heartbeat } from './consumer-record.js';

/**
 * @example
 * await recordHeartbeats(store, clock, [{ consumerId: 'web-1', app: 'billing', holds: [{ secret: 'JWT_ACCESS_SECRET', environment: 'production', version: id }] }]);
 */
export async function recordHeartbeats(
  store: Pick<Store, 'writeTransaction'>,
  clock: Clock,
  beats: readonly Heartbeat[],
): Promise<void> {
  if (beats.length === 0) return;
  const now = clock.now();
  // One consumer twice: its last report wins.
  const latest = [...new Map(beats.map((b) => [b.consumerId, b])).values()];
  const consumers = latest.map((b) => ({
    id: b.consumerId,
    app: b.app,
    token_id: b.tokenId ?? null,
    interval_ms: clampInterval(b.intervalMs),
    first_seen_at: now,
    last_seen_at: now,
  }));
  const holds = latest.flatMap((b) =>
    b.holds.map((h) => ({
      consumer_id: b.consumerId,
      secret: h.secret,
      environment: h.environment,
      version_id: h.version,
      reported_at: now,
    })),
  );
  // A few multi-row statements per batch, not a few per heartbeat: the write lock is held briefly
  // even when a thousand clients acknowledge at once (secret reads append audit rows meanwhile).
  await store.writeTransaction(async (trx) => {
    for (const part of chunks(consumers, CHUNK)) {
      await trx
        .insertInto('consumers')
        .values(part)
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            app: eb.ref('excluded.app'),
            token_id: eb.ref('excluded.token_id'),
            interval_ms: eb.ref('excluded.interval_ms'),
            last_seen_at: eb.ref('excluded.last_seen_at'),
          })),
        )
        .execute();
      await trx
        .deleteFrom('consumer_versions')
        .where(
          'consumer_id',
          'in',
          part.map((c) => c.id),
        )
        .execute();
    }
    for (const part of chunks(holds, CHUNK)) {
      await trx
        .insertInto('consumer_versions')
        .values(part)
        .onConflict((oc) =>
          oc.columns(['consumer_id', 'secret', 'environment']).doUpdateSet((eb) => ({
            version_id: eb.ref('excluded.version_id'),
            reported_at: eb.ref('excluded.reported_at'),
          })),
        )
        .execute();
    }
  });
}

/** Rows per statement: well under SQLite's bound-parameter limit. */
const CHUNK = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Forgets consumers not seen for `olderThanMs` (their reports with them); returns how many. */
export async function pruneConsumers(
  store: Pick<Store, 'writeTransaction'>,
  clock: Clock,
  olderThanMs: number,
): Promise<number> {
  const cutoff = clock.now() - olderThanMs;
  return store.writeTransaction(async (trx) => {
    const gone = await trx
      .selectFrom('consumers')
      .select('id')
      .where('last_seen_at', '<', cutoff)
      .execute();
    if (gone.length === 0) return 0;
    const ids = gone.map((g) => g.id);
    await trx.deleteFrom('consumer_versions').where('consumer_id', 'in', ids).execute();
    await trx.deleteFrom('consumers').where('id', 'in', ids).execute();
    return ids.length;
  });
}

/**
 * The token a live consumer id belongs to, if another one: a heartbeat under it from this token
 * is refused, so one app cannot acknowledge (and so let retire revoke) on another's behalf. A
 * lapsed consumer id may be taken over (a redeployed app with a new token and a fixed id).
 */
export async function consumerOwnedByOther(
  store: Pick<Store, 'db'>,
  consumerId: string,
  tokenId: string,
  now: number,
): Promise<boolean> {
  const row = await store.db
    .selectFrom('consumers as c')
    .leftJoin('api_tokens as t', 't.id', 'c.token_id')
    .select([
      'c.token_id',
      'c.last_seen_at',
      'c.interval_ms',
      't.id as token_row',
      't.revoked_at as token_revoked_at',
      't.expires_at as token_expires_at',
    ])
    .where('c.id', '=', consumerId)
    .executeTakeFirst();
  // A consumer id under a revoked or expired token is free to take over.
  return (
    row !== undefined &&
    row.token_id !== null &&
    row.token_id !== tokenId &&
    isLive(row.last_seen_at, row.interval_ms, now) &&
    tokenStillValid(row, now)
  );
}
