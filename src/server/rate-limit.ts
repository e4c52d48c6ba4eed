// Request limits of `rotor serve`: a fixed window per API token (requests that authenticated)
// and per client address (everything else: the dashboard, unauthenticated and refused requests).
// Health and readiness probes are never counted. A counter is one Map entry per key, so the
// check costs a lookup and an increment on the hot read path.
import { RotorError } from '../core/errors.js';

export interface RateLimitOptions {
  /** Requests per window per API token. */
  max: number;
  /** Requests per window per client address, for requests without a valid token. Default DEFAULT_ADDRESS_LIMIT. */
  perAddress?: number;
  /** Window length in milliseconds. */
  timeWindowMs: number;
}

/**
 * 600,000 a minute (10,000/s) per token: one token shared by a fleet (1,000 instances each
 * reading 10 values a second) stays under it; it stops a runaway loop, not a fleet. About the
 * read throughput of one server on 2 cores, so a single token cannot starve the others for long.
 */
export const DEFAULT_TOKEN_LIMIT = 600_000;
/** 60,000 a minute (1,000/s) per address for requests without a valid token. */
export const DEFAULT_ADDRESS_LIMIT = 60_000;
export const DEFAULT_RATE_LIMIT: RateLimitOptions = {
  max: DEFAULT_TOKEN_LIMIT,
  perAddress: DEFAULT_ADDRESS_LIMIT,
  timeWindowMs: 60_000,
};

/** Keys kept before expired windows are swept out (bounds memory under many addresses). */
const SWEEP_AT = 10_000;

interface Window {
  count: number;
  resetAt: number;
}

export interface RequestLimiter {
  /** Counts one request; throws ERR_ROTOR_API_RATE_LIMITED (429, retry-after) past the limit. */
  hit(who: { token: string; name: string } | { address: string }): void;
}

function per(windowMs: number): string {
  if (windowMs === 60_000) return 'a minute';
  if (windowMs === 1_000) return 'a second';
  return `${Math.round(windowMs / 1000)} s`;
}

export function createRequestLimiter(
  options: RateLimitOptions,
  now: () => number = Date.now,
): RequestLimiter {
  const windows = new Map<string, Window>();
  const addressMax = options.perAddress ?? DEFAULT_ADDRESS_LIMIT;
  function sweep(at: number): void {
    for (const [key, w] of windows) if (w.resetAt <= at) windows.delete(key);
  }
  return {
    hit(who) {
      const isToken = 'token' in who;
      const key = isToken ? `t:${who.token}` : `a:${who.address}`;
      const max = isToken ? options.max : addressMax;
      const at = now();
      let w = windows.get(key);
      if (w === undefined || w.resetAt <= at) {
        if (windows.size >= SWEEP_AT) sweep(at);
        w = { count: 0, resetAt: at + options.timeWindowMs };
        windows.set(key, w);
      }
      if (++w.count <= max) return;
      const retryAfter = Math.max(1, Math.ceil((w.resetAt - at) / 1000));
      const whom = isToken ? `for token "${who.name}"` : `from address ${who.address}`;
      throw new RotorError(
        'ERR_ROTOR_API_RATE_LIMITED',
        `rate limit exceeded: at most ${max} requests ${per(options.timeWindowMs)} ${whom}; retry in ${retryAfter} s`,
        {
          details: { retryAfter, limit: max, scope: isToken ? 'token' : 'address' },
        },
      );
    },
  };
}
