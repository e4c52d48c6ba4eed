// verify: the token's shape, its header, the key by kid, the signature, then the claims; the
// order of the checks (and why signatures come before claims) is in docs/apps.md.
import { canonicalSegment, COMPACT_JWS, diagnoseShape, verifySignature } from './compact-jws.js';
import { fail, jsonFailure, notReady } from './jwt-errors.js';
import { audienceSet, normalizeType, type JwtSettings, type VerifyOptions } from './jwt-options.js';
import type { JwtClaims, JwtHeader, VerifiedJwt } from './jwt-types.js';
import type { Keyring } from './keyring.js';
import { selectKey } from './kid-lookup.js';
import { isRevoked } from './revocation-check.js';
import { parseStrictJsonObject } from './strict-json.js';

/** Refuses what is not a compact JWS of canonical base64url, before any decoding. */
function checkShape(token: string, maxTokenBytes: number): void {
  if (typeof token !== 'string') throw fail('ERR_ROTOR_JWT_MALFORMED', 'the token is not a string');
  // Length counts UTF-16 units; a token with non-ASCII characters is longer in bytes but is
  // refused as non-base64url right after.
  if (token.length > maxTokenBytes)
    throw fail(
      'ERR_ROTOR_JWT_TOKEN_TOO_LARGE',
      `the token is ${token.length} bytes; the limit is ${maxTokenBytes}`,
    );
  if (!COMPACT_JWS.test(token)) {
    const shape = diagnoseShape(token);
    throw fail(
      shape.code === 'alphabet' ? 'ERR_ROTOR_JWT_BASE64_NONCANONICAL' : 'ERR_ROTOR_JWT_MALFORMED',
      `not a compact JWS: ${shape.detail}`,
    );
  }
}

function checkCanonical(token: string, dot1: number, dot2: number): void {
  if (
    !canonicalSegment(token, 0, dot1) ||
    !canonicalSegment(token, dot1 + 1, dot2) ||
    !canonicalSegment(token, dot2 + 1, token.length)
  ) {
    throw fail(
      'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
      'a segment is not canonical base64url (impossible length or non-zero trailing bits)',
    );
  }
}

function parseSegment(
  token: string,
  start: number,
  end: number,
  part: 'header' | 'payload',
): Record<string, unknown> {
  const result = parseStrictJsonObject(Buffer.from(token.slice(start, end), 'base64url'));
  if (!result.ok) throw jsonFailure(part, result);
  return result.value;
}

/** The header's alg, once it is allowed and the header asks for nothing Rotor refuses. */
function checkHeader(header: Record<string, unknown>, allowed: ReadonlySet<string>): string {
  const alg = header.alg;
  if (typeof alg !== 'string') throw fail('ERR_ROTOR_JWT_MALFORMED', 'the header has no alg');
  if (!allowed.has(alg)) {
    if (alg.toLowerCase() === 'none')
      throw fail('ERR_ROTOR_JWT_ALG_NONE', 'unsecured tokens (alg none) are never accepted');
    throw fail('ERR_ROTOR_JWT_ALG_NOT_ALLOWED', `alg ${alg.slice(0, 16)} is not allowed`);
  }
  if (
    header.jku !== undefined ||
    header.x5u !== undefined ||
    header.jwk !== undefined ||
    header.x5c !== undefined
  ) {
    const which = ['jku', 'x5u', 'jwk', 'x5c'].filter((m) => header[m] !== undefined).join(', ');
    throw fail(
      'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
      `the header names its own key (${which}); keys come only from the keyring and are never fetched`,
    );
  }
  if (header.crit !== undefined)
    throw fail(
      'ERR_ROTOR_JWT_CRIT_UNSUPPORTED',
      'the header has crit: Rotor understands no JWS extension',
    );
  return alg;
}

function checkType(typ: unknown, expectedType: string | undefined): void {
  if (expectedType === undefined) return;
  // The usual case, the exact spelling sign writes, skips normalizing.
  if (typeof typ !== 'string' || (typ !== expectedType && normalizeType(typ) !== expectedType)) {
    throw fail(
      'ERR_ROTOR_JWT_TYPE_MISMATCH',
      `the token's typ is ${typeof typ === 'string' ? typ.slice(0, 32) : 'missing'}; expected ${expectedType}`,
    );
  }
}

