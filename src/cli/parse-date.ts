// Date options (`--at`, `--rotated-at`, `--since`, `--until`), parsed one way everywhere.
import { RotorError } from '../core/errors.js';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?$/i;

/**
 * Parses a date option: an ISO date means the start or the end of that day in UTC (`edge`), so
 * `--at 2026-06-01` answers "what will be due on June 1" and `--rotated-at 2026-06-01` means
 * that morning; a date-time is that instant (UTC unless an offset is given). Impossible dates
 * such as 2026-02-30 are refused, not rolled over.
 *
 * @example
 * parseDateOption('--at', '2026-06-01', 'end') // Date.UTC(2026, 5, 1, 23, 59, 59, 999)
 */
export function parseDateOption(option: string, value: string, edge: 'start' | 'end'): number {
  const invalid = () =>
    new RotorError(
      'ERR_ROTOR_DATE_INVALID',
      `invalid ${option} "${value}": use an ISO date (2026-06-01) or date-time (2026-06-01T12:00:00Z)`,
      {
        details: { option, value },
      },
    );
  const text = value.trim();
  const d = DATE_ONLY.exec(text);
  const t = d ? undefined : DATE_TIME.exec(text);
  const m = d ?? t;
  if (!m) throw invalid();
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const end = edge === 'end';
  const [hour, minute, second] = t
    ? [Number(t[4]), Number(t[5]), Number(t[6] ?? 0)]
    : end
      ? [23, 59, 59]
      : [0, 0, 0];
  const millis = t ? Number((t[7] ?? '0').padEnd(3, '0')) : end ? 999 : 0;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 2026-02-30 over to March: a date that does not round-trip is not a date.
  const back = new Date(utc);
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    back.getUTCHours() !== hour ||
    back.getUTCMinutes() !== minute ||
    back.getUTCSeconds() !== second
  ) {
    throw invalid();
  }
  const zone = t?.[8];
  if (!zone || zone.toUpperCase() === 'Z') return utc;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [zh, zm] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
  if (zh > 23 || zm > 59) throw invalid();
  return utc - sign * (zh * 60 + zm) * 60_000;
}
