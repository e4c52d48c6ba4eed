// The framework-neutral core of rotor/express and rotor/fastify bearer auth (RFC 6750); replies
// come from a fixed table, so nothing the client sent is reflected back.
import { RotorError } from '../../core/errors.js';
import type { JwtClaims } from '../jwt/jwt-types.js';
import type { JwtKeys, VerifyOptions } from '../jwt/jwt-keys.js';

/** Bad options are a RotorError with a code, also for JavaScript callers (no TypeError). */
function optionsInvalid(message: string): RotorError {
  return new RotorError('ERR_ROTOR_JWT_OPTIONS_INVALID', message);
}

/** A reply a glue module sends as it is: status, headers, JSON body. */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** What bearer authentication needs from a request, whatever the framework. */
export interface BearerRequest {
  /** Every Authorization header line as received (from `rawHeaders`), to catch duplicates. */
  authorization: readonly string[];
  /** The request target (path and query), to refuse tokens in the URL. */
  url: string | undefined;
  /** The `Content-Type` header, to spot form bodies carrying `access_token`. */
  contentType: string | undefined;
  /** The already parsed body, if any. */
  body: unknown;
}

export interface BearerAuthOptions {
  /** The access-token keyring (`createJwtKeys` from rotor/jwt); only `verify` is used. */
  keys: Pick<JwtKeys, 'verify'>;
  /** The `realm` of every challenge (default `api`). */
  realm?: string;
  /** Passed to `keys.verify` (e.g. another `type` or `audience` for this route). */
  verify?: VerifyOptions;
  /** Scopes the token must all carry (in `scope`, space-separated, or `scp`); 403 otherwise. */
  scopes?: readonly string[];
  /** Called on every refusal with its code, for logs and metrics; never given the token. */
  onRejected?(event: RejectionEvent): void;
}

export interface RejectionEvent {
  status: number;
  /** The OAuth error (`invalid_token`, `invalid_request`, `insufficient_scope`), or none when no token was sent. */
  error: string | undefined;
  /** The RotorError code behind an `invalid_token`, when there is one. */
  code: string | undefined;
}

export type BearerOutcome<C extends JwtClaims = JwtClaims> =
  { ok: true; claims: C } | { ok: false; reply: HttpReply };

/** RFC 6750 §2.1 b64token, and at least one space after the scheme (RFC 7235 `1*SP`). */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const SCHEME = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?: |$)/;
/** What a quoted-string in a challenge may hold here: printable ASCII without `"` and `\`. */
const QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** What each refusal of an access token says. Keys are RotorError codes; never a token or kid. */
const TOKEN_DESCRIPTIONS: Record<string, string> = {
  ERR_ROTOR_JWT_EXPIRED: 'the access token expired',
  ERR_ROTOR_JWT_NOT_YET_VALID: 'the access token is not valid yet',
  ERR_ROTOR_JWT_REVOKED: 'the access token was revoked',
  ERR_ROTOR_JWT_KID_COMPROMISED: 'the access token was signed with a revoked key',
  ERR_ROTOR_JWT_KID_RETIRED: 'the access token was signed with a retired key',
  ERR_ROTOR_JWT_KID_UNKNOWN: 'the access token was signed with an unknown key',
  ERR_ROTOR_JWT_KID_MISSING: 'the access token names no key',
  ERR_ROTOR_JWT_SIGNATURE_INVALID: 'the access token signature is invalid',
  ERR_ROTOR_JWT_TYPE_MISMATCH: 'the token is not an access token',
  ERR_ROTOR_JWT_ISSUER_MISMATCH: 'the access token is from another issuer',
  ERR_ROTOR_JWT_AUDIENCE_MISMATCH: 'the access token is for another audience',
  ERR_ROTOR_JWT_TOKEN_TOO_LARGE: 'the access token is too large',
  ERR_ROTOR_JWT_EXP_MISSING: 'the access token has no expiry',
  ERR_ROTOR_JWT_ALG_NONE: 'the access token is unsigned',
  ERR_ROTOR_JWT_ALG_NOT_ALLOWED: 'the access token uses an algorithm that is not allowed',
  ERR_ROTOR_JWT_KEY_TYPE_MISMATCH: 'the access token uses an algorithm its key is not for',
};

/** Codes that mean "this server cannot verify right now", not "this token is bad". */
const UNAVAILABLE_CODES = new Set([
  'ERR_ROTOR_JWT_NOT_READY',
  'ERR_ROTOR_JWT_NO_SIGNING_KEY',
  'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
]);

