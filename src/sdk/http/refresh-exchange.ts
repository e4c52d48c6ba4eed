// The framework-neutral core of the refresh endpoint in rotor/express and rotor/fastify, answering
// as an OAuth 2.0 token endpoint does (docs/apps.md).
import { RotorError } from '../../core/errors.js';
import type { JwtClaims } from '../jwt/jwt-types.js';
import type { JwtKeys } from '../jwt/jwt-keys.js';
import type { RefreshResult, RefreshTokens } from '../tokens/refresh-tokens.js';
import {
  challenge,
  checkRealm,
  isUnavailable,
  rotorCode,
  unavailable,
  type HttpReply,
} from './bearer-auth.js';

export interface RefreshCookieOptions {
  /** Cookie name (default `refresh_token`). */
  name?: string;
  /** Cookie `Path` (default `/`); narrow it to the refresh and logout routes where you can. */
  path?: string;
  domain?: string;
  /** Default `Strict`. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** Default true; only turn off for plain-HTTP development. */
  secure?: boolean;
}

export interface RefreshHandlerOptions {
  /** Refresh-token families (`createRefreshTokens` from rotor/tokens); only `refresh` is used. */
  refresh: Pick<RefreshTokens, 'refresh'>;
  /** The access-token keyring (`createJwtKeys` from rotor/jwt); only `sign` is used. */
  access: Pick<JwtKeys, 'sign'>;
  /** The `realm` of the challenge on 401 (default `api`). */
  realm?: string;
  /**
   * Where else the refresh token may come from, and where a rotated one goes back to when it
   * came from there: an HttpOnly cookie. Default `{ name: 'refresh_token' }`; false reads only
   * the JSON body.
   */
  cookie?: RefreshCookieOptions | false;
  /** The claims of the new access token (default: the login claims, `sub`, and `sid` = the family id). */
  accessClaims?(result: RefreshResult): JwtClaims;
  /** Called on every refusal with its code, for logs and metrics; never given the token. */
  onRejected?(event: { status: number; error: string; code: string | undefined }): void;
}

/** What the refresh endpoint needs from a request, whatever the framework. */
export interface RefreshRequest {
  /** The parsed body (an object for JSON), or undefined. */
  body: unknown;
  /** The `Cookie` header. */
  cookie: string | undefined;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_ATTR = /^[\x21-\x3a\x3c-\x7e]+$/;
const TOKEN_CHARS = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 16_384;

const GRANT_DESCRIPTIONS: Record<string, string> = {
  ERR_ROTOR_TOKENS_REUSE_DETECTED:
    'the refresh token was already used; the session is revoked: log in again',
  ERR_ROTOR_TOKENS_FAMILY_REVOKED: 'the session was revoked: log in again',
  ERR_ROTOR_TOKENS_SESSION_REVOKED: 'the session was revoked: log in again',
  ERR_ROTOR_TOKENS_FAMILY_UNKNOWN: 'the session is unknown: log in again',
  ERR_ROTOR_TOKENS_ABSOLUTE_EXPIRED: 'the session reached its maximum lifetime: log in again',
  ERR_ROTOR_TOKENS_IDLE_EXPIRED: 'the session was idle too long: log in again',
  ERR_ROTOR_TOKENS_INVALID: 'not a refresh token',
  ERR_ROTOR_JWT_EXPIRED: 'the refresh token expired: log in again',
  ERR_ROTOR_JWT_KID_COMPROMISED: 'the refresh token was signed with a revoked key: log in again',
  ERR_ROTOR_JWT_KID_RETIRED: 'the refresh token was signed with a retired key: log in again',
  ERR_ROTOR_JWT_TYPE_MISMATCH: 'not a refresh token',
};

export interface RefreshExchange {
  /** Answers one refresh request. Errors that are not Rotor's (a bug, a store crash) are thrown. */
  (request: RefreshRequest): Promise<HttpReply & { setCookie?: string }>;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

function checkCookie(
  options: RefreshCookieOptions | false | undefined,
): (Required<Omit<RefreshCookieOptions, 'domain'>> & { domain?: string }) | undefined {
  if (options === false) return undefined;
  const c = options ?? {};
  const out = {
    name: c.name ?? 'refresh_token',
    path: c.path ?? '/',
    sameSite: c.sameSite ?? 'Strict',
    secure: c.secure ?? true,
    ...(c.domain !== undefined ? { domain: c.domain } : {}),
  };
  if (!COOKIE_NAME.test(out.name))
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'cookie.name must be an RFC 6265 cookie name',
    );
  if (!COOKIE_ATTR.test(out.path) || (out.domain !== undefined && !COOKIE_ATTR.test(out.domain)))
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'cookie.path and cookie.domain must be printable ASCII without ; or spaces',
    );
  if (!['Strict', 'Lax', 'None'].includes(out.sameSite))
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'cookie.sameSite must be Strict, Lax or None',
    );
  if (out.sameSite === 'None' && !out.secure)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'cookie.sameSite None needs secure (browsers refuse it otherwise)',
    );
  return out;
}

/**
 * The `Set-Cookie` value that hands a refresh token to a browser: HttpOnly, Secure, SameSite
 * Strict by default, expiring with the token. Use it at login for cookie-based clients.
 *
 * @example
 * res.setHeader('set-cookie', refreshCookie(issued.token, issued.expiresAt));
 */
export function refreshCookie(
  token: string,
  expiresAt: number,
  options: RefreshCookieOptions = {},
  now = Date.now(),
): string {
  const c = checkCookie(options)!;
  if (!TOKEN_CHARS.test(token)) throw new TypeError('not a token');
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  return serializeCookie(c, token, maxAge);
}

