// The app's JWT keyring for one Rotor secret: signs with the current version, verifies by kid,
// and reloads on rotation; the order of verify's checks is in docs/apps.md.
import {
  resolveOptions,
  type JwtKeysOptions,
  type SignOptions,
  type VerifyOptions,
} from './jwt-options.js';
import { signJwt } from './jwt-sign.js';
import type { JwtClaims, VerifiedJwt } from './jwt-types.js';
import { verifyJwt } from './jwt-verify.js';
import { startLoading, stopLoading, whenReady, type KeyLoad } from './key-loader.js';

export { DEFAULT_MAX_TOKEN_BYTES } from './jwt-options.js';
export type { JwtKeysOptions, SignOptions, VerifyOptions } from './jwt-options.js';
export { MAX_KID_LENGTH } from './kid-lookup.js';

export interface JwtKeys {
  /** Signs `claims` with the current version; adds `iss`, `aud`, `iat`, and `exp` unless given. */
  sign(claims: JwtClaims, options?: SignOptions): string;
  /** Verifies strictly and returns the claims; throws RotorError `ERR_ROTOR_JWT_*`. */
  verify<C extends JwtClaims = JwtClaims>(token: string, options?: VerifyOptions): VerifiedJwt<C>;
  /** Resolves once the first key set is loaded (sign and verify throw ERR_ROTOR_JWT_NOT_READY before). */
  ready(): Promise<void>;
  /** The kid sign currently uses, if any. */
  readonly currentKid: string | undefined;
  /** Stops watching the source (the source itself is the caller's to close). */
  close(): Promise<void>;
}

/**
 * Creates the keyring of one secret and starts loading it.
 *
 * @example
 * import { createJwtKeys, fromEnv } from 'rotor/jwt';
 * const access = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source: fromEnv(), issuer: 'https://api.example.com',
 *   audience: 'api', type: 'at+jwt', maxAge: '15m', clockTolerance: 5 });
 * await access.ready();
 * const token = access.sign({ sub: user.id });
 * const { claims } = access.verify(token);
 */
export function createJwtKeys(options: JwtKeysOptions): JwtKeys {
  const settings = resolveOptions(options);
  const state: KeyLoad = { ring: undefined, closed: false, loading: undefined, again: false };
  const unwatch = startLoading(state, settings);
  return {
    sign: (claims, signOptions) => signJwt(settings, state.ring, claims, signOptions),
    verify: <C extends JwtClaims = JwtClaims>(token: string, verifyOptions?: VerifyOptions) =>
      verifyJwt<C>(settings, state.ring, token, verifyOptions),
    ready: () => whenReady(state, settings),
    get currentKid() {
      return state.ring?.current?.kid;
    },
    close: () => stopLoading(state, unwatch),
  };
}
