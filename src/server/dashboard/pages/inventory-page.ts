// The inventory: every secret × environment with its state and next due date, a count per
// state (each a filter link), and filters by text, state and environment.
import {
  STATUS_STATES,
  type StatusReport,
  type StatusRow,
  type StatusState,
} from '../../../core/status/status.js';
import { formatDate, relative, STATE_LABELS } from '../format.js';
import { html, joinHtml, type SafeHtml } from '../html.js';
import { page, type PageContext } from './layout.js';

export interface InventoryFilter {
  q?: string;
  state?: StatusState;
  env?: string;
}

export function stateBadge(state: StatusState): SafeHtml {
  return html`<span class="badge s-${state}" data-state="${state}">${STATE_LABELS[state]}</span>`;
}

function matches(row: StatusRow, f: InventoryFilter): boolean {
  if (f.state && row.state !== f.state) return false;
  if (f.env && row.environment !== f.env) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (
      !`${row.secret} ${row.environment} ${row.kind} ${row.owner ?? ''}`.toLowerCase().includes(q)
    )
      return false;
  }
  return true;
}

function filterHref(ctx: PageContext, f: InventoryFilter): string {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.state) p.set('state', f.state);
  if (f.env) p.set('env', f.env);
  const s = p.toString();
  return `${ctx.base}/${s ? `?${s}` : ''}`;
}

// Rows go in tables of CHUNK rows, each in a block the browser may skip laying out and painting
// while it is off screen (content-visibility), so 2,000 rows render about as fast as 50.
const CHUNK = 50;
function chunks(rows: SafeHtml[]): SafeHtml {
  const out: SafeHtml[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    out.push(
      html`<div class="chunk"><table class="fixed"><tbody>${joinHtml(rows.slice(i, i + CHUNK))}</tbody></table></div>`,
    );
  }
  return joinHtml(out);
}

export function inventoryPage(
  ctx: PageContext,
  report: StatusReport,
  environments: readonly string[],
  filter: InventoryFilter,
): string {
  const rows = report.rows.filter((r) => matches(r, filter));
  const counts = report.summary.byState;
  const summary = STATUS_STATES.filter((s) => counts[s] > 0 || s === 'ok' || s === 'overdue').map(
    (s) =>
      html`<a href="${filterHref(ctx, { ...filter, state: filter.state === s ? undefined : s })}" class="${filter.state === s ? 'on' : ''}">${stateBadge(s)}<b>${counts[s]}</b></a>`,
  );
  const body = rows.map((r) => {
    const secretHref = `${ctx.base}/secrets/${encodeURIComponent(r.secret)}`;
    const rotation =
      r.rotation && r.state === 'failed'
        ? html`<div class="muted mono">${r.rotation.errorCode ?? 'failed'}</div>`
        : '';
    return html`<tr><td><a href="${secretHref}">${r.secret}</a></td><td>${r.environment}</td><td>${r.kind}</td><td>${r.owner ?? '—'}</td><td>${stateBadge(r.state)}${rotation}</td><td>${formatDate(r.nextDueAt)} <span class="muted">${relative(r.nextDueAt, ctx.now)}</span></td><td>${formatDate(r.rotatedAt)}</td></tr>`;
  });
  const stateOptions = STATUS_STATES.map(
    (s) =>
      html`<option value="${s}" ${filter.state === s ? html`selected` : ''}>${STATE_LABELS[s]}</option>`,
  );
  const envOptions = environments.map(
    (e) => html`<option value="${e}" ${filter.env === e ? html`selected` : ''}>${e}</option>`,
  );
  return page(
    ctx,
    'inventory',
    'Inventory',
    html`<h1>Inventory</h1>
<div class="summary">${summary}</div>
<form class="filters" method="get" action="${ctx.base}/">
<input id="filter-q" name="q" type="search" placeholder="Filter by name, owner, kind…" value="${filter.q ?? ''}" maxlength="200">
<select name="state" aria-label="State"><option value="">any state</option>${stateOptions}</select>
<select name="env" aria-label="Environment"><option value="">any environment</option>${envOptions}</select>
<button type="submit" class="secondary">Filter</button>
<span class="muted"><span id="shown-count">${rows.length}</span> of ${report.rows.length} shown</span>
</form>
<div id="inventory"><table class="fixed"><thead><tr><th>Secret</th><th>Environment</th><th>Kind</th><th>Owner</th><th>State</th><th>Next due</th><th>Last rotated</th></tr></thead></table>
${chunks(body)}</div>
${rows.length === 0 ? html`<p class="muted">Nothing matches this filter.</p>` : ''}`,
  );
}
