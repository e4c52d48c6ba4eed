// `http`: a credential at a provider Rotor has no rotator for, rotated through a small endpoint the
// team writes (the contract: docs/providers.md).
import { RotorError } from '../core/errors.js';
import { defineRotator } from '../core/rotator/rotator-contract.js';
import {
  abandonCredential,
  createCredential,
  revokeCredential,
  validUntil,
} from './http-webhook/webhook-actions.js';
import { webhookConfigSchema } from './http-webhook/webhook-config.js';

export const httpWebhookRotator = defineRotator({
  kind: 'http',
  summary:
    'any provider, through a team-written endpoint: signed create, verify and revoke calls (docs/providers.md)',
  source: 'generated',
  configSchema: webhookConfigSchema,
  create: (ctx) => createCredential(ctx),
  abandon: (ctx) => abandonCredential(ctx),
  async apply() {
    // The credential exists at the provider from create on; verify proves it works.
  },
  async verify(ctx, material) {
    const answer = await validUntil(ctx, material, true, 'verify');
    if (!answer.valid) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: the ${ctx.config.provider} endpoint says the new credential does not work after ${answer.attempts} attempt(s)${answer.reason ? ` (${answer.reason})` : ''}; it was not promoted`,
        { details: { provider: ctx.config.provider, attempts: answer.attempts } },
      );
    }
  },
  retire: (ctx, old) => revokeCredential(ctx, old),
  async prove(ctx, old) {
    const answer = await validUntil(ctx, old, false, 'prove');
    return {
      refused: !answer.valid,
      detail: `the ${ctx.config.provider} endpoint's verify answered valid: ${answer.valid} for the retired credential${answer.reason ? ` (${answer.reason})` : ''}`,
    };
  },
  async emergencyActions(ctx) {
    return [
      `the previous ${ctx.config.provider} credential was revoked through the endpoint at once, without a grace window`,
    ];
  },
  async validateImport(ctx, value) {
    // An imported credential has no id Rotor knows: revoke sends its value for the endpoint to find it.
    return { value, meta: { provider: ctx.config.provider, imported: true } };
  },
});
