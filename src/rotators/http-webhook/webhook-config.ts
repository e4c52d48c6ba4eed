// rotor.yaml `config:` of `kind: http`: the team's rotation endpoint and the HMAC key Rotor signs
// its requests with (by reference). The endpoint receives new credentials in verify requests and
// returns them in create answers, so it must be reached over HTTPS (plain http only on loopback).
import { z } from 'zod';
import { credentialRef } from '../provider/credential-ref.js';
import {
  propagationWindow,
  requestAttempts,
  requestTimeoutMs,
} from '../provider/provider-config.js';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

export const webhookConfigSchema = z.strictObject({
  provider: z
    .string()
    .regex(/^[\w .-]{1,40}$/, 'a short name such as Stripe')
    .describe('the provider the endpoint rotates at, for messages and the audit log'),
  url: z
    .url({ protocol: /^https?$/, error: 'an http(s) URL' })
    .refine((u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || LOOPBACK.has(url.hostname);
    }, 'must be https:// (credentials travel in these requests); plain http:// only to a loopback address')
    .refine(
      (u) => !new URL(u).username && !new URL(u).password,
      'must not hold a user name or password: the requests are signed with config.key',
    )
    .describe(
      'the endpoint that creates, verifies and revokes credentials (see docs/providers.md, "http")',
    ),
  key: credentialRef.describe(
    'HMAC-SHA256 key both sides share: Rotor signs every request with it',
  ),
  timeoutMs: requestTimeoutMs(60_000).describe('per-attempt timeout'),
  attempts: requestAttempts(
    5,
    'attempts per request (network errors, 429 and 5xx are retried with backoff, honouring Retry-After)',
  ),
  propagation: propagationWindow(
    { attempts: 3, delayMs: 2000 },
    'verify is asked again this often, delayMs apart, while the endpoint answers valid: false for a new credential (or true for a revoked one)',
  ),
});

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;
