// Scheduler leadership, so one scheduler acts on a store at a time: a lease row renewed every tick,
// taken inside the store's write transaction (docs/rotor-yaml.md).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../clock.js';
import { processAlive } from '../rotation/lock.js';
import type { Store } from '../store/open-store.js';

export const LEADER_LEASE = 'scheduler';

export interface LeaderLease {
  readonly owner: string;
  /** Takes or renews the lease until `now + ttlMs`; false while another live scheduler holds it. */
  acquire(ttlMs: number): Promise<boolean>;
  /** Gives it up (only if still ours). */
  release(): Promise<void>;
  /** Who holds it, for messages. */
  holder(): Promise<{ pid: number; host: string; expiresAt: number } | undefined>;
}

export function createLeaderLease(
  store: Pick<Store, 'db' | 'writeTransaction'>,
  clock: Clock,
  name = LEADER_LEASE,
): LeaderLease {
  const owner = randomUUID();
  const host = hostname();
  return {
    owner,
    async acquire(ttlMs) {
      return store.writeTransaction(async (trx) => {
        const now = clock.now();
        const held = await trx
          .selectFrom('scheduler_leases')
          .selectAll()
          .where('name', '=', name)
          .executeTakeFirst();
        if (held && held.owner !== owner && held.expires_at > now) {
          const dead = held.host === host && held.pid !== process.pid && !processAlive(held.pid);
          if (!dead) return false;
        }
        if (held) {
          await trx
            .updateTable('scheduler_leases')
            .set({
              owner,
              pid: process.pid,
              host,
              expires_at: now + ttlMs,
              ...(held.owner === owner ? {} : { acquired_at: now }),
            })
            .where('name', '=', name)
            .execute();
        } else {
          await trx
            .insertInto('scheduler_leases')
            .values({
              name,
              owner,
              pid: process.pid,
              host,
              acquired_at: now,
              expires_at: now + ttlMs,
            })
            .execute();
        }
        return true;
      });
    },
    async release() {
      await store.writeTransaction((trx) =>
        trx
          .deleteFrom('scheduler_leases')
          .where('name', '=', name)
          .where('owner', '=', owner)
          .execute(),
      );
    },
    async holder() {
      const row = await store.db
        .selectFrom('scheduler_leases')
        .selectAll()
        .where('name', '=', name)
        .executeTakeFirst();
      return row ? { pid: row.pid, host: row.host, expiresAt: row.expires_at } : undefined;
    },
  };
}
