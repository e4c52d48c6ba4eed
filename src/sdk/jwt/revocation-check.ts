// The hook through which a keyring asks "was this token revoked?" after its signature and
// claims have passed. Kept tiny on purpose: rotor/tokens implements it with per-user and
// global "valid after" times; anything else (a deny-list of `jti`s, a session table) fits too.
import type { JwtClaims } from './jwt-types.js';

/**
 * Decides whether a verified token was revoked. Called only after the signature and every
 * standard claim check passed, with the token's claims.
 *
 * It must answer **synchronously from memory**: `verify` runs on every request and never waits
 * on the network. Keep revocation state in the process (a Map of user id → "valid after"
 * seconds and one global "valid after", say) and refresh it by push or poll in the background.
 * Throwing counts as revoked (fail closed).
 *
 * @example
 * const validAfter = new Map<string, number>(); // user id → seconds since the epoch
 * let globalValidAfter = 0;
 * const revocation: RevocationCheck = {
 *   isRevoked: (claims) => {
 *     const iat = claims.iat ?? 0;
 *     return iat < globalValidAfter || (typeof claims.sub === 'string' && iat < (validAfter.get(claims.sub) ?? 0));
 *   },
 * };
 * const keys = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source, issuer, audience, maxAge: '15m', revocation });
 */
export interface RevocationCheck {
  isRevoked(claims: Readonly<JwtClaims>): boolean;
}

/** Asks the check; a check that throws counts as revoked (fail closed). */
export function isRevoked(revocation: RevocationCheck, claims: Readonly<JwtClaims>): boolean {
  try {
    return revocation.isRevoked(claims);
  } catch {
    return true;
  }
}
