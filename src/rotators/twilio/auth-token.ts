// The Twilio auth token through the secondary-token flow, with Rotor's grace window before
// Twilio's promote (docs/providers.md); which token a version is, is always read from Twilio.
import { RotorError } from '../../core/errors.js';
import type {
  Material,
  RotatorContext,
  StoredMaterial,
} from '../../core/rotator/rotator-contract.js';
import {
  accepts,
  acceptsUntil,
  accountOf,
  adminLogin,
  twilioRequest,
  where,
  type TwilioLogin,
} from './twilio-api.js';
import type { AuthTokenConfig } from './twilio-config.js';

type Ctx = RotatorContext<AuthTokenConfig>;

const ACCOUNT_PATH = '/2010-04-01/Accounts/{AccountSid}.json';
export const AUTH_TOKEN = /^[0-9a-f]{32}$/;

const tokenLogin = (ctx: Ctx, token: string): TwilioLogin => ({
  username: accountOf(ctx),
  password: token,
});

/** Who calls the AuthTokens endpoints: the Main key rotor.yaml names, else the current token. */
async function managerLogin(ctx: Ctx): Promise<TwilioLogin> {
  if (ctx.config.admin) return adminLogin(ctx, ctx.config.admin);
  const current = await ctx.readSecret?.(ctx.secret);
  if (!current) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_ADMIN_MISSING',
      `${where(ctx)}: no current auth token to manage the secondary with: import the token in use first (\`rotor import ${ctx.secret} --env ${ctx.environment}\`) or name a Main API key as config.admin; nothing was changed`,
      { details: { secret: ctx.secret, environment: ctx.environment } },
    );
  }
  return tokenLogin(ctx, current);
}

/** The account's primary auth token, as Twilio reports it on the account resource. */
async function primaryToken(ctx: Ctx, login: TwilioLogin): Promise<string> {
  const body = (await twilioRequest(ctx, { login, method: 'GET', path: ACCOUNT_PATH, base: 'api' }))
    .body as { auth_token?: unknown };
  if (typeof body?.auth_token !== 'string' || !body.auth_token) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: Twilio GET ${ACCOUNT_PATH} answered without the account's auth token; nothing was changed`,
    );
  }
  return body.auth_token;
}

/** Deletes the account's secondary auth token; false if there was none (404). */
async function deleteSecondary(ctx: Ctx, login: TwilioLogin): Promise<boolean> {
  const answer = await twilioRequest(ctx, {
    login,
    method: 'DELETE',
    path: '/v1/AuthTokens/Secondary',
    base: 'accounts',
    accept: [404],
  });
  return answer.status !== 404;
}

/** Makes a new secondary or promotes it (Accounts API, no body); returns Twilio's answer. */
async function postAuthTokens(
  ctx: Ctx,
  login: TwilioLogin,
  path: '/v1/AuthTokens/Secondary' | '/v1/AuthTokens/Promote',
): Promise<unknown> {
  return (await twilioRequest(ctx, { login, method: 'POST', path, base: 'accounts' })).body;
}

export async function createSecondary(ctx: Ctx): Promise<Material> {
  accountOf(ctx); // a config without this environment's account fails before anything else
  const login = await managerLogin(ctx);
  const current = await ctx.readSecret?.(ctx.secret);
  if (current && current !== (await primaryToken(ctx, login))) {
    if (!(await accepts(ctx, tokenLogin(ctx, current), ACCOUNT_PATH)).accepted) {
      throw new RotorError(
        'ERR_ROTOR_PROVIDER_AUTH_FAILED',
        `${where(ctx)}: Twilio refuses the current auth token: it was changed outside Rotor (the Console?); import the token in use (\`rotor import ${ctx.secret} --env ${ctx.environment}\`); nothing was changed`,
        { details: { provider: 'Twilio', operation: `GET ${ACCOUNT_PATH}` } },
      );
    }
    // The current value is Twilio's secondary: the last rotation's Twilio promote has not run.
    // A new secondary would replace the token apps now use.
    throw new RotorError(
      'ERR_ROTOR_ROTATION_IN_PROGRESS',
      `${where(ctx)}: the current auth token is still Twilio's secondary (the previous version's grace window has not ended, so Twilio has not promoted it yet); retire the previous version first (\`rotor retire ${ctx.secret} --env ${ctx.environment} --now --reason …\`), which promotes it at Twilio; nothing was changed`,
      { details: { secret: ctx.secret, environment: ctx.environment } },
    );
  }
  // A secondary here is nobody's: a rotation killed before storing it, or an abort whose delete failed.
  await deleteSecondary(ctx, login);
  const body = (await postAuthTokens(ctx, login, '/v1/AuthTokens/Secondary')) as {
    secondary_auth_token?: unknown;
  };
  const token = body?.secondary_auth_token;
  if (typeof token !== 'string' || !AUTH_TOKEN.test(token)) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: Twilio POST /v1/AuthTokens/Secondary answered without a secondary auth token`,
    );
  }
  return {
    value: token,
    meta: {
      accountSid: accountOf(ctx),
      twilioToken: 'secondary',
      twilioPromote: 'at retire, after the grace window (the old primary dies then)',
    },
  };
}

/**
 * A rotation killed inside create may have left the secondary it made. Twilio gives a secondary
 * no name, so it is deleted only when no Rotor version can hold it: the current value is
 * Twilio's primary (or there is none), the same rule create applies to a stray secondary. When
 * the current value is Twilio's secondary, create refused before making anything.
 */
export async function abandonSecondary(ctx: Ctx): Promise<string[]> {
  accountOf(ctx);
  const login = await managerLogin(ctx);
  const current = await ctx.readSecret?.(ctx.secret);
  if (current && current !== (await primaryToken(ctx, login))) {
    return [
      `the current auth token is not Twilio's primary, so create made no secondary for version ${ctx.versionId}; the secondary (the current version) was left alone`,
    ];
  }
  return !(await deleteSecondary(ctx, login))
    ? []
    : [
        `deleted the account's secondary auth token (DELETE /v1/AuthTokens/Secondary), which no Rotor version holds: the one create made for version ${ctx.versionId} (Twilio gives a secondary no name to check)`,
      ];
}

