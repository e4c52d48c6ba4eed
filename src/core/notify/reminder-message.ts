// What a reminder says: one secret × environment that a person must rotate, when it is due and
// how. Built from names, dates and rotor.yaml text only; the scheduler never opens a value, so
// none can end up in a mail or a webhook body.
import { MS } from '../duration.js';

export interface Reminder {
  secret: string;
  environment: string;
  kind: string;
  owner: string | null;
  notes: string | null;
  /** The kind's `config.instructions` (manual secrets), if any. */
  instructions: string | null;
  /** Why the scheduler does not rotate it itself. */
  reason: 'operator' | 'auto-disabled' | 'master-key' | 'gave-up';
  /** The slot this reminder fills: `due-14d`, `due-0d`, `overdue-3`. */
  slot: string;
  dueAt: number;
  overdueAt: number;
  /** The instant the reminder is about (the tick's time). */
  at: number;
}

export interface ReminderMessage {
  subject: string;
  text: string;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function span(ms: number): string {
  const days = Math.round(ms / MS.d);
  if (days >= 1) return `${days} day${days === 1 ? '' : 's'}`;
  const hours = Math.max(1, Math.round(ms / MS.h));
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

export function reminderCommand(r: Pick<Reminder, 'secret' | 'environment' | 'reason'>): string {
  if (r.reason === 'master-key') return 'rotor master-key rotate';
  return `rotor rotate ${r.secret}${r.environment === '*' ? '' : ` --env ${r.environment}`}`;
}

/** Subject and plain text of a reminder. */
export function reminderMessage(r: Reminder): ReminderMessage {
  const where = r.environment === '*' ? r.secret : `${r.secret} (${r.environment})`;
  const when =
    r.at >= r.overdueAt
      ? `is OVERDUE since ${day(r.overdueAt)} (${span(r.at - r.overdueAt)})`
      : r.at >= r.dueAt
        ? `is due now (since ${day(r.dueAt)})`
        : `is due in ${span(r.dueAt - r.at)}, on ${day(r.dueAt)}`;
  const short =
    r.at >= r.overdueAt
      ? 'is OVERDUE'
      : r.at >= r.dueAt
        ? 'is due now'
        : `is due in ${span(r.dueAt - r.at)}`;
  const subject = `Rotor: ${where} ${short}`;
  const why =
    r.reason === 'master-key'
      ? "It is Rotor's own master key."
      : r.reason === 'auto-disabled'
        ? 'Automatic rotation is off for it (auto: false in rotor.yaml).'
        : r.reason === 'gave-up'
          ? 'Its scheduled rotation failed after every retry and the scheduler has given up: find out why (rotor audit list), then rotate it by hand.'
          : `It is a ${r.kind} secret: a person rotates it.`;
  const lines = [
    `${where} ${when}.`,
    why,
    ...(r.owner ? [`Owner: ${r.owner}`] : []),
    ...(r.notes ? [`Notes: ${r.notes}`] : []),
    ...(r.instructions ? [`How: ${r.instructions}`] : []),
    `When done: ${reminderCommand(r)}`,
    `Overdue from: ${day(r.overdueAt)}`,
  ];
  return { subject, text: lines.join('\n') };
}
