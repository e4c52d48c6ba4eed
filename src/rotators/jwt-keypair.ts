// `jwt-keypair`: an asymmetric JWT signing key (Ed25519 for EdDSA, P-256 for ES256). The stored
// value is the private JWK (JSON) whose `kid` is the version id; third-party verifiers get the
// public half from `rotor jwks`. A new version waits in `standby`, published, for
// `publishAhead` before it signs, so remote verifiers' JWKS caches already hold it.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { RotorError } from '../core/errors.js';
import { durationSchema } from '../core/policy/duration-schema.js';
import { defineRotator, type PublicJwk } from '../core/rotator/rotator-contract.js';

const generate = promisify(generateKeyPair);

/** The JWK key type and curve of each algorithm's keys. */
const ALGORITHMS = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
} as const;
type Algorithm = keyof typeof ALGORITHMS;

const B64URL = /^[A-Za-z0-9_-]+$/;

export const DEFAULT_PUBLISH_AHEAD = '15m';

interface PrivateJwk {
  kty: string;
  crv: string;
  d: string;
  x: string;
  y?: string;
}

async function generatePair(alg: Algorithm): Promise<KeyObject> {
  const { privateKey } =
    alg === 'EdDSA' ? await generate('ed25519') : await generate('ec', { namedCurve: 'P-256' });
  return privateKey;
}

function algorithmOf(crv: string): Algorithm | undefined {
  return (Object.keys(ALGORITHMS) as Algorithm[]).find((a) => ALGORITHMS[a].crv === crv);
}

/**
 * Reads a stored or imported private JWK strictly: an object with the members of an Ed25519 or
 * P-256 private key, base64url-encoded. Throws without quoting the value.
 */
function parsePrivateJwk(
  secret: string,
  value: string,
): { jwk: PrivateJwk; alg: Algorithm; privateKey: KeyObject; publicKey: KeyObject } {
  const invalid = (why: string) =>
    new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${secret}: the value is not a usable private JWK (${why})`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid('not a JSON object');
  const o = parsed as Record<string, unknown>;
  const alg = typeof o.crv === 'string' ? algorithmOf(o.crv) : undefined;
  if (!alg || o.kty !== ALGORITHMS[alg].kty)
    throw invalid('kty/crv must be OKP/Ed25519 or EC/P-256');
  const members = alg === 'ES256' ? (['d', 'x', 'y'] as const) : (['d', 'x'] as const);
  for (const m of members) {
    const v = o[m];
    if (typeof v !== 'string' || !B64URL.test(v))
      throw invalid(`member "${m}" missing or not base64url`);
  }
  if (o.alg !== undefined && o.alg !== alg)
    throw invalid(`alg ${JSON.stringify(o.alg)} does not match curve ${String(o.crv)}`);
  const jwk: PrivateJwk = {
    kty: o.kty as string,
    crv: o.crv as string,
    d: o.d as string,
    x: o.x as string,
    ...(alg === 'ES256' ? { y: o.y as string } : {}),
  };
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
  } catch {
    throw invalid('the key material does not load');
  }
  return { jwk, alg, privateKey, publicKey: createPublicKey(privateKey) };
}

/** The public JWK, derived from the private key (not copied from the stored x/y). */
function publicMembers(publicKey: KeyObject): { kty: string; crv: string; x: string; y?: string } {
  const pub = publicKey.export({ format: 'jwk' });
  return { kty: pub.kty!, crv: pub.crv!, x: pub.x!, ...(pub.y ? { y: pub.y } : {}) };
}

/** Signs and verifies a probe JWT with the pair, and checks the stored public members match. */
async function probe(
  secret: string,
  environment: string,
  kid: string,
  value: string,
): Promise<void> {
  const { jwk, alg, privateKey, publicKey } = parsePrivateJwk(secret, value);
  // jose is loaded on first use: most commands never sign a probe, and start-up time counts.
  const { SignJWT, jwtVerify } = await import('jose');
  try {
    const derived = publicMembers(publicKey);
    if (derived.x !== jwk.x || derived.y !== jwk.y)
      throw new Error('public members do not match the private key');
    const token = await new SignJWT({ probe: true })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    const { protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg] });
    if (protectedHeader.kid !== kid) throw new Error('kid mismatch');
  } catch (cause) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${secret}/${environment}: a probe JWT did not sign and verify with the new key pair`,
      { cause },
    );
  }
}

const duration = durationSchema();

export const jwtKeypairRotator = defineRotator({
  kind: 'jwt-keypair',
  summary:
    'asymmetric JWT signing key (EdDSA/Ed25519 or ES256/P-256), published as a JWKS before it signs',
  source: 'generated',
  configSchema: z
    .strictObject({
      algorithm: z.enum(['EdDSA', 'ES256']).default('EdDSA'),
      /** How long a new key is published in standby before it may sign. */
      publishAhead: duration.default(DEFAULT_PUBLISH_AHEAD),
    })
    .default({ algorithm: 'EdDSA', publishAhead: DEFAULT_PUBLISH_AHEAD }),
  async create(ctx) {
    const alg = ctx.config.algorithm;
    const privateKey = await generatePair(alg);
    const jwk = privateKey.export({ format: 'jwk' });
    const { kty, crv } = ALGORITHMS[alg];
    const value: Record<string, string> = {
      kty,
      crv,
      d: jwk.d!,
      x: jwk.x!,
      ...(jwk.y ? { y: jwk.y } : {}),
      alg,
      kid: ctx.versionId,
    };
    return { value: JSON.stringify(value), meta: { kid: ctx.versionId, alg, crv } };
  },
  async apply() {},
  async verify(ctx, material) {
    await probe(ctx.secret, ctx.environment, material.versionId, material.value);
  },
  // Nothing external to revoke: the engine destroys the private key, and the public key drops
  // out of the JWKS.
  async retire() {},
  async emergencyActions(ctx) {
    return [
      `tokens signed by the previous ${ctx.secret} key no longer validate (key retired, marked compromised and removed from the JWKS)`,
    ];
  },
  async validateImport(ctx, value) {
    const { alg } = parsePrivateJwk(ctx.secret, value);
    if (alg !== ctx.config.algorithm) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the key is for ${alg}, but rotor.yaml sets config.algorithm ${ctx.config.algorithm}`,
      );
    }
    try {
      await probe(ctx.secret, ctx.environment, ctx.versionId, value);
    } catch {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the private JWK's public members do not match its private key`,
      );
    }
    return { value, meta: { kid: ctx.versionId, alg, crv: ALGORITHMS[alg].crv } };
  },
  publishAhead(config) {
    return parseDuration(config.publishAhead);
  },
  publicJwk(ctx, material): PublicJwk {
    const { alg, publicKey } = parsePrivateJwk(ctx.secret, material.value);
    return { ...publicMembers(publicKey), kid: material.versionId, alg, use: 'sig' };
  },
});
