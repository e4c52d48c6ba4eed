// Upcoming rotations by ISO week (Monday first, UTC): what is already due or overdue, the next
// twelve weeks, and secrets never rotated. The ICS feed publishes the same dates.
import type { StatusRow } from '../../../core/status/status.js';
import { formatDate, relative } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { stateBadge } from './inventory-page.js';
import { csrfField, page, type PageContext } from './layout.js';

const DAY = 86_400_000;
export const CALENDAR_WEEKS = 12;

export function weekStart(ms: number): number {
  const day = Math.floor(ms / DAY) * DAY;
  const dow = (new Date(day).getUTCDay() + 6) % 7;
  return day - dow * DAY;
}

/** ISO 8601 week number and year. */
export function isoWeek(ms: number): { year: number; week: number } {
  const d = new Date(Math.floor(ms / DAY) * DAY);
  const thursday = new Date(d.getTime() + (3 - ((d.getUTCDay() + 6) % 7)) * DAY);
  const yearStart = Date.UTC(thursday.getUTCFullYear(), 0, 1);
  return {
    year: thursday.getUTCFullYear(),
    week: Math.floor((thursday.getTime() - yearStart) / DAY / 7) + 1,
  };
}

export function calendarPage(
  ctx: PageContext,
  rows: StatusRow[],
  feed: { url?: string; hasToken: boolean },
): string {
  const now = ctx.now;
  const first = weekStart(now);
  const dueNow = rows
    .filter((r) => r.nextDueAt !== null && r.nextDueAt < first)
    .sort((a, b) => a.nextDueAt! - b.nextDueAt!);
  const never = rows.filter((r) => r.nextDueAt === null);
  const item = (r: StatusRow) =>
    html`<tr><td>${formatDate(r.nextDueAt)} <span class="muted">${relative(r.nextDueAt, now)}</span></td><td><a href="${ctx.base}/secrets/${encodeURIComponent(r.secret)}">${r.secret}</a></td><td>${r.environment}</td><td>${r.owner ?? '—'}</td><td>${stateBadge(r.state)}</td></tr>`;
  const table = (list: StatusRow[]): SafeHtml =>
    list.length === 0
      ? html`<p class="muted">Nothing.</p>`
      : html`<table><thead><tr><th>Due</th><th>Secret</th><th>Env</th><th>Owner</th><th>State</th></tr></thead><tbody>${list.map(item)}</tbody></table>`;
  const weeks: SafeHtml[] = [];
  for (let w = 0; w < CALENDAR_WEEKS; w++) {
    const start = first + w * 7 * DAY;
    const list = rows
      .filter((r) => r.nextDueAt !== null && r.nextDueAt >= start && r.nextDueAt < start + 7 * DAY)
      .sort((a, b) => a.nextDueAt! - b.nextDueAt!);
    const { year, week } = isoWeek(start);
    weeks.push(
      html`<section class="week card" data-week="${year}-W${String(week).padStart(2, '0')}"><h2>Week ${week}, ${year} <span class="muted">${formatDate(start)} – ${formatDate(start + 6 * DAY)} · ${list.length} due</span></h2>${list.length ? table(list) : ''}</section>`,
    );
  }
  const feedBlock = feed.url
    ? html`<div class="notice ok">Your calendar feed URL (shown once; making a new one replaces it):<br><span class="mono" id="feed-url">${feed.url}</span></div>`
    : html`<p class="muted">${feed.hasToken ? 'You have a feed URL; making a new one replaces it.' : 'Subscribe to these dates in a calendar app with a personal feed URL.'}</p>`;
  return page(
    ctx,
    'calendar',
    'Calendar',
    html`<h1>Upcoming rotations</h1>
<div class="card"><p>Also as an ICS feed: <a href="${ctx.base}/calendar.ics" id="ics-link">calendar.ics</a> (with your session), or for a calendar app:</p>${feedBlock}
<form method="post" action="${ctx.base}/calendar/feed-token">${csrfField(ctx)}<button type="submit" class="secondary">Make a feed URL</button></form></div>
<h2>Due or overdue now</h2>${table(dueNow)}
<h2>Next ${CALENDAR_WEEKS} weeks</h2>${weeks}
<h2>Never rotated</h2>${table(never)}`,
  );
}