/** The `code` of a RotorError, structurally, so copies of the module loaded twice still match. */
export function rotorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_ROTOR_') ? code : undefined;
}

export function isUnavailable(code: string | undefined): boolean {
  return code !== undefined && UNAVAILABLE_CODES.has(code);
}

/** The description of an access-token refusal with this code. */
export function describeTokenCode(code: string): string {
  return (
    TOKEN_DESCRIPTIONS[code] ??
    (code.startsWith('ERR_ROTOR_JWT_')
      ? 'the access token is malformed or invalid'
      : 'the access token is invalid')
  );
}

/** Checks a realm once, at setup: it is written into a quoted-string. */
export function checkRealm(realm: string | undefined): string {
  const r = realm ?? 'api';
  if (typeof r !== 'string' || r.length === 0 || r.length > 128 || !QUOTABLE.test(r)) {
    throw optionsInvalid('realm must be 1 to 128 printable ASCII characters without " or \\');
  }
  return r;
}

function checkScopes(scopes: readonly string[] | undefined): readonly string[] {
  if (scopes === undefined) return [];
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || !SCOPE_TOKEN.test(s))) {
    throw optionsInvalid(
      'scopes must be a list of RFC 6749 scope tokens (printable ASCII, no spaces, " or \\)',
    );
  }
  return [...(scopes as readonly string[])];
}

/**
 * `Bearer realm="…"[, error="…", error_description="…"][, scope="…"]` (RFC 6750 §3). Without an
 * error (no credentials were sent) it is the bare `Bearer realm="…"` that §3.1 asks for.
 */
export function challenge(
  realm: string,
  error?: string,
  description?: string,
  scope?: readonly string[],
): string {
  let out = `Bearer realm="${realm}"`;
  if (error === undefined) return out;
  out += `, error="${error}"`;
  if (description !== undefined && QUOTABLE.test(description))
    out += `, error_description="${description}"`;
  if (scope !== undefined && scope.length > 0) out += `, scope="${scope.join(' ')}"`;
  return out;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** One refusal: no `error` means no credentials were sent (a bare challenge, RFC 6750 §3.1). */
interface Refusal {
  status: number;
  error?: string;
  description: string;
  code?: string;
  scope?: readonly string[];
}

function refusal(realm: string, { status, error, description, code, scope }: Refusal): HttpReply {
  const body: Record<string, unknown> =
    error === undefined
      ? { error: 'unauthorized', error_description: description }
      : { error, error_description: description };
  if (code !== undefined) body.code = code;
  if (scope !== undefined && scope.length > 0) body.scope = scope.join(' ');
  return {
    status,
    headers: { 'www-authenticate': challenge(realm, error, description, scope), ...NO_STORE },
    body,
  };
}

/** A 503 for a keyring that is not loaded or a store that does not answer. */
export function unavailable(code: string): HttpReply {
  return {
    status: 503,
    headers: { 'retry-after': '1', ...NO_STORE },
    body: {
      error: 'temporarily_unavailable',
      error_description: 'the server cannot verify tokens right now; retry shortly',
      code,
    },
  };
}

/** The Authorization lines of a raw header list ([name, value, name, value, …]). */
export function authorizationLines(
  rawHeaders: readonly string[] | undefined,
  fallback: string | string[] | undefined,
): string[] {
  if (rawHeaders !== undefined && rawHeaders.length > 0) {
    const lines: string[] = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2)
      if (rawHeaders[i]!.toLowerCase() === 'authorization') lines.push(rawHeaders[i + 1]!);
    return lines;
  }
  if (fallback === undefined) return [];
  return Array.isArray(fallback) ? fallback : [fallback];
}

function hasQueryToken(url: string | undefined): boolean {
  if (url === undefined) return false;
  const q = url.indexOf('?');
  if (q < 0) return false;
  return new URLSearchParams(url.slice(q + 1)).has('access_token');
}

function hasFormToken(contentType: string | undefined, body: unknown): boolean {
  if (contentType === undefined || !/^application\/x-www-form-urlencoded\b/i.test(contentType))
    return false;
  return (
    typeof body === 'object' &&
    body !== null &&
    Object.prototype.hasOwnProperty.call(body, 'access_token')
  );
}

/** The scopes a token carries: `scope` (space-separated, RFC 8693/9068) or `scp` (a list). */
export function scopesOf(claims: JwtClaims): Set<string> {
  const out = new Set<string>();
  if (typeof claims.scope === 'string') for (const s of claims.scope.split(' ')) if (s) out.add(s);
  if (Array.isArray(claims.scp)) for (const s of claims.scp) if (typeof s === 'string') out.add(s);
  return out;
}

