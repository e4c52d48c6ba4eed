// The compact JWS serialization, strictly (canonical base64url: one token, one spelling), and the
// signature primitives Rotor allows, all on Node's crypto.
import {
  createHmac,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';

/**
 * Three base64url segments; the only shape the verifier looks further into. The signature may
 * be empty so that an unsecured token (`alg: none`, empty signature) reaches the alg check and
 * is refused for what it is; an empty signature never verifies.
 */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SEXTET[ALPHABET.charCodeAt(i)] = i;

/**
 * Whether the segment `token[start, end)` (already known to use only the alphabet) is the
 * canonical encoding of its bytes: its length is not 1 mod 4, and the bits of the last
 * character that encode no byte are zero.
 */
export function canonicalSegment(token: string, start: number, end: number): boolean {
  const rest = (end - start) & 3;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = SEXTET[token.charCodeAt(end - 1)]!;
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** Why a string that failed COMPACT_JWS is not a compact JWS, for the error message. */
export function diagnoseShape(token: string): {
  code: 'segments' | 'empty' | 'alphabet';
  detail: string;
} {
  const segments = token.split('.');
  if (segments.length !== 3)
    return { code: 'segments', detail: `${segments.length} segment(s), a compact JWS has 3` };
  const empty = segments.slice(0, 2).findIndex((s) => s.length === 0);
  if (empty >= 0)
    return { code: 'empty', detail: `the ${empty === 0 ? 'header' : 'payload'} segment is empty` };
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c !== 0x2e && (c >= 128 || SEXTET[c] === -1)) {
      const shown =
        c === 0x3d
          ? "padding '='"
          : c === 0x2b
            ? "'+'"
            : c === 0x2f
              ? "'/'"
              : `character code ${c}`;
      return { code: 'alphabet', detail: `${shown} at offset ${i} is not base64url` };
    }
  }
  return { code: 'alphabet', detail: 'not base64url' };
}

/** The algorithm families, by how their signatures are checked. */
export type AlgFamily = 'hmac' | 'eddsa' | 'ecdsa';

export interface AlgSpec {
  family: AlgFamily;
  /** Digest for HMAC and ECDSA; null for EdDSA, which hashes internally. */
  hash: string | null;
  /** Signature length in bytes, and in base64url characters. */
  signatureBytes: number;
  signatureChars: number;
  /** Smallest acceptable HMAC key (RFC 7518 §3.2: at least the hash size). */
  minKeyBytes?: number;
}

export const ALGORITHMS: Readonly<Record<string, AlgSpec>> = {
  HS256: {
    family: 'hmac',
    hash: 'sha256',
    signatureBytes: 32,
    signatureChars: 43,
    minKeyBytes: 32,
  },
  HS384: {
    family: 'hmac',
    hash: 'sha384',
    signatureBytes: 48,
    signatureChars: 64,
    minKeyBytes: 48,
  },
  HS512: {
    family: 'hmac',
    hash: 'sha512',
    signatureBytes: 64,
    signatureChars: 86,
    minKeyBytes: 64,
  },
  EdDSA: { family: 'eddsa', hash: null, signatureBytes: 64, signatureChars: 86 },
  ES256: { family: 'ecdsa', hash: 'sha256', signatureBytes: 64, signatureChars: 86 },
};

export function algSpec(alg: string): AlgSpec | undefined {
  return Object.prototype.hasOwnProperty.call(ALGORITHMS, alg) ? ALGORITHMS[alg] : undefined;
}

/** What a verifier holds per key, precomputed once per key set. */
export interface VerifyKey {
  spec: AlgSpec;
  key: KeyObject;
  /** For ECDSA: the key with its signature encoding, built once. */
  ecdsa?: { key: KeyObject; dsaEncoding: 'ieee-p1363' };
}

/** Checks `signature` (base64url text, canonical) over `signingInput` (ASCII) with one known key. */
export function verifySignature(k: VerifyKey, signingInput: string, signature: string): boolean {
  if (signature.length !== k.spec.signatureChars) return false;
  const sig = Buffer.from(signature, 'base64url');
  switch (k.spec.family) {
    case 'hmac':
      return timingSafeEqual(
        createHmac(k.spec.hash!, k.key).update(signingInput, 'latin1').digest(),
        sig,
      );
    case 'eddsa':
      return cryptoVerify(null, Buffer.from(signingInput, 'latin1'), k.key, sig);
    case 'ecdsa':
      return cryptoVerify(k.spec.hash, Buffer.from(signingInput, 'latin1'), k.ecdsa!, sig);
  }
}

/** Signs `signingInput` and returns the base64url signature. */
export function createSignature(spec: AlgSpec, key: KeyObject, signingInput: string): string {
  switch (spec.family) {
    case 'hmac':
      return createHmac(spec.hash!, key).update(signingInput, 'latin1').digest('base64url');
    case 'eddsa':
      return cryptoSign(null, Buffer.from(signingInput, 'latin1'), key).toString('base64url');
    case 'ecdsa':
      return cryptoSign(spec.hash, Buffer.from(signingInput, 'latin1'), {
        key,
        dsaEncoding: 'ieee-p1363',
      }).toString('base64url');
  }
}
