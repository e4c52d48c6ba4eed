// `random`: opaque tokens such as METRICS_AUTH_TOKEN, from the OS CSPRNG.
import { z } from 'zod';
import { decodeStrict } from '../core/crypto/decode-strict.js';
import { ENCODINGS, MIN_SECRET_BYTES, generateSecret } from '../core/crypto/generate.js';
import { defineRotator } from '../core/rotator/rotator-contract.js';
import { RotorError } from '../core/errors.js';

export const randomRotator = defineRotator({
  kind: 'random',
  summary: 'opaque random token (≥ 32 bytes from the OS CSPRNG)',
  source: 'generated',
  configSchema: z
    .strictObject({
      bytes: z.number().int().min(MIN_SECRET_BYTES).max(1024).default(32),
      encoding: z.enum(ENCODINGS).default('base64url'),
    })
    .default({ bytes: 32, encoding: 'base64url' }),
  async create(ctx) {
    return {
      value: generateSecret(ctx.config.bytes, ctx.config.encoding),
      meta: { bytes: ctx.config.bytes, encoding: ctx.config.encoding },
    };
  },
  async apply() {},
  async verify(ctx, material) {
    const decoded = Buffer.from(material.value, ctx.config.encoding);
    if (decoded.length < ctx.config.bytes) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}: generated token decodes to ${decoded.length} bytes, expected ${ctx.config.bytes}`,
      );
    }
  },
  async retire() {},
  async validateImport(ctx, value) {
    const decoded = decodeStrict(value, ctx.config.encoding);
    if (!decoded) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the value is not valid ${ctx.config.encoding}, the encoding rotor.yaml gives this token (set config.encoding to match it)`,
      );
    }
    if (decoded.length < ctx.config.bytes) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the token decodes to ${decoded.length} bytes; rotor.yaml asks for at least ${ctx.config.bytes}`,
      );
    }
    return { value, meta: { bytes: decoded.length, encoding: ctx.config.encoding } };
  },
});
