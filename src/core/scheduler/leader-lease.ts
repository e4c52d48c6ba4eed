// Scheduler leadership, so one scheduler acts on a store at a time: a lease row with an expiry,
// taken inside the store's write transaction and renewed on its own timer (docs/rotor-yaml.md,
// docs/postgresql-store.md "High availability"). Expiries are on the store's clock (storeNow).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.js';
import { processAlive } from '../rotation/lock.js';
import type { Store } from '../store/open-store.js';
import { storeNow } from '../store/store-now.js';

export const LEADER_LEASE = 'scheduler';

export interface LeaderLease {
  readonly owner: string;
  /** Takes or renews the lease until `now + ttlMs`; false while another live scheduler holds it. */
  acquire(ttlMs: number): Promise<boolean>;
  /**
   * Whether the lease this instance last took or renewed is surely still ours: measured on this
   * process's monotonic clock from before the renewal was sent, so it ends before the stored expiry
   * whatever the clocks say. A leader checks it before each step and stops when it is false.
   */
  held(): boolean;
  /** Gives it up (only if still ours). */
  release(): Promise<void>;
  /** Who holds it, for messages. */
  holder(): Promise<{ pid: number; host: string; expiresAt: number } | undefined>;
}

export function createLeaderLease(
  store: Pick<Store, 'db' | 'writeTransaction' | 'dialect'>,
  clock: Clock,
  name = LEADER_LEASE,
): LeaderLease {
  const owner = randomUUID();
  const host = hostname();
  let validUntil = -Infinity;
  return {
    owner,
    async acquire(ttlMs) {
      const sent = performance.now();
      const won = await store.writeTransaction(async (trx) => {
        const now = await storeNow(trx, store.dialect, clock);
        const held = await trx
          .selectFrom('scheduler_leases')
          .selectAll()
          .where('name', '=', name)
          .executeTakeFirst();
        if (held && held.owner !== owner && held.expires_at > now) {
          // A holder on this host whose process is gone (kill -9) is taken over at once; on
          // another host nothing can tell, so its lease runs out first.
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
      validUntil = won ? sent + ttlMs : -Infinity;
      return won;
    },
    held() {
      return performance.now() < validUntil;
    },
    async release() {
      validUntil = -Infinity;
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
