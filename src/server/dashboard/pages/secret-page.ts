// One secret: its policy facts, state per environment, the version timeline (every version
// with its stage and when it was created, promoted, retired), recent rotations, its audit rows,
// and the rotate / emergency-rotate forms.
import type { AuditRecord } from '../../../core/audit/audit-query.js';
import type { ConsumerInfo } from '../../../core/consumers/consumer-record.js';
import type { SecretSpec } from '../../../core/policy/policy.js';
import type { StatusRow } from '../../../core/status/status.js';
import type { RotationsTable } from '../../../core/store/schema.js';
import type { VersionInfo } from '../../../core/vault/versions.js';
import { formatDate, formatDateTime, relative } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import { stateBadge } from './inventory-page.js';
import { csrfField, page, type PageContext } from './layout.js';

export interface SecretPageData {
  spec: Pick<
    SecretSpec,
    'name' | 'kind' | 'owner' | 'notes' | 'environments' | 'cadence' | 'graceMs'
  >;
  status: StatusRow[];
  versions: VersionInfo[];
  rotations: Pick<
    RotationsTable,
    | 'id'
    | 'environment'
    | 'method'
    | 'operator'
    | 'request_id'
    | 'reason'
    | 'state'
    | 'step'
    | 'started_at'
    | 'finished_at'
    | 'error_code'
    | 'error_message'
  >[];
  audit: AuditRecord[];
  /** Apps (rotor/client) that reported which version of this secret they hold. */
  consumers: ConsumerInfo[];
  /** Why the forms are not offered (a manual kind, the master key), if so. */
  notRotatable?: string;
  /** The outcome of the request that redirected here. */
  result?: { requestId: string; rows: AuditRecord[] };
  /** A form's input was refused. */
  formError?: string;
}

const DAY = 86_400_000;

function duration(ms: number): string {
  return ms % DAY === 0
    ? `${ms / DAY} d`
    : ms % 3_600_000 === 0
      ? `${ms / 3_600_000} h`
      : `${Math.round(ms / 60_000)} min`;
}

export function auditTable(
  rows: readonly AuditRecord[],
  options: { showSecret?: boolean; highlight?: string } = {},
): SafeHtml {
  if (rows.length === 0) return html`<p class="muted">No audit rows.</p>`;
  const body = rows.map(
    (r) =>
      html`<tr class="${options.highlight && r.requestId === options.highlight ? 'highlight' : ''}" data-request-id="${r.requestId}"><td class="mono">${r.seq}</td><td class="mono">${r.at.slice(0, 19).replace('T', ' ')}Z</td>${options.showSecret ? html`<td>${r.secret ?? '—'}</td>` : ''}<td>${r.environment ?? '—'}</td><td>${r.operator}</td><td>${r.method}</td><td class="mono">${r.action}</td><td>${r.outcome}</td><td class="mono">${r.requestId}</td><td>${r.notes}</td></tr>`,
  );
  return html`<table class="audit"><thead><tr><th>#</th><th>Time</th>${options.showSecret ? html`<th>Secret</th>` : ''}<th>Env</th><th>Operator</th><th>Method</th><th>Action</th><th>Outcome</th><th>Request id</th><th>Notes</th></tr></thead><tbody>${body}</tbody></table>`;
}

function resultNotice(result: NonNullable<SecretPageData['result']>): SafeHtml {
  const failed = result.rows.filter((r) => r.outcome === 'failure');
  const promoted = result.rows.filter(
    (r) => r.action === 'rotate.promote' && r.outcome === 'success',
  );
  if (failed.length > 0) {
    return html`<div class="notice err" role="alert">Request <span class="mono">${result.requestId}</span> failed: ${failed.map((r) => html`<div>${r.environment ?? ''} ${r.action}: ${r.notes}</div>`)}</div>`;
  }
  if (promoted.length > 0) {
    return html`<div class="notice ok" role="status">Rotated in ${promoted.map((r) => r.environment).join(', ')} — request <span class="mono">${result.requestId}</span></div>`;
  }
  return html`<div class="notice warn" role="status">Request <span class="mono">${result.requestId}</span>: ${result.rows.length === 0 ? 'no change recorded' : result.rows.map((r) => `${r.action} (${r.outcome})`).join(', ')}</div>`;
}