/** The 403 `insufficient_scope` reply, or undefined when `claims` carry every scope. */
export function scopeRefusal(
  realm: string,
  claims: JwtClaims,
  required: readonly string[],
): HttpReply | undefined {
  if (required.length === 0) return undefined;
  const held = scopesOf(claims);
  if (required.every((s) => held.has(s))) return undefined;
  return refusal(realm, {
    status: 403,
    error: 'insufficient_scope',
    description: 'the access token lacks a required scope',
    scope: required,
  });
}

/** Validated scopes for requireScope helpers. */
export function requiredScopes(scopes: readonly string[]): readonly string[] {
  const out = checkScopes(scopes);
  if (out.length === 0) throw optionsInvalid('requireScope needs at least one scope');
  return out;
}

/**
 * The check behind the glue modules' `requireScope`: 401 when the request carries no verified
 * claims, 403 `insufficient_scope` when a required scope is missing, otherwise undefined.
 */
export function createScopeGuard(
  scopes: string | readonly string[],
  options: { realm?: string },
): (claims: JwtClaims | undefined) => HttpReply | undefined {
  const realm = checkRealm(options.realm);
  const required = requiredScopes(typeof scopes === 'string' ? [scopes] : scopes);
  return (claims) => {
    if (claims === undefined)
      return {
        status: 401,
        headers: { 'www-authenticate': `Bearer realm="${realm}"`, 'cache-control': 'no-store' },
        body: { error: 'unauthorized', error_description: 'authentication required' },
      };
    return scopeRefusal(realm, claims, required);
  };
}

/**
 * The one bearer token of a request (RFC 6750 §2.1), or why there is none: `invalid` for a
 * malformed request (400), `challenge` when it carries no bearer credentials at all (401, §3.1).
 */
function bearerToken(
  request: BearerRequest,
): { token: string } | { invalid: string } | { challenge: true } {
  const lines = request.authorization;
  // Tokens in URLs end up in logs and Referer headers; RFC 6750 §2.3 is never supported.
  if (hasQueryToken(request.url) || hasFormToken(request.contentType, request.body))
    return { invalid: 'access tokens are accepted only in the Authorization header' };
  if (lines.length === 0) return { challenge: true };
  if (lines.length > 1) return { invalid: 'more than one Authorization header' };
  const line = lines[0]!.trim();
  const scheme = SCHEME.exec(line)?.[1];
  if (scheme === undefined) return { invalid: 'the Authorization header is malformed' };
  // Another scheme (Basic, …) carries no bearer credentials: a plain challenge (§3.1).
  if (scheme.toLowerCase() !== 'bearer') return { challenge: true };
  const match = BEARER.exec(line);
  if (match === null)
    return { invalid: 'the Authorization header must hold exactly one bearer token' };
  return { token: match[1]! };
}

/**
 * Builds the authenticator the glue modules call on every request: RFC 6750 extraction, then
 * `keys.verify`. Synchronous: the keyring and its revocation check answer from memory.
 */
export function createBearerAuthenticator<C extends JwtClaims = JwtClaims>(
  options: BearerAuthOptions,
): (request: BearerRequest) => BearerOutcome<C> {
  if (typeof options?.keys?.verify !== 'function')
    throw optionsInvalid('keys must be a keyring from createJwtKeys (rotor/jwt)');
  const realm = checkRealm(options.realm);
  const scopes = checkScopes(options.scopes);
  const verifyOptions = options.verify;

  function refuse(reply: HttpReply, code?: string): BearerOutcome<C> {
    options.onRejected?.({
      status: reply.status,
      error: reply.body.error === 'unauthorized' ? undefined : (reply.body.error as string),
      code,
    });
    return { ok: false, reply };
  }

  return (request) => {
    const found = bearerToken(request);
    if ('invalid' in found)
      return refuse(
        refusal(realm, { status: 400, error: 'invalid_request', description: found.invalid }),
      );
    if (!('token' in found))
      return refuse(refusal(realm, { status: 401, description: 'authentication required' }));
    let claims: C;
    try {
      claims = options.keys.verify<C>(found.token, verifyOptions).claims;
    } catch (error) {
      const code = rotorCode(error);
      if (code === undefined) throw error;
      if (isUnavailable(code)) return refuse(unavailable(code), code);
      return refuse(
        refusal(realm, {
          status: 401,
          error: 'invalid_token',
          description: describeTokenCode(code),
          code,
        }),
        code,
      );
    }
    const denied = scopeRefusal(realm, claims, scopes);
    if (denied) return refuse(denied);
    return { ok: true, claims };
  };
}
