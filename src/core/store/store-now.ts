// The time leases and lock heartbeats are compared in. On PostgreSQL it is the database's clock,
// so instances on several hosts agree on when a lease expires whatever their own clocks say; on
// SQLite (one file, one host) it is the injected clock, so tests move it without sleeping.
import { sql, type Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database } from './schema.js';

/** Milliseconds since the epoch on the store's clock, read through `db` (a transaction or not). */
export async function storeNow(
  db: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  clock: Clock,
): Promise<number> {
  if (dialect !== 'postgres') return clock.now();
  // clock_timestamp(), not now(): a transaction that waited for the write lock started earlier.
  const { rows } = await sql<{
    now: number | string;
  }>`SELECT (extract(epoch from clock_timestamp()) * 1000)::int8 AS now`.execute(db);
  return Number(rows[0]!.now);
}
