// The calendar feed token: calendar apps cannot sign in, so each operator may make one bearer
// token that reads only the ICS feed. Shown once; only its SHA-256 is kept; making a new one
// replaces the old.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/open-store.js';
import { sha256Hex } from './web-sessions.js';

export async function createFeedToken(store: Store, clock: Clock, actor: Actor): Promise<string> {
  const token = `rfeed_${randomBytes(32).toString('base64url')}`;
  await store.writeTransaction(async (trx) => {
    await trx
      .updateTable('operators')
      .set({ feed_token_hash: sha256Hex(token) })
      .where('name', '=', actor.operator)
      .execute();
    await appendAudit(trx, clock, actor, {
      action: 'operator.feed-token',
      outcome: 'success',
      details: { operator: actor.operator },
    });
  });
  return token;
}

/** The enabled operator a feed token belongs to, or undefined. */
export async function operatorForFeedToken(
  store: Store,
  token: string,
): Promise<string | undefined> {
  if (!/^rfeed_[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const hash = sha256Hex(token);
  const row = await store.guard(() =>
    store.db
      .selectFrom('operators')
      .select(['name', 'feed_token_hash'])
      .where('feed_token_hash', '=', hash)
      .where('disabled_at', 'is', null)
      .executeTakeFirst(),
  );
  if (
    !row?.feed_token_hash ||
    !timingSafeEqual(Buffer.from(row.feed_token_hash, 'hex'), Buffer.from(hash, 'hex'))
  )
    return undefined;
  return row.name;
}
