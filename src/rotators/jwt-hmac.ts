// `jwt-hmac`: JWT_ACCESS_SECRET / JWT_REFRESH_SECRET. Each version is a fresh HMAC key whose
// version id is its `kid`; verify signs and verifies a probe token with jose.
import { z } from 'zod';
import { decodeStrict } from '../core/crypto/decode-strict.js';
import { generateSecret } from '../core/crypto/generate.js';
import { RotorError } from '../core/errors.js';
import { defineRotator } from '../core/rotator/rotator-contract.js';

const MIN_BYTES = { HS256: 32, HS384: 48, HS512: 64 } as const;

export const jwtHmacRotator = defineRotator({
  kind: 'jwt-hmac',
  summary: 'HMAC signing key for JWTs, one kid per version',
  source: 'generated',
  configSchema: z
    .strictObject({
      algorithm: z.enum(['HS256', 'HS384', 'HS512']).default('HS256'),
      bytes: z.number().int().max(1024).optional(),
      encoding: z.enum(['base64', 'base64url']).default('base64'),
      // What a rotation does to tokens signed by the previous key. `dual-validate`: they keep
      // working through the grace window (zero-downtime rotation). `invalidate`: they stop at
      // once; the policy sets this secret's grace to 0, so the previous key is never in grace.
      onRotate: z.enum(['dual-validate', 'invalidate']).default('dual-validate'),
      // An emergency rotation also revokes every session and refresh token in the app's
      // session store (rotor.yaml `sessions:`): a leaked signing key may have minted tokens
      // that no key check can tell apart from real ones. On by default.
      emergency: z
        .strictObject({
          revokeAllSessions: z.boolean().default(true),
          requirePasswordReset: z.boolean().default(false),
        })
        .default({ revokeAllSessions: true, requirePasswordReset: false }),
    })
    .default({
      algorithm: 'HS256',
      encoding: 'base64',
      onRotate: 'dual-validate',
      emergency: { revokeAllSessions: true, requirePasswordReset: false },
    })
    .superRefine((c, ctx) => {
      if (c.bytes !== undefined && c.bytes < MIN_BYTES[c.algorithm]) {
        ctx.addIssue({
          code: 'custom',
          path: ['bytes'],
          message: `${c.algorithm} needs at least ${MIN_BYTES[c.algorithm]} bytes`,
        });
      }
    }),
  async create(ctx) {
    const bytes = ctx.config.bytes ?? MIN_BYTES[ctx.config.algorithm];
    return {
      value: generateSecret(bytes, ctx.config.encoding),
      meta: { kid: ctx.versionId, alg: ctx.config.algorithm, encoding: ctx.config.encoding, bytes },
    };
  },
  async apply() {},
  async verify(ctx, material) {
    const key = Buffer.from(material.value, ctx.config.encoding);
    const alg = ctx.config.algorithm;
    // jose is loaded on first use: most commands never sign a probe, and start-up time counts.
    const { SignJWT, jwtVerify } = await import('jose');
    try {
      const token = await new SignJWT({ probe: true })
        .setProtectedHeader({ alg, kid: material.versionId })
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(key);
      const { protectedHeader } = await jwtVerify(token, key, { algorithms: [alg] });
      if (protectedHeader.kid !== material.versionId) throw new Error('kid mismatch');
    } catch (cause) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: a probe JWT did not sign and verify with the new key`,
        { cause },
      );
    }
  },
  async retire() {},
  async emergencyActions(ctx) {
    const actions = [
      `tokens signed by the previous ${ctx.secret} key no longer validate (key retired and marked compromised)`,
    ];
    const { revokeAllSessions, requirePasswordReset } = ctx.config.emergency;
    if (!revokeAllSessions) return actions;
    if (!ctx.sessions) {
      actions.push(
        `sessions NOT revoked: no session store is configured for ${ctx.environment} (rotor.yaml sessions:); refresh tokens and sessions from before stay valid until they expire`,
      );
      return actions;
    }
    try {
      await ctx.sessions.revokeAll(`emergency rotation of ${ctx.secret} in ${ctx.environment}`, {
        requirePasswordReset,
      });
    } catch (cause) {
      const code = cause instanceof RotorError ? cause.code : 'ERR_ROTOR_TOKENS_STORE_UNREACHABLE';
      throw new RotorError(
        code,
        `${ctx.secret}/${ctx.environment}: the new key is current and the old one revoked, but sessions could NOT be revoked (${(cause as Error).message}); run \`rotor resume\` to retry, or \`rotor sessions revoke --all\``,
        { cause },
      );
    }
    actions.push(
      `all sessions and refresh tokens issued until now revoked in the ${ctx.sessions.store ?? 'configured'} session store${requirePasswordReset ? '; every user must set a new password' : ''}`,
    );
    return actions;
  },
  async validateImport(ctx, value) {
    const { algorithm, encoding } = ctx.config;
    const key = decodeStrict(value, encoding);
    if (!key) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the value is not valid ${encoding}, the encoding rotor.yaml gives this key (set config.encoding to how your app decodes it, or use kind manual for a raw string key)`,
      );
    }
    if (key.length < MIN_BYTES[algorithm]) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the key decodes to ${key.length} bytes; ${algorithm} needs at least ${MIN_BYTES[algorithm]}`,
      );
    }
    return { value, meta: { kid: ctx.versionId, alg: algorithm, encoding, bytes: key.length } };
  },
});
