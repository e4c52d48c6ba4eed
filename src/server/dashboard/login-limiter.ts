// Failed sign-ins per address and operator over a sliding window, reserved before the password is
// checked so parallel guesses cannot all pass (docs/security.md, "What is limited"). The counts
// live in the store (core/operators/sign-in-failures.ts), so every `rotor serve` on it shares
// them and a restart keeps them; this process only remembers locks no settle can lift early.
import type { Clock } from '../../core/clock.js';
import {
  pruneSignInAttempts,
  reserveSignIn,
  settleSignIn,
  type SignInLimit,
} from '../../core/operators/sign-in-failures.js';
import type { Store } from '../../core/store/open-store.js';
import { positiveIntegerSetting } from '../env-setting.js';

export type LoginLimit = SignInLimit;

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { maxFailures: 5, windowMs: 15 * 60_000 };
/** Locks remembered in memory (the oldest are forgotten first: the store still holds them). */
const MAX_REMEMBERED = 10_000;
/** Rows that no longer count are deleted at most this often per process. */
const PRUNE_EVERY_MS = 60_000;

/** A counted attempt: settle it exactly once, with the check's outcome. */
export interface LoginReservation {
  settle(outcome: 'success' | 'failure' | 'not-checked'): Promise<void>;
}

export type ReserveResult =
  { ok: true; reservation: LoginReservation } | { ok: false; retryAfterMs: number };

export interface LoginLimiterDeps {
  store: () => Promise<Store>;
  clock: Clock;
}

/**
 * @example
 * const limiter = createLoginLimiter({ store: () => rotor.store(), clock });
 * const r = await limiter.reserve([`ip:${ip}`, `name:${name}`]);
 * if (r.ok) await r.reservation.settle('failure');
 */
export function createLoginLimiter(
  deps: LoginLimiterDeps,
  limit: LoginLimit = DEFAULT_LOGIN_LIMIT,
) {
  const { clock } = deps;
  // Keys whose failures fill the limit, until they leave the window: a flood against a locked
  // account or address is refused here without taking the store's lock every time.
  const locked = new Map<string, number>();
  let prunedAt = -Infinity;
  const rememberedWait = (keys: readonly string[], now: number): number => {
    let wait = 0;
    for (const key of keys) {
      const until = locked.get(key);
      if (until === undefined) continue;
      if (until <= now) locked.delete(key);
      else wait = Math.max(wait, until - now);
    }
    return wait;
  };
  const remember = (lockedUntil: ReadonlyMap<string, number>) => {
    for (const [key, until] of lockedUntil) {
      locked.delete(key);
      locked.set(key, until);
      if (locked.size > MAX_REMEMBERED) locked.delete(locked.keys().next().value!);
    }
  };
  return {
    /** Counts an attempt on every key before anything is checked, or refuses it (all or nothing). */
    async reserve(keys: readonly string[]): Promise<ReserveResult> {
      const now = clock.now();
      const wait = rememberedWait(keys, now);
      if (wait > 0) return { ok: false, retryAfterMs: wait };
      const store = await deps.store();
      if (now - prunedAt >= PRUNE_EVERY_MS) {
        prunedAt = now;
        await pruneSignInAttempts(store, { now, windowMs: limit.windowMs });
      }
      const reserved = await reserveSignIn(store, { keys, now, limit });
      if (!reserved.ok) {
        remember(reserved.lockedUntil);
        return { ok: false, retryAfterMs: reserved.retryAfterMs };
      }
      let settled = false;
      return {
        ok: true,
        reservation: {
          async settle(outcome) {
            if (settled) return;
            settled = true;
            // A success clears the account's failures; the address keeps its record.
            const clearOnSuccess = keys.filter((key) => key.startsWith('name:'));
            if (outcome === 'success') for (const key of clearOnSuccess) locked.delete(key);
            await settleSignIn(store, {
              attempt: reserved.attempt,
              keys,
              outcome,
              now: clock.now(),
              clearOnSuccess,
            });
          },
        },
      };
    },
  };
}
export type LoginLimiter = ReturnType<typeof createLoginLimiter>;

/**
 * At most `max` password checks (argon2id: ~19 MiB and tens of milliseconds of CPU each) run at
 * once for requests that are not signed in; the rest are refused at once (503) instead of
 * queueing, so a flood of sign-ins from many addresses cannot exhaust memory or CPU. Per process
 * on purpose, unlike the failure counts: it guards this process's CPU and memory, not an account.
 */
export function createCheckGate(max: number) {
  let running = 0;
  return {
    /** A release function, or undefined when `max` checks are already running. */
    tryEnter(): (() => void) | undefined {
      if (running >= max) return undefined;
      running += 1;
      let left = false;
      return () => {
        if (left) return;
        left = true;
        running -= 1;
      };
    },
    running: () => running,
  };
}

/** Default number of concurrent unauthenticated password checks. */
export const DEFAULT_SIGN_IN_CONCURRENCY = 2;

/** The cap on concurrent checks: the option, else ROTOR_SIGNIN_CONCURRENCY, else 2. */
export function signInConcurrency(option: number | undefined, env: NodeJS.ProcessEnv): number {
  const variable = 'ROTOR_SIGNIN_CONCURRENCY';
  return positiveIntegerSetting({ variable, option, env, fallback: DEFAULT_SIGN_IN_CONCURRENCY });
}
