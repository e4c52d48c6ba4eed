// Sign-in: name, password and the TOTP code. The hidden `csrf` field matches a pre-login cookie
// (double submit), so another site cannot sign a browser in to an account of its choosing.
import { html } from '../html.js';
import { barePage } from './layout.js';

export function loginPage(
  base: string,
  loginCsrf: string,
  options: { error?: string; name?: string; notice?: string } = {},
): string {
  return barePage(
    base,
    'Sign in',
    html`<div class="login card"><h1>Rotor</h1>
${options.notice ? html`<div class="notice ok">${options.notice}</div>` : ''}
${options.error ? html`<div class="notice err" role="alert">${options.error}</div>` : ''}
<form method="post" action="${base}/login" autocomplete="on">
<input type="hidden" name="csrf" value="${loginCsrf}">
<label for="name">Operator</label><input id="name" name="name" autocomplete="username" required maxlength="64" value="${options.name ?? ''}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label for="code">Code from your authenticator app</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" data-busy="Signing in…">Sign in</button>
</form></div>`,
  );
}
