// Durations as people write them in rotor.yaml: `90d`, `12w`, `6mo`, `24h`, `15m`, `1y`.
// Months are 30 days and years 365 days: cadences are policy targets, not calendar arithmetic.
import { RotorError } from './errors.js';

export const MS = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  y: 365 * 86_400_000,
} as const;

const PART = /(\d+)(mo|y|w|d|h|m|s)/gy;

/**
 * Parses a duration such as `90d`, `6mo`, `1w2d` or `0s` into milliseconds.
 *
 * @example
 * parseDuration('12w') // 7257600000
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw new RotorError('ERR_ROTOR_DURATION_INVALID', 'empty duration');
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (;;) {
    const match = PART.exec(input);
    if (!match) break;
    total += Number(match[1]) * MS[match[2] as keyof typeof MS];
    consumed = PART.lastIndex;
  }
  if (consumed !== input.length || !Number.isSafeInteger(total)) {
    throw new RotorError(
      'ERR_ROTOR_DURATION_INVALID',
      `invalid duration "${input}": use a number and a unit, e.g. 90d, 12w, 6mo, 24h, 1y`,
    );
  }
  return total;
}

/** Formats milliseconds compactly for tables: `91d`, `5h`, `12m`. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs >= MS.d) return `${sign}${Math.floor(abs / MS.d)}d`;
  if (abs >= MS.h) return `${sign}${Math.floor(abs / MS.h)}h`;
  if (abs >= MS.m) return `${sign}${Math.floor(abs / MS.m)}m`;
  return `${sign}${Math.floor(abs / MS.s)}s`;
}
