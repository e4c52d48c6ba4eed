// Twilio REST calls for the `twilio` kind, on the shared provider HTTP client (timeouts, retries
// with backoff honouring Retry-After, errors naming Twilio and the operation). Twilio
// authenticates with HTTP Basic: the account SID and an auth token, or an API key SID and its
// secret. Credentials are only ever placed in the Authorization header.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import {
  providerRequest,
  type ProviderRequest,
  type ProviderResponse,
} from '../provider/provider-http.js';
import type { TwilioConfig } from './twilio-config.js';

type Ctx = RotatorContext<TwilioConfig>;

/** A Basic-auth principal: an account SID with an auth token, or an API key SID with its secret. */
export interface TwilioLogin {
  username: string;
  password: string;
}

export const where = (ctx: Ctx) => `${ctx.secret}/${ctx.environment}`;

/** The account this environment's credential belongs to. */
export function accountOf(ctx: Ctx): string {
  const sid = ctx.config.accountSid;
  if (typeof sid === 'string') return sid;
  const found = sid[ctx.environment];
  if (!found) {
    throw new RotorError(
      'ERR_ROTOR_ROTATOR_CONFIG',
      `${where(ctx)}: config.accountSid names no account for environment ${ctx.environment}`,
      {
        details: { secret: ctx.secret, environment: ctx.environment },
      },
    );
  }
  return found;
}

/** The admin credential rotor.yaml names: `SK…:SECRET` (a Main key) or an auth token for the account. */
export async function adminLogin(
  ctx: Ctx,
  ref: NonNullable<TwilioConfig['admin']>,
): Promise<TwilioLogin> {
  const text = (
    await readCredential(
      ctx,
      ref,
      'Twilio admin credential',
      'the account auth token or a Main API key as SK…:SECRET',
    )
  ).trim();
  const at = text.indexOf(':');
  if (at > 0 && /^SK[0-9a-f]{32}$/.test(text.slice(0, at)))
    return { username: text.slice(0, at), password: text.slice(at + 1) };
  return { username: accountOf(ctx), password: text };
}

export interface TwilioCall {
  login: TwilioLogin;
  method: ProviderRequest['method'];
  /** Path with `{AccountSid}` for the account; the operation named in errors is this template. */
  path: string;
  base: 'api' | 'accounts';
  form?: Record<string, string>;
  accept?: number[];
}

export function twilioRequest(ctx: Ctx, call: TwilioCall): Promise<ProviderResponse> {
  const base =
    call.base === 'accounts' && ctx.config.credential === 'auth-token'
      ? ctx.config.accountsBase
      : ctx.config.apiBase;
  const path = call.path.replace('{AccountSid}', accountOf(ctx));
  return providerRequest({
    provider: 'Twilio',
    operation: `${call.method} ${call.path.split('?')[0]!.replace(/SK[0-9a-f]{32}/, '{KeySid}')}`,
    url: new URL(path, base).toString(),
    method: call.method,
    authorization: `Basic ${Buffer.from(`${call.login.username}:${call.login.password}`).toString('base64')}`,
    ...(call.form ? { form: call.form } : {}),
    timeoutMs: ctx.config.timeoutMs,
    attempts: ctx.config.attempts,
    where: where(ctx),
    ...(call.accept ? { accept: call.accept } : {}),
  });
}

/** Whether Twilio accepts `login` on an authenticated GET of `path`: 401/403 is "no", anything else throws. */
export async function accepts(
  ctx: Ctx,
  login: TwilioLogin,
  path: string,
): Promise<{ accepted: boolean; status: number }> {
  const answer = await twilioRequest(ctx, {
    login,
    method: 'GET',
    path,
    base: 'api',
    accept: [401, 403],
  });
  return { accepted: answer.status < 300, status: answer.status };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tries `login` until Twilio's answer is `want` (accepted for a new credential, refused for a
 * revoked one) or the propagation attempts run out; resolves with the last answer.
 */
export async function acceptsUntil(
  ctx: Ctx,
  login: TwilioLogin,
  path: string,
  want: boolean,
): Promise<{ accepted: boolean; status: number; attempts: number }> {
  const { attempts, delayMs } = ctx.config.propagation;
  let last = { accepted: !want, status: 0 };
  for (let i = 1; i <= attempts; i++) {
    last = await accepts(ctx, login, path);
    if (last.accepted === want) return { ...last, attempts: i };
    if (i < attempts) await sleep(delayMs);
  }
  return { ...last, attempts };
}