export function secretPage(ctx: PageContext, data: SecretPageData): string {
  const { spec } = data;
  const name = spec.name;
  const action = `${ctx.base}/secrets/${encodeURIComponent(name)}`;
  const envOptions = spec.environments.map((e) => html`<option value="${e}">${e}</option>`);
  const status = data.status.map(
    (r) =>
      html`<tr><td>${r.environment}</td><td>${stateBadge(r.state)}</td><td>${formatDate(r.rotatedAt)}</td><td>${formatDate(r.nextDueAt)} <span class="muted">${relative(r.nextDueAt, ctx.now)}</span></td><td>${formatDate(r.overdueAt)}</td><td>${r.graceUntil ? formatDateTime(r.graceUntil) : '—'}</td></tr>`,
  );
  const versions = data.versions.map(
    (v) =>
      html`<tr><td class="mono">${v.id}</td><td>${v.environment}</td><td><span class="badge st-${v.stage}">${v.stage}</span>${v.compromised ? html` <span class="badge s-failed">compromised</span>` : ''}</td><td>${v.origin}</td><td>${formatDateTime(v.created_at)}</td><td>${formatDateTime(v.promoted_at)}</td><td>${v.retired_at ? formatDateTime(v.retired_at) : v.retire_at ? html`<span class="muted">due ${formatDateTime(v.retire_at)}</span>` : '—'}</td></tr>`,
  );
  const rotations = data.rotations.map(
    (r) =>
      html`<tr><td>${formatDateTime(r.started_at)}</td><td>${r.environment}</td><td>${r.method}</td><td>${r.operator}</td><td>${r.state}${r.error_code ? html` <span class="mono muted">${r.error_code}</span>` : ''}</td><td>${r.reason ?? ''}</td><td class="mono">${r.request_id}</td></tr>`,
  );
  const holdings = data.consumers.flatMap((c) => c.holds.map((h) => ({ c, h })));
  const behind = holdings.filter(({ c, h }) => c.live && h.behind).length;
  const consumers = holdings.map(
    ({ c, h }) =>
      html`<tr data-consumer="${c.id}"><td>${c.app}</td><td class="mono">${c.id}</td><td>${h.environment}</td><td class="mono">${h.version}</td><td>${h.behind ? html`<span class="badge s-overdue">old version</span>` : html`<span class="badge s-ok">current</span>`}</td><td>${c.live ? 'live' : html`<span class="muted">lapsed</span>`}</td><td>${c.lastSeenAt.slice(0, 19).replace('T', ' ')}Z</td></tr>`,
  );
  const forms = data.notRotatable
    ? html`<div class="notice warn">${data.notRotatable}</div>`
    : html`<div class="actions">
<form class="card" method="post" action="${action}/rotate" id="rotate-form">${csrfField(ctx)}
<h2>Rotate</h2><p class="muted">Staged rotation: the previous version stays valid for its grace window (${duration(spec.graceMs)}).</p>
<label for="rotate-env">Environment</label><select id="rotate-env" name="environment"><option value="">all, in order</option>${envOptions}</select>
<label for="rotate-reason">Reason</label><textarea id="rotate-reason" name="reason" required maxlength="500" placeholder="Why rotate now?"></textarea>
<p><button type="submit" data-busy="Rotating…">Rotate ${name}</button></p></form>
<form class="card" method="post" action="${action}/emergency" id="emergency-form" data-confirm="${name}">${csrfField(ctx)}
<h2>Emergency rotation</h2><p class="muted">No grace: the current version is revoked at once and the kind's emergency actions run.</p>
<label for="emergency-env">Environment</label><select id="emergency-env" name="environment"><option value="">all, in order</option>${envOptions}</select>
<label for="emergency-reason">Reason</label><textarea id="emergency-reason" name="reason" required maxlength="500" placeholder="What happened?"></textarea>
<label for="emergency-confirm">Type <span class="mono">${name}</span> to confirm</label><input id="emergency-confirm" name="confirm" autocomplete="off" required maxlength="200">
<p><button type="submit" class="danger" data-busy="Rotating…">Emergency-rotate ${name}</button></p></form></div>`;
  return page(
    ctx,
    'secret',
    name,
    html`<p><a href="${ctx.base}/">← Inventory</a></p><h1 class="mono">${name}</h1>
${data.result ? resultNotice(data.result) : ''}
${data.formError ? html`<div class="notice err" role="alert">${data.formError}</div>` : ''}
<div class="card"><dl class="facts"><dt>Kind</dt><dd>${spec.kind}</dd><dt>Owner</dt><dd id="secret-owner">${spec.owner ?? '—'}</dd>
<dt>Cadence</dt><dd>due at ${duration(spec.cadence.targetMs)}, overdue after ${duration(spec.cadence.maxMs)}, warned ${duration(spec.cadence.warnMs)} before</dd>
<dt>Notes</dt><dd id="secret-notes">${spec.notes ?? '—'}</dd></dl></div>
<h2>State</h2><table><thead><tr><th>Environment</th><th>State</th><th>Last rotated</th><th>Next due</th><th>Overdue from</th><th>Grace until</th></tr></thead><tbody>${status}</tbody></table>
<h2>Actions</h2>${forms}
<h2>Consumers</h2>${holdings.length === 0 ? html`<p class="muted">No app has reported holding this secret (apps using rotor/client report the version they hold).</p>` : html`${behind > 0 ? html`<div class="notice warn" id="consumers-behind">${behind} live consumer(s) still hold an old version: retiring it waits for them.</div>` : ''}<table id="consumers"><thead><tr><th>App</th><th>Consumer</th><th>Env</th><th>Holds version</th><th></th><th>Heartbeat</th><th>Last seen</th></tr></thead><tbody>${consumers}</tbody></table>`}
<h2>Version timeline</h2>${data.versions.length === 0 ? html`<p class="muted">No versions stored yet.</p>` : html`<table id="versions"><thead><tr><th>Version</th><th>Env</th><th>Stage</th><th>Origin</th><th>Created</th><th>Promoted</th><th>Retired</th></tr></thead><tbody>${versions}</tbody></table>`}
<h2>Rotations</h2>${data.rotations.length === 0 ? html`<p class="muted">None yet.</p>` : html`<table><thead><tr><th>Started</th><th>Env</th><th>Method</th><th>Operator</th><th>State</th><th>Reason</th><th>Request id</th></tr></thead><tbody>${rotations}</tbody></table>`}
<h2>Audit</h2>${auditTable(data.audit, data.result ? { highlight: data.result.requestId } : {})}`,
  );
}
