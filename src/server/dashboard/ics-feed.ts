// The upcoming-rotations calendar as iCalendar (RFC 5545): one all-day VEVENT per
// secret × environment due date, CRLF line endings, text escaped (§3.3.11) and lines folded at
// 75 octets (§3.1). UIDs are stable per secret, environment and due date, so a calendar app
// updates events instead of duplicating them.
import type { StatusRow } from '../../core/status/status.js';
import { STATE_LABELS } from './format.js';

export function icsText(text: string): string {
  return (
    text
      .replace(/\\/g, '\\\\')
      .replace(/;/g, '\\;')
      .replace(/,/g, '\\,')
      .replace(/\r\n|\r|\n/g, '\\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ')
  );
}

/** Folds a content line into ≤75-octet lines, never splitting a UTF-8 character. */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const size = Buffer.byteLength(ch, 'utf8');
    const limit = out.length === 0 ? 75 : 74; // continuation lines start with a space
    if (octets + size > limit) {
      out.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += size;
  }
  out.push(current);
  return out.join('\r\n ');
}

function icsDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

function icsStamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

export function icsFeed(
  rows: readonly StatusRow[],
  now: number,
  options: { dashboardUrl?: string } = {},
): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Rotor//Rotation calendar//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    'X-WR-CALNAME:Rotor rotations',
  ];
  for (const r of rows) {
    if (r.nextDueAt === null) continue;
    const day = Math.floor(r.nextDueAt / 86_400_000) * 86_400_000;
    const description = [
      `${r.secret} in ${r.environment} (${r.kind}) is due for rotation.`,
      `State now: ${STATE_LABELS[r.state]}.`,
      r.owner ? `Owner: ${r.owner}.` : '',
      r.overdueAt !== null
        ? `Overdue from ${new Date(r.overdueAt).toISOString().slice(0, 10)}.`
        : '',
    ]
      .filter(Boolean)
      .join('\n');
    lines.push(
      'BEGIN:VEVENT',
      `UID:${icsText(`${r.secret}.${r.environment}.${icsDate(day)}@rotor`)}`,
      `DTSTAMP:${icsStamp(now)}`,
      `DTSTART;VALUE=DATE:${icsDate(day)}`,
      `DTEND;VALUE=DATE:${icsDate(day + 86_400_000)}`,
      `SUMMARY:${icsText(`Rotate ${r.secret} (${r.environment})`)}`,
      `DESCRIPTION:${icsText(description)}`,
      `CATEGORIES:${icsText(STATE_LABELS[r.state])}`,
      'TRANSP:TRANSPARENT',
    );
    if (options.dashboardUrl)
      lines.push(`URL:${options.dashboardUrl}/secrets/${encodeURIComponent(r.secret)}`);
    lines.push('END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return `${lines.map(foldLine).join('\r\n')}\r\n`;
}
