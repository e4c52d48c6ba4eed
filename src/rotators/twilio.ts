// `twilio`: a Twilio auth token or Standard API key, rotated at Twilio (docs/providers.md).
import {
  defineRotator,
  type RotatorContext,
  type StoredMaterial,
} from '../core/rotator/rotator-contract.js';
import {
  abandonKey,
  assertKeyExists,
  createKey,
  deleteKey,
  parseApiKey,
  proveKey,
  verifyKey,
} from './twilio/api-key.js';
import {
  abandonSecondary,
  createSecondary,
  proveToken,
  retireToken,
  validateToken,
  verifyToken,
} from './twilio/auth-token.js';
import {
  twilioConfigSchema,
  type ApiKeyConfig,
  type AuthTokenConfig,
  type TwilioConfig,
} from './twilio/twilio-config.js';
import { pairParts } from './provider/pair-parts.js';

type Ctx = RotatorContext<TwilioConfig>;

function isToken(ctx: Ctx): ctx is RotatorContext<AuthTokenConfig> {
  return ctx.config.credential === 'auth-token';
}

const asKey = (ctx: Ctx) => ctx as RotatorContext<ApiKeyConfig>;

export const twilioRotator = defineRotator({
  kind: 'twilio',
  summary:
    'Twilio auth token (secondary token deployed during the grace window, then promoted at retire, which kills the old primary) or Standard API key (created, verified, deleted at retire)',
  source: 'generated',
  configSchema: twilioConfigSchema,
  // Said in `rotor status`, because the moment the old auth token dies is not where operators expect.
  statusNote:
    "an auth token's old primary keeps working through the grace window and dies at retire, when Rotor calls Twilio's promote (not at rotate)",
  create: (ctx) => (isToken(ctx) ? createSecondary(ctx) : createKey(asKey(ctx))),
  // A rotation killed inside create: delete the secondary / the key named for its version.
  abandon: (ctx) => (isToken(ctx) ? abandonSecondary(ctx) : abandonKey(asKey(ctx))),
  async apply(ctx, material) {
    // An auth token's secondary exists from create on; verify proves Twilio accepts it.
    if (!isToken(ctx)) await assertKeyExists(asKey(ctx), material);
  },
  verify: (ctx, material) =>
    isToken(ctx) ? verifyToken(ctx, material) : verifyKey(asKey(ctx), material),
  retire: (ctx, old) => (isToken(ctx) ? retireToken(ctx, old) : deleteKey(asKey(ctx), old)),
  prove: (ctx, old: StoredMaterial) =>
    isToken(ctx) ? proveToken(ctx, old) : proveKey(asKey(ctx), old),
  async emergencyActions(ctx) {
    return isToken(ctx)
      ? [
          'Twilio promoted the new auth token at once (POST /v1/AuthTokens/Promote), which ends the old primary token without a grace window',
        ]
      : ['the previous Twilio API key was deleted at once'];
  },
  deliveredParts(config, value) {
    if (config.credential !== 'api-key') return [];
    return pairParts(config.variables, ['sid', 'secret'], () => parseApiKey(value, 'value'));
  },
  async validateImport(ctx, value) {
    if (isToken(ctx)) return validateToken(ctx, value);
    const key = parseApiKey(value, `${ctx.secret}/${ctx.environment}`);
    return { value, meta: { keySid: key.sid, imported: true } };
  },
});
