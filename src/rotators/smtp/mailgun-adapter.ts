// Mailgun: a domain's SMTP login has one password, and changing it (PUT) cuts off the old one at
// once, so Rotor alternates two logins (A/B): each rotation sets a new password on the login not
// in use, and retire deletes the old login. A login that still exists when a rotation wants it is
// the previous version in its grace window: refused unless it is an emergency.
import { randomBytes } from 'node:crypto';
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import { providerRequest, type ProviderRequest } from '../provider/provider-http.js';
import type { SmtpAdapter } from './smtp-adapter.js';
import type { MailgunConfig } from './smtp-config.js';
import { formatSmtpValue, parseSmtpValue } from './smtp-login.js';

type Ctx = RotatorContext<MailgunConfig>;

async function api(
  ctx: Ctx,
  method: ProviderRequest['method'],
  path: string,
  extra: Partial<ProviderRequest> = {},
) {
  const key = await readCredential(ctx, ctx.config.admin, 'Mailgun API key', 'a Mailgun API key');
  const base = `/v3/domains/${encodeURIComponent(ctx.config.domain)}/credentials`;
  return providerRequest({
    provider: 'Mailgun',
    operation: `${method} ${base}${path ? '/{login}' : ''}`,
    url: new URL(`${base}${path}`, ctx.config.apiBase).toString(),
    method,
    authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}`,
    timeoutMs: ctx.config.timeoutMs,
    attempts: ctx.config.attempts,
    where: `${ctx.secret}/${ctx.environment}`,
    ...extra,
  });
}

async function logins(ctx: Ctx): Promise<Set<string>> {
  const body = (await api(ctx, 'GET', '')).body as { items?: { login: string }[] };
  return new Set((body.items ?? []).map((i) => i.login));
}

const full = (ctx: Ctx, local: string) => `${local}@${ctx.config.domain}`;

function loginOf(ctx: Ctx, value: string): string {
  return parseSmtpValue(value, `${ctx.secret}/${ctx.environment}`).username;
}

export const mailgunAdapter: SmtpAdapter<MailgunConfig> = {
  async abandon(ctx) {
    // create only picks the idle login and a password; Mailgun is first called at apply, after
    // the version is stored (a rollback from there deletes the login through retire).
    return [
      `Mailgun was not called for version ${ctx.versionId}: create sets nothing at Mailgun (the login is set at apply, after the version is stored), so there was nothing to delete`,
    ];
  },
  async create(ctx) {
    const current = await ctx.readSecret?.(ctx.secret);
    const currentLogin = current ? loginOf(ctx, current) : undefined;
    const [a, b] = ctx.config.logins.map((l) => full(ctx, l)) as [string, string];
    const idle = currentLogin === a ? b : a;
    if (!ctx.emergency && (await logins(ctx)).has(idle) && current !== undefined) {
      throw new RotorError(
        'ERR_ROTOR_PROVIDER_KEY_LIMIT',
        `${ctx.secret}/${ctx.environment}: Mailgun login ${idle}, which this rotation would reuse, still exists (the previous version, inside its grace window); nothing was changed. Rotate again after \`rotor retire\`, or use --emergency`,
        { details: { login: idle } },
      );
    }
    // Mailgun passwords are 5 to 32 characters: 24 random bytes are 32 base64url characters.
    const password = randomBytes(24).toString('base64url');
    return {
      value: formatSmtpValue({ username: idle, password }),
      meta: { adapter: 'mailgun', login: idle, domain: ctx.config.domain },
    };
  },
  async apply(ctx, material) {
    const { username, password } = parseSmtpValue(material.value, ctx.secret);
    if ((await logins(ctx)).has(username)) {
      await api(ctx, 'PUT', `/${encodeURIComponent(username)}`, { form: { password } });
    } else {
      await api(ctx, 'POST', '', { form: { login: username, password } });
    }
  },
  async revoke(ctx, old) {
    const login = loginOf(ctx, old.value);
    // Never the login the current version uses (an imported value may share it).
    const current = await ctx.readSecret?.(ctx.secret);
    if (current && loginOf(ctx, current) === login && !ctx.emergency) return;
    await api(ctx, 'DELETE', `/${encodeURIComponent(login)}`, { accept: [404] });
  },
  emergencyNote() {
    return 'the previous Mailgun SMTP login was deleted at once';
  },
};
