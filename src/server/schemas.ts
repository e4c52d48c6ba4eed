// Request pieces shared by several routes. Names are checked against the policy's own patterns,
// so path traversal, control characters and odd Unicode are refused before anything is looked up.
import { z } from 'zod';
import { ENV_NAME, SECRET_NAME } from '../core/policy/policy-schema.js';

export const secretName = z
  .string()
  .regex(SECRET_NAME, 'not a secret name (A-Z, 0-9 and _, starting with a letter)')
  .describe('secret name, as in rotor.yaml');
export const envName = z
  .string()
  .regex(ENV_NAME, 'not an environment name (a-z, 0-9 and -, starting with a letter)')
  .describe('environment name');
export const reason = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(500, 'at most 500 characters')
  .describe('why (recorded in the audit log)');
/** The optional new value a person supplies (manual kinds) with a rotation; never logged. */
export const suppliedValue = z
  .string()
  .min(1)
  .max(16_384)
  .optional()
  .describe('the new value, for kinds a person supplies (manual); never logged');
/** An ISO date (2026-03-01) or UTC date-time (2026-03-01T12:00:00Z, or with an offset). */
export const isoInstant = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/,
    'not an ISO date or date-time (2026-03-01, 2026-03-01T12:00:00Z)',
  )
  .refine((s) => !Number.isNaN(Date.parse(s)), 'not a real date')
  .describe('ISO date or date-time');

export const secretParams = z.strictObject({ name: secretName });

export function instant(text: string | undefined): number | undefined {
  return text === undefined
    ? undefined
    : Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
}

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}
