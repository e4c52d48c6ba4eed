// Failed sign-ins per address and operator over a sliding window, reserved before the password is
// checked so parallel guesses cannot all pass (docs/security.md, "What is limited").
import type { Clock } from '../../core/clock.js';
import { positiveIntegerSetting } from '../env-setting.js';

export interface LoginLimit {
  /** Failures (and checks in flight) allowed per key inside the window (default 5). */
  maxFailures: number;
  /** Window length (default 15 minutes). */
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { maxFailures: 5, windowMs: 15 * 60_000 };
const MAX_KEYS = 10_000;
/** Retry hint when the limit is reached only by checks still in flight: they end within a second. */
const IN_FLIGHT_RETRY_MS = 1_000;

/** A counted attempt: settle it exactly once, with the check's outcome. */
export interface LoginReservation {
  settle(outcome: 'success' | 'failure' | 'not-checked'): void;
}

export type ReserveResult =
  { ok: true; reservation: LoginReservation } | { ok: false; retryAfterMs: number };

export function createLoginLimiter(clock: Clock, limit: LoginLimit = DEFAULT_LOGIN_LIMIT) {
  const failures = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  const recent = (key: string, now: number) => {
    const list = (failures.get(key) ?? []).filter((t) => t > now - limit.windowMs);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  };
  const retryAfter = (keys: readonly string[], now: number): number => {
    let wait = 0;
    for (const key of keys) {
      const list = recent(key, now);
      const pending = inFlight.get(key) ?? 0;
      if (list.length + pending < limit.maxFailures) continue;
      // Full of failures: until the oldest counted one leaves the window. Full only with
      // checks in flight: shortly (they settle, and may free the slot).
      const byFailures =
        list.length >= limit.maxFailures
          ? list[list.length - limit.maxFailures]! + limit.windowMs - now
          : 0;
      wait = Math.max(wait, byFailures, IN_FLIGHT_RETRY_MS);
    }
    return wait;
  };
  const release = (keys: readonly string[]) => {
    for (const key of keys) {
      const n = (inFlight.get(key) ?? 1) - 1;
      if (n <= 0) inFlight.delete(key);
      else inFlight.set(key, n);
    }
  };
  const fail = (keys: readonly string[]) => {
    const now = clock.now();
    for (const key of keys) {
      const list = recent(key, now);
      list.push(now);
      failures.delete(key);
      failures.set(key, list.slice(-limit.maxFailures));
      if (failures.size > MAX_KEYS) failures.delete(failures.keys().next().value!);
    }
  };
  return {
    /** Milliseconds until another attempt is allowed for any of the keys; 0 when allowed now. */
    retryAfter(keys: readonly string[]): number {
      return retryAfter(keys, clock.now());
    },
    /**
     * Counts an attempt on every key before anything is checked, or refuses it (all or nothing).
     * Synchronous, so concurrent requests cannot all pass between a check and its count.
     */
    reserve(keys: readonly string[]): ReserveResult {
      const wait = retryAfter(keys, clock.now());
      if (wait > 0) return { ok: false, retryAfterMs: wait };
      // Bounded like the failure map: a flood of distinct names cannot grow it without limit.
      if (inFlight.size > MAX_KEYS) return { ok: false, retryAfterMs: IN_FLIGHT_RETRY_MS };
      for (const key of keys) inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      let settled = false;
      return {
        ok: true,
        reservation: {
          settle(outcome) {
            if (settled) return;
            settled = true;
            release(keys);
            if (outcome === 'failure') fail(keys);
            // A success clears the account's failures; the address keeps its record.
            else if (outcome === 'success')
              for (const key of keys) if (key.startsWith('name:')) failures.delete(key);
          },
        },
      };
    },
    fail,
    succeed(keys: readonly string[]): void {
      for (const key of keys) failures.delete(key);
    },
  };
}
export type LoginLimiter = ReturnType<typeof createLoginLimiter>;

/**
 * At most `max` password checks (argon2id: ~19 MiB and tens of milliseconds of CPU each) run at
 * once for requests that are not signed in; the rest are refused at once (503) instead of
 * queueing, so a flood of sign-ins from many addresses cannot exhaust memory or CPU.
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
