// Which reminder slot is due for a secret × environment; only the latest slot that has begun is
// sent, so downtime never produces a backlog of stale reminders.
import { MS } from '../duration.js';
import type { NotifySpec } from '../policy/schedule-schema.js';

export interface ReminderSlot {
  slot: string;
  /** When the slot began. */
  at: number;
}

/** `14d`, `1d`, `0d`, `12h`, `90m`: an offset as a slot label. */
export function offsetLabel(ms: number): string {
  if (ms === 0) return '0d';
  for (const [unit, size] of [
    ['d', MS.d],
    ['h', MS.h],
    ['m', MS.m],
    ['s', MS.s],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export function currentReminderSlot(
  dates: { nextDueAt: number; overdueAt: number },
  notify: Pick<NotifySpec, 'remindersMs' | 'overdueEveryMs'>,
  at: number,
): ReminderSlot | undefined {
  if (at >= dates.overdueAt) {
    const n = Math.floor((at - dates.overdueAt) / notify.overdueEveryMs);
    return { slot: `overdue-${n + 1}`, at: dates.overdueAt + n * notify.overdueEveryMs };
  }
  let latest: ReminderSlot | undefined;
  for (const offset of notify.remindersMs) {
    const begins = dates.nextDueAt - offset;
    if (at >= begins && (!latest || begins > latest.at))
      latest = { slot: `due-${offsetLabel(offset)}`, at: begins };
  }
  return latest;
}
