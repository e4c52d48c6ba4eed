// The state of one secret × environment from its facts (current value's date, open grace window,
// latest unfinished rotation), its cadence and an instant. Pure: status.ts feeds it store rows.
import { MS } from '../duration.js';
import type { Cadence } from '../policy/policy.js';
import type { RotationState } from '../store/schema.js';

export const STATUS_STATES = [
  'ok',
  'due-soon',
  'due',
  'overdue',
  'unknown',
  'in-grace',
  'rotating',
  'failed',
] as const;
export type StatusState = (typeof STATUS_STATES)[number];

/** The cadence-only part of the state. */
export type AgeState = 'ok' | 'due-soon' | 'due' | 'overdue' | 'unknown';

/** What the store holds about one pair, as far as its state depends on it. */
export interface PairFacts {
  /** The real-world date the current value was rotated; null without a current version or date. */
  rotatedAt: number | null;
  /** End of a previous version's grace window still open at the instant asked about; else null. */
  graceUntil: number | null;
  /** The pair's latest rotation when it did not succeed; null when it did or none ran. */
  rotation: { state: RotationState } | null;
}

export interface Classification {
  state: StatusState;
  ageState: AgeState;
  /** Null when the age is unknown, as are the three instants. */
  ageMs: number | null;
  /** First instant the pair is due-soon, due and overdue. */
  dueSoonAt: number | null;
  nextDueAt: number | null;
  overdueAt: number | null;
}

/**
 * The resolution ages are counted in for a maximum age: the largest of day, hour, minute and
 * second that divides it. "Past 90 days" then means "91 days old", as people count.
 */
export function ageResolution(maxMs: number): number {
  for (const unit of [MS.d, MS.h, MS.m, MS.s]) if (maxMs >= unit && maxMs % unit === 0) return unit;
  return 1;
}

/** Due-soon, due and overdue instants for a value rotated at `rotatedAt`. */
export function cadenceDates(
  rotatedAt: number,
  cadence: Cadence,
): { dueSoonAt: number; nextDueAt: number; overdueAt: number } {
  const nextDueAt = rotatedAt + cadence.targetMs;
  return {
    dueSoonAt: nextDueAt - cadence.warnMs,
    nextDueAt,
    overdueAt: rotatedAt + cadence.maxMs + ageResolution(cadence.maxMs),
  };
}

/**
 * One state by precedence (the first that applies wins):
 *   failed > rotating > unknown | overdue > due > due-soon > in-grace > ok
 * `ageState` keeps the cadence-only state whatever the rotation or grace window says.
 *
 * @example
 * classify({ rotatedAt, graceUntil: null, rotation: null }, spec.cadence, now).state // 'due'
 */
export function classify(
  facts: PairFacts,
  cadence: Pick<Cadence, 'targetMs' | 'warnMs' | 'maxMs'>,
  at: number,
): Classification {
  const { rotatedAt, rotation } = facts;
  let ageState: AgeState = 'unknown';
  let ageMs: number | null = null;
  let dueSoonAt: number | null = null;
  let nextDueAt: number | null = null;
  let overdueAt: number | null = null;
  if (rotatedAt !== null) {
    ageMs = at - rotatedAt;
    // cadenceDates, inlined: no temporary object per row.
    nextDueAt = rotatedAt + cadence.targetMs;
    dueSoonAt = nextDueAt - cadence.warnMs;
    overdueAt = rotatedAt + cadence.maxMs + ageResolution(cadence.maxMs);
    ageState =
      at >= overdueAt ? 'overdue' : at >= nextDueAt ? 'due' : at >= dueSoonAt ? 'due-soon' : 'ok';
  }
  const state: StatusState =
    rotation?.state === 'failed' || rotation?.state === 'rolled_back'
      ? 'failed'
      : rotation?.state === 'running' || rotation?.state === 'waiting'
        ? 'rotating'
        : ageState !== 'ok'
          ? ageState
          : facts.graceUntil !== null
            ? 'in-grace'
            : 'ok';
  return { state, ageState, ageMs, dueSoonAt, nextDueAt, overdueAt };
}
