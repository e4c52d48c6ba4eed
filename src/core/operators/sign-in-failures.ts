// Dashboard sign-in attempts counted in the store, so every `rotor serve` on it shares one count
// and a restart keeps it (docs/security.md, "What is limited"). An attempt is reserved on each of
// its keys before its password is checked, atomically across processes, then settled.
import { createHash, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Store } from '../store/open-store.js';
import type { Database } from '../store/schema.js';

export interface SignInLimit {
  /** Failures (and checks in flight) allowed per key inside the window. */
  maxFailures: number;
  /** Window length in ms. */
  windowMs: number;
}

/**
 * A check still `checking` after this long no longer counts: its process died (or hung) before
 * settling it. A check takes tens of milliseconds, so a live one never gets near it.
 */
export const CHECK_EXPIRES_MS = 60_000;
/** Retry hint when the limit is reached only with checks in flight: they end within a second. */
export const IN_FLIGHT_RETRY_MS = 1_000;

/** Keys are stored as a SHA-256 only: a name typed into the wrong field is not kept in clear. */
export function signInKeyHash(key: string): string {
  return createHash('sha256').update(`rotor:sign-in:${key}`, 'utf8').digest('hex');
}

export type SignInReservation =
  | { ok: true; attempt: string }
  | {
      ok: false;
      retryAfterMs: number;
      /** Keys held by failures alone, and until when: no settle can free them sooner. */
      lockedUntil: ReadonlyMap<string, number>;
    };

export interface ReserveSignInInput {
  /** e.g. `ip:<address>`, `name:<operator>`: all are counted, or none. */
  keys: readonly string[];
  now: number;
  limit: SignInLimit;
}

/** PostgreSQL advisory-lock class of the per-key locks (the store's write lock is a bigint key). */
const LOCK_CLASS = 0x53494e; // "SIN"

/**
 * Runs `fn` serialised with every other reservation that shares one of the keys, in every
 * process. SQLite has one writer at a time anyway (BEGIN IMMEDIATE). PostgreSQL takes a
 * transaction-scoped advisory lock per key, in one order so two reservations cannot deadlock,
 * and leaves the store's write lock (audit appends, rotations) alone.
 */
function keyedTransaction<T>(
  store: Pick<Store, 'db' | 'dialect' | 'guard' | 'writeTransaction'>,
  hashes: readonly string[],
  fn: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (store.dialect !== 'postgres') return store.writeTransaction(fn);
  const ids = [...new Set(hashes.map((h) => Number.parseInt(h.slice(0, 8), 16) | 0))].sort(
    (a, b) => a - b,
  );
  return store.guard(() =>
    store.db.transaction().execute(async (trx) => {
      for (const id of ids)
        await sql`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${id})`.execute(trx);
      return fn(trx);
    }),
  );
}

/** How long each key still refuses, from its counted rows; 0 where it has room. */
function waits(
  rows: readonly { key_hash: string; state: string; at: number }[],
  hashes: readonly string[],
  { now, limit }: Omit<ReserveSignInInput, 'keys'>,
): { key: string; wait: number; byFailures: number }[] {
  return hashes.map((key) => {
    const mine = rows.filter((r) => r.key_hash === key);
    const failures = mine
      .filter((r) => r.state === 'failed')
      .map((r) => Number(r.at))
      .sort((a, b) => a - b);
    if (mine.length < limit.maxFailures) return { key, wait: 0, byFailures: 0 };
    // Full of failures: until the oldest counted one leaves the window. Full only with checks
    // in flight: shortly (they settle, and may free the slot).
    const byFailures =
      failures.length >= limit.maxFailures
        ? failures[failures.length - limit.maxFailures]! + limit.windowMs - now
        : 0;
    return { key, wait: Math.max(byFailures, IN_FLIGHT_RETRY_MS), byFailures };
  });
}

/**
 * Counts an attempt on every key before anything is checked, or refuses it (all or nothing). The
 * count and the insert run under a lock on the keys, so concurrent reservations from any number
 * of processes cannot all pass.
 *
 * @example
 * const r = await reserveSignIn(store, { keys: ['ip:10.0.0.1', 'name:alice'], now, limit });
 * if (r.ok) await settleSignIn(store, { attempt: r.attempt, keys, outcome: 'failure', now });
 */