function serializeCookie(
  c: NonNullable<ReturnType<typeof checkCookie>>,
  value: string,
  maxAge: number,
): string {
  return [
    `${c.name}=${value}`,
    `Path=${c.path}`,
    ...(c.domain !== undefined ? [`Domain=${c.domain}`] : []),
    `Max-Age=${maxAge}`,
    'HttpOnly',
    ...(c.secure ? ['Secure'] : []),
    `SameSite=${c.sameSite}`,
  ].join('; ');
}

/** Seconds from `iat` to `exp` of a token this process just signed. */
function lifetimeOf(token: string): number {
  const payload = token.slice(token.indexOf('.') + 1, token.lastIndexOf('.'));
  const { exp, iat } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
    exp?: unknown;
    iat?: unknown;
  };
  return typeof exp === 'number' && typeof iat === 'number'
    ? Math.max(0, Math.floor(exp - iat))
    : 0;
}

/** Builds the refresh exchange the glue modules call. */
export function createRefreshExchange(options: RefreshHandlerOptions): RefreshExchange {
  if (typeof options?.refresh?.refresh !== 'function')
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'refresh must be refresh-token families from createRefreshTokens (rotor/tokens)',
    );
  if (typeof options.access?.sign !== 'function')
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      'access must be the access-token keyring from createJwtKeys (rotor/jwt)',
    );
  const realm = checkRealm(options.realm);
  const cookie = checkCookie(options.cookie);
  const accessClaims = (r: RefreshResult) =>
    options.accessClaims ? options.accessClaims(r) : { ...r.claims, sid: r.familyId };

  function refuse(
    status: number,
    error: string,
    description: string,
    { code, clearCookie = false }: { code?: string; clearCookie?: boolean } = {},
  ): HttpReply & { setCookie?: string } {
    options.onRejected?.({ status, error, code });
    const headers: Record<string, string> = { ...NO_STORE };
    // A 401 must carry a challenge; the refresh token is the credential that was refused.
    if (status === 401)
      headers['www-authenticate'] = challenge(realm, 'invalid_token', description);
    const reply: HttpReply & { setCookie?: string } = {
      status,
      headers,
      body: { error, error_description: description, ...(code !== undefined ? { code } : {}) },
    };
    if (clearCookie && cookie) reply.setCookie = serializeCookie(cookie, '', 0);
    return reply;
  }

  return async (request) => {
    const body = request.body;
    let fromBody: string | undefined;
    if (body !== undefined && body !== null && body !== '') {
      if (typeof body !== 'object' || Array.isArray(body))
        return refuse(400, 'invalid_request', 'the body must be a JSON object');
      const b = body as Record<string, unknown>;
      if (b.grant_type !== undefined && b.grant_type !== 'refresh_token')
        return refuse(
          400,
          'unsupported_grant_type',
          'only grant_type refresh_token is supported here',
        );
      if (b.refresh_token !== undefined) {
        if (typeof b.refresh_token !== 'string' || b.refresh_token.length === 0)
          return refuse(400, 'invalid_request', 'refresh_token must be a non-empty string');
        fromBody = b.refresh_token;
      }
    }
    const fromCookie = cookie ? readCookie(request.cookie, cookie.name) : undefined;
    const usable = fromCookie !== undefined && fromCookie !== '' ? fromCookie : undefined;
    if (fromBody !== undefined && usable !== undefined && fromBody !== usable) {
      return refuse(400, 'invalid_request', 'two different refresh tokens (body and cookie)');
    }
    const token = fromBody ?? usable;
    const viaCookie = fromBody === undefined && usable !== undefined;
    if (token === undefined)
      return refuse(
        400,
        'invalid_request',
        `no refresh token (send {"refresh_token": …}${cookie ? ` or the ${cookie.name} cookie` : ''})`,
      );
    if (token.length > MAX_TOKEN_LENGTH || !TOKEN_CHARS.test(token))
      return refuse(401, 'invalid_grant', 'the refresh token is malformed', {
        code: 'ERR_ROTOR_JWT_MALFORMED',
        clearCookie: viaCookie,
      });

    let result: RefreshResult;
    try {
      result = await options.refresh.refresh(token);
    } catch (error) {
      const code = rotorCode(error);
      if (code === undefined) throw error;
      if (isUnavailable(code)) {
        options.onRejected?.({ status: 503, error: 'temporarily_unavailable', code });
        return unavailable(code);
      }
      if (code.startsWith('ERR_ROTOR_TOKENS_') || code.startsWith('ERR_ROTOR_JWT_')) {
        return refuse(
          401,
          'invalid_grant',
          GRANT_DESCRIPTIONS[code] ?? 'the refresh token is invalid',
          { code, clearCookie: viaCookie },
        );
      }
      throw error;
    }
    let accessToken: string;
    try {
      accessToken = options.access.sign(accessClaims(result));
    } catch (error) {
      // The family has rotated; inside its reuse overlap the same refresh token gets the same
      // successor, so a client that retries after this 503 is not logged out.
      const code = rotorCode(error);
      if (!isUnavailable(code)) throw error;
      options.onRejected?.({ status: 503, error: 'temporarily_unavailable', code });
      return unavailable(code!);
    }
    const reply: HttpReply & { setCookie?: string } = {
      status: 200,
      headers: { ...NO_STORE },
      body: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: lifetimeOf(accessToken),
      },
    };
    // A cookie client gets the rotated token back in the cookie only: putting it in a body
    // that scripts can read would undo HttpOnly.
    if (viaCookie && cookie)
      reply.setCookie = serializeCookie(
        cookie,
        result.token,
        Math.max(0, Math.floor((result.expiresAt - Date.now()) / 1000)),
      );
    else reply.body.refresh_token = result.token;
    return reply;
  };
}