export async function verifyToken(ctx: Ctx, material: StoredMaterial): Promise<void> {
  const answer = await acceptsUntil(ctx, tokenLogin(ctx, material.value), ACCOUNT_PATH, true);
  if (!answer.accepted) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${where(ctx)}: Twilio refused the new secondary auth token on GET ${ACCOUNT_PATH} (HTTP ${answer.status}) after ${answer.attempts} attempt(s); it was not promoted`,
      { details: { provider: 'Twilio', status: answer.status, attempts: answer.attempts } },
    );
  }
}

/**
 * Retires `old`: Twilio's promote when `old` is the primary (the current value being the
 * secondary), the abort (delete the secondary) when `old` is the secondary, nothing when Twilio
 * no longer accepts it.
 */
/**
 * What the last retire of a version did at Twilio, for the proof's audit note (the engine calls
 * `prove` right after `retire`, in the same process). Keyed by version id; read once.
 */
const retiredBy = new Map<string, string>();

export async function retireToken(ctx: Ctx, old: StoredMaterial): Promise<void> {
  const login = await managerLogin(ctx);
  const primary = await primaryToken(ctx, login);
  const current = await ctx.readSecret?.(ctx.secret);
  if (old.value !== primary) {
    // `old` is not the primary: if Twilio still accepts it, it is the secondary (an aborted or
    // rolled-back rotation) and is deleted. If not, it is already dead, and the secondary, if any,
    // belongs to someone else: the rotation being promoted right now (a previous version that
    // Twilio promoted away before a crash is superseded while the new secondary is pending).
    if ((await accepts(ctx, tokenLogin(ctx, old.value), ACCOUNT_PATH)).accepted) {
      await deleteSecondary(ctx, login);
      retiredBy.set(old.versionId, 'it was the secondary: DELETE /v1/AuthTokens/Secondary');
    } else {
      retiredBy.set(old.versionId, 'Twilio already refused it');
    }
    return;
  }
  if (
    !current ||
    current === old.value ||
    !(await accepts(ctx, tokenLogin(ctx, current), ACCOUNT_PATH)).accepted
  ) {
    // Promoting now would leave apps on a token Twilio does not hold as its secondary.
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: version ${old.versionId} is Twilio's primary auth token but the current version is not Twilio's secondary; Twilio's promote was not called, so the old token still works`,
      { details: { provider: 'Twilio', operation: 'POST /v1/AuthTokens/Promote' } },
    );
  }
  const body = (await postAuthTokens(ctx, login, '/v1/AuthTokens/Promote')) as {
    auth_token?: unknown;
  };
  if (body?.auth_token !== current) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: Twilio POST /v1/AuthTokens/Promote made a token primary that is not the current version; check the account's auth tokens in the Twilio Console`,
      { details: { provider: 'Twilio', operation: 'POST /v1/AuthTokens/Promote' } },
    );
  }
  retiredBy.set(
    old.versionId,
    'Twilio promoted the new token at this retire (POST /v1/AuthTokens/Promote)',
  );
}

export async function proveToken(
  ctx: Ctx,
  old: StoredMaterial,
): Promise<{ refused: boolean; detail: string }> {
  const answer = await acceptsUntil(ctx, tokenLogin(ctx, old.value), ACCOUNT_PATH, false);
  const how = retiredBy.get(old.versionId);
  retiredBy.delete(old.versionId);
  return {
    refused: !answer.accepted,
    detail: `${how ? `${how}; ` : ''}Twilio answered HTTP ${answer.status} to GET ${ACCOUNT_PATH} with the retired auth token`,
  };
}

export function validateToken(ctx: Ctx, value: string): Material {
  if (!AUTH_TOKEN.test(value)) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${where(ctx)}: a Twilio auth token is 32 lower-case hex digits`,
    );
  }
  return { value, meta: { accountSid: accountOf(ctx), imported: true } };
}