export async function reserveSignIn(
  store: Pick<Store, 'db' | 'dialect' | 'guard' | 'writeTransaction'>,
  input: ReserveSignInInput,
): Promise<SignInReservation> {
  const { now, limit } = input;
  const hashes = [...new Set(input.keys.map(signInKeyHash))];
  const byHash = new Map(input.keys.map((k) => [signInKeyHash(k), k]));
  return keyedTransaction(store, hashes, async (trx) => {
    const rows = await trx
      .selectFrom('sign_in_attempts')
      .select(['key_hash', 'state', 'at'])
      .where('key_hash', 'in', hashes)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'failed'), eb('at', '>', now - limit.windowMs)]),
          eb.and([eb('state', '=', 'checking'), eb('at', '>', now - CHECK_EXPIRES_MS)]),
        ]),
      )
      .execute();
    const full = waits(rows, hashes, input).filter((w) => w.wait > 0);
    if (full.length > 0) {
      const lockedUntil = new Map(
        full.filter((w) => w.byFailures > 0).map((w) => [byHash.get(w.key)!, now + w.byFailures]),
      );
      return { ok: false, retryAfterMs: Math.max(...full.map((w) => w.wait)), lockedUntil };
    }
    const attempt = randomUUID();
    await trx
      .insertInto('sign_in_attempts')
      .values(
        hashes.map((key_hash) => ({ attempt, key_hash, state: 'checking' as const, at: now })),
      )
      .execute();
    return { ok: true, attempt };
  });
}

export interface SettleSignInInput {
  attempt: string;
  keys: readonly string[];
  outcome: 'success' | 'failure' | 'not-checked';
  now: number;
  /** On success: keys whose failures are cleared (the account's; the address keeps its record). */
  clearOnSuccess?: readonly string[];
}

/**
 * Ends a reservation: a failure stays counted (from `now`), anything else frees its slot, and a
 * success clears the failures of `clearOnSuccess`. Each write is one statement, so the count a
 * concurrent reservation sees never drops below what is still owed.
 */
export async function settleSignIn(
  store: Pick<Store, 'db' | 'guard'>,
  input: SettleSignInInput,
): Promise<void> {
  const { attempt, now } = input;
  if (input.outcome === 'failure') {
    // An upsert: a reservation pruned after CHECK_EXPIRES_MS still records its failure.
    const rows = [...new Set(input.keys.map(signInKeyHash))].map((key_hash) => ({
      attempt,
      key_hash,
      state: 'failed' as const,
      at: now,
    }));
    await store.guard(() =>
      store.db
        .insertInto('sign_in_attempts')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['attempt', 'key_hash']).doUpdateSet({ state: 'failed', at: now }),
        )
        .execute(),
    );
    return;
  }
  await store.guard(() =>
    store.db.deleteFrom('sign_in_attempts').where('attempt', '=', attempt).execute(),
  );
  const clear = input.outcome === 'success' ? (input.clearOnSuccess ?? []) : [];
  if (clear.length > 0)
    await store.guard(() =>
      store.db
        .deleteFrom('sign_in_attempts')
        .where('state', '=', 'failed')
        .where('key_hash', 'in', clear.map(signInKeyHash))
        .execute(),
    );
}

/** Deletes rows that no longer count: failures older than the window, checks past their expiry. */
export async function pruneSignInAttempts(
  store: Pick<Store, 'db' | 'guard'>,
  { now, windowMs }: { now: number; windowMs: number },
): Promise<number> {
  const result = await store.guard(() =>
    store.db
      .deleteFrom('sign_in_attempts')
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'failed'), eb('at', '<=', now - windowMs)]),
          eb.and([eb('state', '=', 'checking'), eb('at', '<=', now - CHECK_EXPIRES_MS)]),
        ]),
      )
      .executeTakeFirst(),
  );
  return Number(result.numDeletedRows);
}
