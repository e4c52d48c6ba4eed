// Turns a stored or delivered value into key objects, the way its kind writes it: jwt-hmac
// values are the key bytes in base64/base64url (strictly decoded), jwt-keypair values are a
// private JWK (Ed25519 or P-256) whose public half verifies.
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { KeyEncoding, KidAlgorithm } from '../../core/delivery/kid-variable.js';
import { decodeStrict } from '../../core/crypto/decode-strict.js';
import { RotorError } from '../../core/errors.js';
import type { KeyStage, KeyVersion } from './key-source.js';

const CURVES: Record<string, { kty: string; crv: string }> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
};

export interface MaterialInput {
  secret: string;
  kid: string;
  alg: KidAlgorithm;
  encoding: KeyEncoding;
  stage: KeyStage;
  value: string;
  acceptUntil?: number;
}

function unusable(input: MaterialInput, why: string): RotorError {
  // Never quotes the value.
  return new RotorError(
    'ERR_ROTOR_JWT_SOURCE_INVALID',
    `${input.secret}: the value of key ${input.kid} is not usable for ${input.alg} (${why})`,
    {
      details: { secret: input.secret, kid: input.kid },
    },
  );
}

function privateJwk(input: MaterialInput): KeyObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.value);
  } catch {
    throw unusable(input, 'not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw unusable(input, 'not a JSON object');
  const jwk = parsed as Record<string, unknown>;
  const expected = CURVES[input.alg];
  if (!expected || jwk.kty !== expected.kty || jwk.crv !== expected.crv)
    throw unusable(input, `not a ${expected?.crv ?? input.alg} private JWK`);
  if (jwk.alg !== undefined && jwk.alg !== input.alg) throw unusable(input, 'its alg differs');
  if (jwk.kid !== undefined && jwk.kid !== input.kid) throw unusable(input, 'its kid differs');
  const members: Record<string, string> = { kty: expected.kty, crv: expected.crv };
  for (const m of input.alg === 'ES256' ? ['d', 'x', 'y'] : ['d', 'x']) {
    if (typeof jwk[m] !== 'string') throw unusable(input, `member ${m} missing`);
    members[m] = jwk[m];
  }
  try {
    return createPrivateKey({ key: members, format: 'jwk' });
  } catch {
    throw unusable(input, 'the key does not load');
  }
}

/** The KeyVersion for one value; the signing key is kept only for the current version. */
export function keyVersionFrom(input: MaterialInput): KeyVersion {
  const base = {
    kid: input.kid,
    stage: input.stage,
    alg: input.alg,
    ...(input.acceptUntil !== undefined ? { acceptUntil: input.acceptUntil } : {}),
  };
  if (input.alg.startsWith('HS')) {
    if (input.encoding === 'jwk') throw unusable(input, 'an HMAC key is not a JWK');
    const bytes = decodeStrict(input.value, input.encoding);
    if (!bytes) throw unusable(input, `not canonical ${input.encoding}`);
    const key = createSecretKey(bytes);
    bytes.fill(0);
    return { ...base, verifyKey: key, ...(input.stage === 'current' ? { signingKey: key } : {}) };
  }
  if (input.encoding !== 'jwk') throw unusable(input, `${input.alg} keys are stored as a JWK`);
  const privateKey = privateJwk(input);
  return {
    ...base,
    verifyKey: createPublicKey(privateKey),
    ...(input.stage === 'current' ? { signingKey: privateKey } : {}),
  };
}
