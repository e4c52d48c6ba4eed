// Dates and states as the dashboard shows them: UTC, ISO-like, plus a relative phrase.
import type { StatusState } from '../../core/status/status.js';

const DAY = 86_400_000;

export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toISOString().slice(0, 10);
}

export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** "in 12 d", "3 d ago", "today". */
export function relative(ms: number | null, now: number): string {
  if (ms === null) return '';
  const days = Math.round((ms - now) / DAY);
  if (days === 0) return 'today';
  return days > 0 ? `in ${days} d` : `${-days} d ago`;
}

export const STATE_LABELS: Record<StatusState, string> = {
  ok: 'ok',
  'due-soon': 'due soon',
  due: 'due',
  overdue: 'overdue',
  // The CLI's word: an imported value without --rotated-at was rotated, just not when Rotor knows.
  unknown: 'unknown',
  'in-grace': 'in grace',
  rotating: 'rotating',
  failed: 'failed',
};
