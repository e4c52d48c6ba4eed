// The audit log: whether the hash chain verifies, the newest rows (filterable), and a CSV
// export link carrying the same filter.
import type { AuditRecord } from '../../../core/audit/audit-query.js';
import type { AuditVerifyResult } from '../../../core/audit/audit-verify.js';
import { html } from '../html.js';
import { page, type PageContext } from './layout.js';
import { auditTable } from './secret-page.js';

export interface AuditPageFilter {
  secret?: string;
  action?: string;
  limit: number;
}

export function auditPage(
  ctx: PageContext,
  verify: AuditVerifyResult,
  rows: AuditRecord[],
  filter: AuditPageFilter,
): string {
  const params = new URLSearchParams();
  if (filter.secret) params.set('secret', filter.secret);
  if (filter.action) params.set('action', filter.action);
  const csvHref = `${ctx.base}/audit.csv${params.size ? `?${params.toString()}` : ''}`;
  const chain = verify.ok
    ? html`<div class="notice ok" id="chain-status" data-ok="true">Chain verified: ${verify.rows} rows intact, head #${verify.headSeq} <span class="mono">${verify.headHash.slice(0, 16)}…</span></div>`
    : html`<div class="notice err" id="chain-status" data-ok="false" role="alert">Chain BROKEN at row #${verify.firstBad?.seq ?? '?'} (${verify.firstBad?.problem ?? 'unknown'}): ${verify.firstBad?.message ?? ''}. ${verify.rows} rows before it are intact.</div>`;
  return page(
    ctx,
    'audit',
    'Audit log',
    html`<h1>Audit log</h1>${chain}
<form class="filters" method="get" action="${ctx.base}/audit">
<input name="secret" placeholder="Secret" value="${filter.secret ?? ''}" maxlength="200">
<input name="action" placeholder="Action (rotate, operator.login…)" value="${filter.action ?? ''}" maxlength="100">
<select name="limit" aria-label="Rows">${[50, 200, 1000].map((n) => html`<option value="${n}" ${filter.limit === n ? html`selected` : ''}>${n} rows</option>`)}</select>
<button type="submit" class="secondary">Filter</button>
<a class="button" id="csv-export" href="${csvHref}" download>Export CSV</a>
</form>
${auditTable(rows, { showSecret: true })}`,
  );
}
