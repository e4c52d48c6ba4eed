// The frame every signed-in page shares: navigation, the operator, the logout form (POST with
// the CSRF token) and the asset links.
import { html, type SafeHtml } from '../html.js';

export interface PageContext {
  /** The dashboard's URL prefix, e.g. `/dashboard`. */
  base: string;
  operator: string;
  csrfToken: string;
  now: number;
}

export type NavItem = 'inventory' | 'calendar' | 'audit' | 'secret';

export function csrfField(ctx: Pick<PageContext, 'csrfToken'>): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${ctx.csrfToken}">`;
}

function document(title: string, base: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Rotor</title><link rel="stylesheet" href="${base}/assets/dashboard.css"></head>
<body>${body}<script src="${base}/assets/dashboard.js"></script></body></html>`.value;
}

export function page(ctx: PageContext, active: NavItem, title: string, body: SafeHtml): string {
  const link = (item: NavItem, href: string, label: string) =>
    html`<a href="${ctx.base}${href}" class="${active === item ? 'active' : ''}">${label}</a>`;
  return document(
    title,
    ctx.base,
    html`<header class="top"><a class="brand" href="${ctx.base}/">ROTOR</a>
<nav>${link('inventory', '/', 'Inventory')}${link('calendar', '/calendar', 'Calendar')}${link('audit', '/audit', 'Audit log')}</nav>
<div class="who"><span>signed in as <b id="operator-name">${ctx.operator}</b></span>
<form method="post" action="${ctx.base}/logout">${csrfField(ctx)}<button type="submit">Sign out</button></form></div></header>
<main>${body}</main><footer>Rotor · times in UTC · ${new Date(ctx.now).toISOString().slice(0, 16).replace('T', ' ')}Z</footer>`,
  );
}

/** A page outside the signed-in frame (login, errors before a session exists). */
export function barePage(base: string, title: string, body: SafeHtml): string {
  return document(title, base, html`<main>${body}</main>`);
}

export function errorPage(
  ctx: PageContext | undefined,
  base: string,
  title: string,
  message: string,
): string {
  const body = html`<h1>${title}</h1><div class="notice err">${message}</div><p><a href="${base}/">Back to the inventory</a></p>`;
  return ctx ? page(ctx, 'inventory', title, body) : barePage(base, title, body);
}
