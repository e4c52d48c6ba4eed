// A KeySet compiled for the hot path: one Map lookup by kid; each key is checked against its own
// algorithm here, so the key decides the algorithm and key-type confusion is impossible.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { VERSION_ID_PATTERN } from '../../core/delivery/kid-variable.js';
import { RotorError } from '../../core/errors.js';
import { algSpec, type AlgSpec, type VerifyKey } from './compact-jws.js';
import type { KeySet, KeyStage, KeyVersion } from './key-source.js';

export interface KidEntry extends VerifyKey {
  kid: string;
  alg: string;
  stage: KeyStage;
  /** Tokens with this kid are refused from this time (ms); Infinity for current and standby. */
  acceptUntil: number;
}

export interface Keyring {
  secret: string;
  revision: string;
  byKid: ReadonlyMap<string, KidEntry>;
  /** Previous versions refused because the secret's policy is `on-rotate: invalidate`. */
  invalidated: ReadonlySet<string>;
  retired: ReadonlyMap<string, 'retired' | 'compromised'>;
  /** The version that signs (and that kid-less tokens are checked against during a migration). */
  current?: KidEntry;
  /** The current version's signing key; absent on verify-only sources. */
  signingKey?: KeyObject;
  /** The algorithms of the keys in this ring: the default allow-list. */
  algorithms: ReadonlySet<string>;
}

function invalid(set: KeySet, kid: string, why: string): RotorError {
  return new RotorError(
    'ERR_ROTOR_JWT_SOURCE_INVALID',
    `${set.secret}: key ${kid} cannot be used: ${why}`,
    { details: { secret: set.secret, kid } },
  );
}

/** The verification key of `v`, checked against its algorithm. */
function verifyKeyOf(set: KeySet, v: KeyVersion, spec: AlgSpec): KeyObject {
  const key = v.verifyKey;
  if (spec.family === 'hmac') {
    if (key.type !== 'secret')
      throw invalid(set, v.kid, `${v.alg} needs a secret key, got a ${key.type} key`);
    if ((key.symmetricKeySize ?? 0) < spec.minKeyBytes!)
      throw invalid(set, v.kid, `${v.alg} needs at least ${spec.minKeyBytes} key bytes`);
    return key;
  }
  if (key.type === 'secret')
    throw invalid(set, v.kid, `${v.alg} needs a public key, got a secret key`);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (spec.family === 'eddsa' && pub.asymmetricKeyType !== 'ed25519')
    throw invalid(set, v.kid, `EdDSA needs an Ed25519 key, got ${pub.asymmetricKeyType}`);
  if (
    spec.family === 'ecdsa' &&
    (pub.asymmetricKeyType !== 'ec' || pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
  ) {
    throw invalid(
      set,
      v.kid,
      `ES256 needs a P-256 key, got ${pub.asymmetricKeyType} ${pub.asymmetricKeyDetails?.namedCurve ?? ''}`.trim(),
    );
  }
  return pub;
}

/** Compiles `set`; throws ERR_ROTOR_JWT_SOURCE_INVALID for a key that does not fit its algorithm. */
export function compileKeyring(set: KeySet): Keyring {
  const byKid = new Map<string, KidEntry>();
  const invalidated = new Set<string>();
  const algorithms = new Set<string>();
  let current: KidEntry | undefined;
  let signingKey: KeyObject | undefined;
  for (const v of set.versions) {
    if (!VERSION_ID_PATTERN.test(v.kid))
      throw invalid(set, v.kid, 'its kid is not a Rotor version id');
    if (byKid.has(v.kid) || invalidated.has(v.kid))
      throw invalid(set, v.kid, 'the kid appears twice');
    const spec = algSpec(v.alg);
    if (!spec) throw invalid(set, v.kid, `unsupported algorithm ${v.alg}`);
    if (v.stage === 'previous' && set.onRotate === 'invalidate') {
      invalidated.add(v.kid);
      continue;
    }
    const key = verifyKeyOf(set, v, spec);
    const entry: KidEntry = {
      kid: v.kid,
      alg: v.alg,
      stage: v.stage,
      spec,
      key,
      ...(spec.family === 'ecdsa' ? { ecdsa: { key, dsaEncoding: 'ieee-p1363' as const } } : {}),
      // A previous version without a grace end is not accepted at all.
      acceptUntil: v.stage === 'previous' ? (v.acceptUntil ?? 0) : Infinity,
    };
    byKid.set(v.kid, entry);
    algorithms.add(v.alg);
    if (v.stage === 'current') {
      if (current) throw invalid(set, v.kid, `two current versions (${current.kid} too)`);
      current = entry;
      if (v.signingKey) {
        const ok =
          spec.family === 'hmac' ? v.signingKey.type === 'secret' : v.signingKey.type === 'private';
        if (!ok) throw invalid(set, v.kid, `its signing key is a ${v.signingKey.type} key`);
        signingKey = v.signingKey;
      }
    }
  }
  return {
    secret: set.secret,
    revision: set.revision,
    byKid,
    invalidated,
    retired: set.retired,
    ...(current ? { current } : {}),
    ...(signingKey ? { signingKey } : {}),
    algorithms,
  };
}
