// One rotation per secret+environment at a time, across processes: a row in `locks`, taken
// inside the store's write transaction. A lock whose holder process on this host has died
// (SIGKILL, power loss) is taken over; the interrupted rotation it leaves is for `resume`.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';

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
  await store.writeTransaction(async (trx) => {
    const held = await trx
      .selectFrom('locks')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (held) {
      const stale = held.host === host && held.pid !== process.pid && !processAlive(held.pid);
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
  });
  return {
    name,
    owner,
    release: async () => {
      await store.writeTransaction((trx) =>
        trx.deleteFrom('locks').where('name', '=', name).where('owner', '=', owner).execute(),
      );
    },
  };
}
