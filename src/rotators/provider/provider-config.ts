// Pieces of rotor.yaml `config:` the provider kinds (aws-iam-access-key, smtp, twilio, http)
// share, so a bound or a message is the same in every kind and changed in one place. Each piece
// is a fresh schema, with the kind's own defaults and description where they differ.
import { z } from 'zod';
import { ENV_VAR_NAME } from '../../core/policy/policy-schema.js';

/** The name of an environment variable a kind reads or delivers. */
export const envVarName = z.string().regex(ENV_VAR_NAME, 'an environment variable name');

/** Two variables a two-part value (key id and secret, user and password) is also delivered as. */
export function variablePair<A extends string, B extends string>(
  first: A,
  second: B,
  description: string,
) {
  const fields = { [first]: envVarName, [second]: envVarName } as Record<A | B, typeof envVarName>;
  return z.strictObject(fields).optional().describe(description);
}

/**
 * How often, and how far apart, the provider is asked again while it propagates a new credential
 * (or a revocation). Both fields default, so `{}` and an absent block mean the kind's defaults.
 */
export function propagationWindow(
  defaults: { attempts: number; delayMs: number },
  description: string,
) {
  return z
    .strictObject({
      attempts: z.number().int().min(1).max(60).default(defaults.attempts),
      delayMs: z.number().int().min(0).max(60_000).default(defaults.delayMs),
    })
    .prefault({})
    .describe(description);
}

/** A per-request timeout in milliseconds, 10 s unless set. */
export function requestTimeoutMs(maxMs: number) {
  return z.number().int().min(100).max(maxMs).default(10_000);
}

/** Attempts per request, 3 unless set; `description` says what the kind retries. */
export function requestAttempts(max: number, description: string) {
  return z.number().int().min(1).max(max).default(3).describe(description);
}

/** Attempts per call of a provider's REST API (provider-http.ts retries 429 and 5xx). */
export const apiAttempts = requestAttempts(
  10,
  'attempts per API request (429 and 5xx are retried with backoff, honouring Retry-After)',
);

/** A provider API's base URL (https, or http for a local fake in tests). */
export function apiBase(defaultUrl: string) {
  return z.url({ protocol: /^https?$/ }).default(defaultUrl);
}
