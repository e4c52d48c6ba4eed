// sign: the current version's key, its kid and alg in the header, iss/aud/iat/exp in the claims.
import { createSignature } from './compact-jws.js';
import { fail, notReady, optionsInvalid } from './jwt-errors.js';
import { toSeconds, type JwtSettings, type SignOptions } from './jwt-options.js';
import type { JwtClaims } from './jwt-types.js';
import type { Keyring } from './keyring.js';

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Signs `claims` with the ring's current version; adds `iss`, `aud`, `iat`, and `exp` unless given. */
export function signJwt(
  s: JwtSettings,
  r: Keyring | undefined,
  claims: JwtClaims,
  signOptions?: SignOptions,
): string {
  if (r === undefined) throw notReady(s.secret);
  if (r.current === undefined || r.signingKey === undefined)
    throw fail(
      'ERR_ROTOR_JWT_NO_SIGNING_KEY',
      `${s.secret} has no current signing key in this source`,
    );
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw optionsInvalid('claims must be an object');
  const entry = r.current;
  const type = signOptions?.type ?? s.type;
  const iat = Math.floor(s.clock.now() / 1000);
  const lifetime =
    signOptions?.maxAge !== undefined ? toSeconds(signOptions.maxAge, 'maxAge') : s.maxAge;
  const header =
    type === undefined
      ? { alg: entry.alg, kid: entry.kid }
      : { alg: entry.alg, kid: entry.kid, typ: type };
  const payload = {
    ...claims,
    iss: s.issuer,
    aud: s.audience,
    iat,
    exp: typeof claims.exp === 'number' ? claims.exp : iat + Math.floor(lifetime),
  };
  const input = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const token = `${input}.${createSignature(entry.spec, r.signingKey, input)}`;
  if (token.length > s.maxTokenBytes)
    throw optionsInvalid(
      `the token would be ${token.length} bytes, over maxTokenBytes (${s.maxTokenBytes})`,
    );
  return token;
}
