// The shapes a keyring signs and returns. Times in claims are seconds since the epoch (RFC 7519).
import type { KeyStage } from './key-source.js';

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** The protected header of a verified token (only members Rotor accepts can appear). */
export interface JwtHeader {
  alg: string;
  kid?: string;
  typ?: string;
  [member: string]: unknown;
}

export interface VerifiedJwt<C extends JwtClaims = JwtClaims> {
  claims: C;
  header: JwtHeader;
  /** The kid that verified the token: the header's, or the migration kid for a kid-less token. */
  kid: string;
  /** The stage of that key when the token was verified. */
  stage: KeyStage;
}
