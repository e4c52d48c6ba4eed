// `manual`: credentials a person changes at a provider (SMTP, Twilio, storage keys). The new
// value arrives by hidden prompt, stdin or file, never argv; Rotor records and delivers it.
import { z } from 'zod';
import { RotorError } from '../core/errors.js';
import { defineRotator } from '../core/rotator/rotator-contract.js';

export const manualRotator = defineRotator({
  kind: 'manual',
  summary: 'a person rotates it at the provider and gives Rotor the new value',
  source: 'operator',
  configSchema: z
    .strictObject({
      /** Where the operator rotates it, shown in prompts and reminders. */
      instructions: z.string().max(2000).optional(),
      minLength: z.number().int().min(1).default(8),
    })
    .default({ minLength: 8 }),
  async create(ctx) {
    const value = ctx.input;
    if (value === undefined || value.length === 0) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_MISSING',
        `${ctx.secret} is a manual secret: give the new value on stdin, with --from-file, or at the prompt`,
      );
    }
    if (value.length < ctx.config.minLength) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the new value is shorter than ${ctx.config.minLength} characters`,
      );
    }
    return { value, meta: {} };
  },
  async apply() {},
  // NUL bytes, blank and oversized values are refused for every kind by the engine and import
  // (core/policy/value-limits.ts); line breaks are fine (PEM keys, service-account JSON).
  async verify() {},
  async retire() {},
  async validateImport(ctx, value) {
    if (value.length < ctx.config.minLength) {
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the value is shorter than ${ctx.config.minLength} characters (config.minLength)`,
      );
    }
    return { value, meta: {} };
  },
});