/** exp, nbf and iat against the clock, each with the keyring's tolerance. */
function checkTimes(s: JwtSettings, claims: JwtClaims, now: number): void {
  const nowSeconds = Math.floor(now / 1000);
  const { exp, nbf, iat } = claims;
  if (exp === undefined) {
    if (s.requireExp) throw fail('ERR_ROTOR_JWT_EXP_MISSING', 'the token has no exp');
  } else if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'exp is not a number');
  } else if (exp <= nowSeconds - s.tolerance) {
    throw fail('ERR_ROTOR_JWT_EXPIRED', 'the token has expired');
  }
  if (nbf !== undefined) {
    if (typeof nbf !== 'number' || !Number.isFinite(nbf))
      throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'nbf is not a number');
    if (nbf > nowSeconds + s.tolerance)
      throw fail('ERR_ROTOR_JWT_NOT_YET_VALID', 'the token is not valid yet (nbf)');
  }
  if (iat !== undefined) {
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      throw fail('ERR_ROTOR_JWT_CLAIM_INVALID', 'iat is not a number');
    if (iat > nowSeconds + s.tolerance)
      throw fail('ERR_ROTOR_JWT_NOT_YET_VALID', 'the token was issued in the future (iat)');
  }
}

function checkAudience(aud: unknown, accepted: ReadonlySet<string>): void {
  let audienceOk = false;
  if (typeof aud === 'string') audienceOk = accepted.has(aud);
  else if (Array.isArray(aud))
    for (const a of aud) if (typeof a === 'string' && accepted.has(a)) audienceOk = true;
  if (!audienceOk)
    throw fail('ERR_ROTOR_JWT_AUDIENCE_MISMATCH', 'the token is for another audience');
}

/** Verifies strictly against the ring `r` and returns the claims; throws `ERR_ROTOR_JWT_*`. */
export function verifyJwt<C extends JwtClaims = JwtClaims>(
  s: JwtSettings,
  r: Keyring | undefined,
  token: string,
  verifyOptions?: VerifyOptions,
): VerifiedJwt<C> {
  if (r === undefined) throw notReady(s.secret);
  checkShape(token, s.maxTokenBytes);
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  checkCanonical(token, dot1, dot2);
  const header = parseSegment(token, 0, dot1, 'header');
  const alg = checkHeader(header, s.explicitAlgorithms ?? r.algorithms);
  const now = s.clock.now();
  const entry = selectKey(s, r, header.kid, now);
  // The key's own algorithm decides; the header only has to agree with it.
  if (entry.alg !== alg)
    throw fail(
      'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
      `key ${entry.kid} is for ${entry.alg}; the token says ${alg}`,
    );
  if (!verifySignature(entry, token.slice(0, dot2), token.slice(dot2 + 1)))
    throw fail('ERR_ROTOR_JWT_SIGNATURE_INVALID', 'the signature does not verify');

  // Authentic from here on.
  const typeOption = verifyOptions?.type;
  checkType(header.typ, typeOption !== undefined ? normalizeType(typeOption) : s.defaultType);
  const claims = parseSegment(token, dot1 + 1, dot2, 'payload') as JwtClaims;
  checkTimes(s, claims, now);
  if (claims.iss !== s.issuer)
    throw fail('ERR_ROTOR_JWT_ISSUER_MISMATCH', 'the token has another issuer');
  const audienceOption = verifyOptions?.audience;
  checkAudience(
    claims.aud,
    audienceOption !== undefined ? audienceSet(audienceOption, 'audience') : s.audiences,
  );
  if (s.revocation !== undefined && isRevoked(s.revocation, claims))
    throw fail('ERR_ROTOR_JWT_REVOKED', 'the token was revoked');
  return { claims: claims as C, header: header as JwtHeader, kid: entry.kid, stage: entry.stage };
}
