// Records consumer heartbeats: the consumer row (first seen, last seen, interval) and the
// versions it reports holding, which replace its previous report. Many heartbeats go in one
// write transaction, so a thousand clients acknowledging a rotation at once cost a few commits.
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import { clampInterval, type Heartbeat } from './consumer-record.js';

/**
 * @example
 * await recordHeartbeats(store, clock, [{ consumerId: 'web-1', app: 'billing', holds: [{ secret: 'JWT_ACCESS_SECRET', environment: 'production', version: id }] }]);
 */
export async function recordHeartbeats(store: Pick<Store, 'writeTransaction'>, clock: Clock, beats: readonly Heartbeat[]): Promise<void> {
  if (beats.length === 0) return;
  const now = clock.now();
  await store.writeTransaction(async (trx) => {
    for (const beat of beats) {
      const interval = clampInterval(beat.intervalMs);
      await trx
        .insertInto('consumers')
        .values({ id: beat.consumerId, app: beat.app, token_id: beat.tokenId ?? null, interval_ms: interval, first_seen_at: now, last_seen_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet({ app: beat.app, token_id: beat.tokenId ?? null, interval_ms: interval, last_seen_at: now }))
        .execute();
      await trx.deleteFrom('consumer_versions').where('consumer_id', '=', beat.consumerId).execute();
      if (beat.holds.length > 0) {
        await trx
          .insertInto('consumer_versions')
          .values(beat.holds.map((h) => ({ consumer_id: beat.consumerId, secret: h.secret, environment: h.environment, version_id: h.version, reported_at: now })))
          .onConflict((oc) => oc.columns(['consumer_id', 'secret', 'environment']).doUpdateSet((eb) => ({ version_id: eb.ref('excluded.version_id'), reported_at: now })))
          .execute();
      }
    }
  });
}

/** Forgets consumers not seen for `olderThanMs` (their reports with them); returns how many. */
export async function pruneConsumers(store: Pick<Store, 'writeTransaction'>, clock: Clock, olderThanMs: number): Promise<number> {
  const cutoff = clock.now() - olderThanMs;
  return store.writeTransaction(async (trx) => {
    const gone = await trx.selectFrom('consumers').select('id').where('last_seen_at', '<', cutoff).execute();
    if (gone.length === 0) return 0;
    const ids = gone.map((g) => g.id);
    await trx.deleteFrom('consumer_versions').where('consumer_id', 'in', ids).execute();
    await trx.deleteFrom('consumers').where('id', 'in', ids).execute();
    return ids.length;
  });
}
