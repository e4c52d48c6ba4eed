// Failed sign-ins, counted per client address and per operator name over a sliding window:
// past the limit the login form answers 429 without checking anything, so a password or a
// 6-digit code cannot be guessed at speed. In memory (per process) and bounded.
import type { Clock } from '../../core/clock.js';

export interface LoginLimit {
  /** Failures allowed per key inside the window (default 5). */
  maxFailures: number;
  /** Window length (default 15 minutes). */
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { maxFailures: 5, windowMs: 15 * 60_000 };
const MAX_KEYS = 10_000;

export function createLoginLimiter(clock: Clock, limit: LoginLimit = DEFAULT_LOGIN_LIMIT) {
  const failures = new Map<string, number[]>();
  const recent = (key: string, now: number) => {
    const list = (failures.get(key) ?? []).filter((t) => t > now - limit.windowMs);
    if (list.length === 0) failures.delete(key);
    else failures.set(key, list);
    return list;
  };
  return {
    /** Milliseconds until another attempt is allowed for any of the keys; 0 when allowed now. */
    retryAfter(keys: readonly string[]): number {
      const now = clock.now();
      let wait = 0;
      for (const key of keys) {
        const list = recent(key, now);
        if (list.length >= limit.maxFailures) wait = Math.max(wait, list[list.length - limit.maxFailures]! + limit.windowMs - now);
      }
      return wait;
    },
    fail(keys: readonly string[]): void {
      const now = clock.now();
      for (const key of keys) {
        const list = recent(key, now);
        list.push(now);
        failures.delete(key);
        failures.set(key, list.slice(-limit.maxFailures));
        if (failures.size > MAX_KEYS) failures.delete(failures.keys().next().value!);
      }
    },
    succeed(keys: readonly string[]): void {
      for (const key of keys) failures.delete(key);
    },
  };
}
export type LoginLimiter = ReturnType<typeof createLoginLimiter>;
