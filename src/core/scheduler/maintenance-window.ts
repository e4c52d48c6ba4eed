// Whether an instant falls inside a secret's maintenance window, in the window's IANA time zone
// (daylight saving and windows across midnight: docs/rotor-yaml.md).
import { WEEKDAYS, type MaintenanceWindow, type Weekday } from '../policy/schedule-schema.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local weekday and minute of the day of `at` in `timeZone`. */
export function localTime(at: number, timeZone: string): { day: Weekday; minute: number } {
  let day: Weekday = 'sun';
  let hour = 0;
  let minute = 0;
  for (const part of formatter(timeZone).formatToParts(at)) {
    if (part.type === 'weekday') day = part.value.toLowerCase().slice(0, 3) as Weekday;
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
}

/** True when `at` is inside `window` (or there is no window). */
export function insideWindow(window: MaintenanceWindow | undefined, at: number): boolean {
  if (!window) return true;
  const { day, minute } = localTime(at, window.timeZone);
  const { startMinute, endMinute, days } = window;
  if (startMinute < endMinute)
    return days.includes(day) && minute >= startMinute && minute < endMinute;
  // Crosses midnight: the evening part on a listed day, or the early part after a listed day.
  return (
    (minute >= startMinute && days.includes(day)) ||
    (minute < endMinute && days.includes(previousDay(day)))
  );
}

/**
 * The next instant at or after `from` inside `window`, searched minute by minute for up to
 * eight days (windows are whole minutes in local time); undefined when none.
 */
export function nextWindowStart(window: MaintenanceWindow, from: number): number | undefined {
  const step = 60_000;
  const first = Math.ceil(from / step) * step;
  if (insideWindow(window, from)) return from;
  // Coarse steps no longer than the window (at most 15 minutes), then back up to the exact minute.
  const length = (window.endMinute - window.startMinute + 24 * 60) % (24 * 60);
  const coarse = Math.max(1, Math.min(15, length)) * step;
  for (let t = first; t <= from + 8 * 86_400_000; t += coarse) {
    if (insideWindow(window, t)) {
      let exact = t;
      while (exact - step >= first && insideWindow(window, exact - step)) exact -= step;
      return exact;
    }
  }
  return undefined;
}

/** `sat 22:00-02:00 Europe/Berlin`, for messages. */
export function describeWindow(window: MaintenanceWindow): string {
  const days = window.days.length === 7 ? 'daily' : window.days.join(',');
  return `${days} ${window.hours} ${window.timeZone}`;
}
