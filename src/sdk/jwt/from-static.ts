// A KeySource over one fixed key, for tests and tools that sign without a Rotor store. It
// never changes, so `watch` never fires.
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import type { KeySource } from './key-source.js';

export interface FromStaticKeyOptions {
  /** An HMAC secret key (createSecretKey) or, for EdDSA/ES256, a private key. */
  key: KeyObject;
  /** The kid tokens carry; a fresh version id by default. */
  kid?: string;
  alg?: 'HS256' | 'HS384' | 'HS512' | 'EdDSA' | 'ES256';
}

/**
 * @example
 * const source = fromStaticKey({ key: createSecretKey(randomBytes(32)) });
 * const keys = createJwtKeys({ secret: 'JWT_ACCESS_SECRET', source, issuer, audience });
 */
export function fromStaticKey(options: FromStaticKeyOptions): KeySource & { readonly kid: string } {
  const kid = options.kid ?? randomUUID();
  const alg = options.alg ?? 'HS256';
  const { key } = options;
  const verifyKey = key.type === 'private' ? createPublicKey(key) : key;
  return {
    kid,
    async load(secret) {
      return {
        secret,
        versions: [{ kid, stage: 'current', alg, signingKey: key, verifyKey }],
        retired: new Map(),
        onRotate: 'dual-validate',
        revision: kid,
      };
    },
    watch: () => () => {},
    async close() {},
  };
}
