// One rotation per secret+environment at a time, across processes: a row in `locks`, taken
// inside the store's write transaction. A lock whose holder process on this host has died
// (SIGKILL, power loss) is taken over; the interrupted rotation it leaves is for `resume`.
// On PostgreSQL the holder may be on another host, where no pid can be checked: it keeps a
// heartbeat row (`lock:<name>` in scheduler_leases, on the database's clock) alive while it holds
// the lock, and a lock whose heartbeat ran out is taken over like a dead pid's.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import type { Database } from '../store/schema.js';
import { storeNow } from '../store/store-now.js';

/** How long a lock holder on another host counts as alive without renewing its heartbeat. */
export const LOCK_HEARTBEAT_TTL_MS = 10_000;
const LOCK_HEARTBEAT_RENEW_MS = 3_000;

const heartbeatName = (name: string) => `lock:${name}`;

/** Whether the holder of `held`, on another host, stopped renewing its heartbeat. */
async function heartbeatLapsed(
  trx: Kysely<Database>,
  held: { name: string; owner: string; acquired_at: number },
  now: number,
): Promise<boolean> {
  const beat = await trx
    .selectFrom('scheduler_leases')
    .select('expires_at')
    .where('name', '=', heartbeatName(held.name))
    .where('owner', '=', held.owner)
    .executeTakeFirst();
  // No heartbeat at all (a holder older than heartbeats): give it one TTL from its start.
  return (beat?.expires_at ?? held.acquired_at + LOCK_HEARTBEAT_TTL_MS) <= now;
}

function startHeartbeat(store: Store, clock: Clock, name: string, owner: string): () => void {
  const timer = setInterval(() => {
    void store
      .writeTransaction(async (trx) => {
        const now = await storeNow(trx, store.dialect, clock);
        await trx
          .updateTable('scheduler_leases')
          .set({ expires_at: now + LOCK_HEARTBEAT_TTL_MS })
          .where('name', '=', heartbeatName(name))
          .where('owner', '=', owner)
          .execute();
      })
      .catch(() => undefined);
  }, LOCK_HEARTBEAT_RENEW_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export interface HeldLock {
  name: string;
  owner: string;
  release(): Promise<void>;
}

/** Whether a process with this id runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockName(secret: string, environment: string): string {
  return `rotation:${secret}:${environment}`;
}

export async function acquireLock(store: Store, clock: Clock, name: string): Promise<HeldLock> {
  const owner = randomUUID();
  const host = hostname();
  const beats = store.dialect === 'postgres';
  await store.writeTransaction(async (trx) => {
    const now = beats ? await storeNow(trx, store.dialect, clock) : 0;
    const held = await trx
      .selectFrom('locks')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (held) {
      const stale =
        held.host === host
          ? held.pid !== process.pid && !processAlive(held.pid)
          : beats && (await heartbeatLapsed(trx, held, now));
      if (!stale) {
        throw new RotorError(
          'ERR_ROTOR_LOCK_HELD',
          `${name.replace(/^rotation:/, '')} is being rotated by process ${held.pid} on ${held.host} since ${new Date(held.acquired_at).toISOString()}`,
          { details: { lock: name, pid: held.pid, host: held.host } },
        );
      }
      await trx.deleteFrom('locks').where('name', '=', name).execute();
    }
    await trx
      .insertInto('locks')
      .values({ name, owner, pid: process.pid, host, acquired_at: clock.now() })
      .execute();
    if (beats) {
      await trx.deleteFrom('scheduler_leases').where('name', '=', heartbeatName(name)).execute();
      await trx
        .insertInto('scheduler_leases')
        .values({
          name: heartbeatName(name),
          owner,
          pid: process.pid,
          host,
          acquired_at: now,
          expires_at: now + LOCK_HEARTBEAT_TTL_MS,
        })
        .execute();
    }
  });
  const stopBeating = beats ? startHeartbeat(store, clock, name, owner) : () => undefined;
  return {
    name,
    owner,
    release: async () => {
      stopBeating();
      await store.writeTransaction(async (trx) => {
        await trx.deleteFrom('locks').where('name', '=', name).where('owner', '=', owner).execute();
        await trx
          .deleteFrom('scheduler_leases')
          .where('name', '=', heartbeatName(name))
          .where('owner', '=', owner)
          .execute();
      });
    },
  };
}
