// `smtp`: an SMTP credential rotated at the provider by an adapter and verified by a real SMTP AUTH
// over TLS (docs/providers.md).
import { RotorError } from '../core/errors.js';
import {
  defineRotator,
  type RotatorContext,
  type StoredMaterial,
} from '../core/rotator/rotator-contract.js';
import { mailgunAdapter } from './smtp/mailgun-adapter.js';
import { sendgridAdapter } from './smtp/sendgrid-adapter.js';
import { sesAdapter } from './smtp/ses-adapter.js';
import type { SmtpAdapter } from './smtp/smtp-adapter.js';
import { smtpConfigSchema, type SmtpConfig } from './smtp/smtp-config.js';
import { parseSmtpValue, smtpLoginUntil } from './smtp/smtp-login.js';
import { pairParts } from './provider/pair-parts.js';

type Ctx = RotatorContext<SmtpConfig>;

const ADAPTERS = { ses: sesAdapter, sendgrid: sendgridAdapter, mailgun: mailgunAdapter } as const;

function adapterOf(ctx: Ctx): SmtpAdapter<SmtpConfig> {
  return ADAPTERS[ctx.config.adapter];
}

function credentialOf(ctx: Ctx, material: StoredMaterial) {
  return parseSmtpValue(
    material.value,
    `${ctx.secret}/${ctx.environment} version ${material.versionId}`,
  );
}

const where = (ctx: Ctx) => `${ctx.config.smtp.host}:${ctx.config.smtp.port}`;

export const smtpRotator = defineRotator({
  kind: 'smtp',
  summary:
    'SMTP credential at SES, SendGrid or Mailgun: made by the provider API, SMTP AUTH over TLS before promotion, refused after retire',
  source: 'generated',
  configSchema: smtpConfigSchema,
  create: (ctx) => adapterOf(ctx).create(ctx),
  abandon: (ctx) => adapterOf(ctx).abandon(ctx),
  apply: (ctx, material) => adapterOf(ctx).apply(ctx, material),
  async verify(ctx, material) {
    const credential = credentialOf(ctx, material);
    const answer = await smtpLoginUntil(ctx, credential, true);
    if (!answer.accepted) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: SMTP AUTH at ${where(ctx)} refused the new ${ctx.config.adapter} credential for ${credential.username} after ${answer.attempts} attempt(s) (${answer.reply}); it was not promoted`,
        {
          details: {
            host: ctx.config.smtp.host,
            adapter: ctx.config.adapter,
            attempts: answer.attempts,
          },
        },
      );
    }
  },
  async retire(ctx, old) {
    const adapter = adapterOf(ctx);
    await adapter.revoke(ctx, old);
    await adapter.afterRevoke?.(ctx, old);
  },
  async prove(ctx, old) {
    // A server that cannot be asked throws: the engine records the revocation as unproven.
    const answer = await smtpLoginUntil(ctx, credentialOf(ctx, old), false);
    return answer.accepted
      ? {
          refused: false,
          detail: `SMTP AUTH at ${where(ctx)} still accepted the retired ${ctx.config.adapter} credential after ${answer.attempts} attempt(s)`,
        }
      : {
          refused: true,
          detail: `SMTP AUTH at ${where(ctx)} refused the retired ${ctx.config.adapter} credential (${answer.reply})`,
        };
  },
  async emergencyActions(ctx) {
    return [`${adapterOf(ctx).emergencyNote(ctx)}; SMTP AUTH at ${where(ctx)} refuses it`];
  },
  deliveredParts(config, value) {
    return pairParts(config.variables, ['username', 'password'], () =>
      parseSmtpValue(value, 'value'),
    );
  },
  async validateImport(ctx, value) {
    const c = parseSmtpValue(value, ctx.secret);
    return { value, meta: { adapter: ctx.config.adapter, username: c.username, imported: true } };
  },
});
