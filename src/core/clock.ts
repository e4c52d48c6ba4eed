// Time is injected everywhere so cadences and grace windows are tested without sleeping.

export interface Clock {
  /** Milliseconds since the epoch; a plain function, so `clock.now` may be passed on alone. */
  now: () => number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock for tests: starts at `start` and moves only when told. */
export function createManualClock(start: number | Date = Date.UTC(2026, 0, 1)): Clock & {
  set(at: number | Date): void;
  advance(ms: number): void;
} {
  let t = typeof start === 'number' ? start : start.getTime();
  return {
    now: () => t,
    set: (at) => {
      t = typeof at === 'number' ? at : at.getTime();
    },
    advance: (ms) => {
      t += ms;
    },
  };
}
