// rotor.yaml `config:` of `kind: twilio`. One secret holds one Twilio credential:
// - `credential: auth-token`: the account's auth token, rotated through Twilio's secondary token.
// - `credential: api-key`: a Standard API key (SK…) and its secret, made and deleted by Rotor.
// Admin credentials are named by reference, never written in the file.
import { z } from 'zod';
import { ENV_NAME } from '../../core/policy/policy-schema.js';
import { credentialRef } from '../provider/credential-ref.js';
import {
  apiAttempts,
  apiBase,
  propagationWindow,
  requestTimeoutMs,
  variablePair,
} from '../provider/provider-config.js';

export const ACCOUNT_SID = /^AC[0-9a-f]{32}$/;

const accountSid = z
  .union([
    z.string().regex(ACCOUNT_SID, 'an account SID: AC and 32 hex digits'),
    z.record(
      z.string().regex(ENV_NAME, 'an environment name'),
      z.string().regex(ACCOUNT_SID, 'an account SID: AC and 32 hex digits'),
    ),
  ])
  .describe('the account (AC…), or one per environment: { production: AC…, staging: AC… }');

const http = {
  apiBase: apiBase('https://api.twilio.com').describe('REST API base (a local fake in tests)'),
  timeoutMs: requestTimeoutMs(60_000).describe('per-request timeout'),
  attempts: apiAttempts,
  propagation: propagationWindow(
    { attempts: 6, delayMs: 10_000 },
    'a new credential is tried this often, delayMs apart, while Twilio propagates it (about a minute)',
  ),
};

const authToken = z.strictObject({
  credential: z.literal('auth-token'),
  accountSid,
  admin: credentialRef
    .optional()
    .describe(
      'a Main API key as SK…:SECRET (default: the current auth token itself, which may manage its own secondary)',
    ),
  accountsBase: apiBase('https://accounts.twilio.com').describe('Accounts API base (AuthTokens)'),
  ...http,
});

/** Paths a Standard key is refused (error 20003): the account itself and the keys. */
function standardKeyMayRead(path: string): boolean {
  const bare = path.split('?')[0]!;
  return (
    !/^\/2010-04-01\/Accounts(\.json|\/\{AccountSid\}\.json)$/.test(bare) &&
    !/\/Keys(\/|\.json|$)/.test(bare)
  );
}

const apiKey = z.strictObject({
  credential: z.literal('api-key'),
  accountSid,
  admin: credentialRef.describe(
    'the account auth token, or a Main API key as SK…:SECRET (Standard keys may not manage keys)',
  ),
  verifyPath: z
    .string()
    .regex(
      /^\/[\w./{}?=&-]*$/,
      'an absolute path such as /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json?PageSize=1',
    )
    .refine(
      standardKeyMayRead,
      'a Standard key may not read /Accounts or /Keys (Twilio error 20003): name a resource it may read',
    )
    .default('/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json?PageSize=1')
    .describe(
      'an authenticated GET the new key must pass before promotion, and the retired key must fail after retire',
    ),
  variables: variablePair(
    'sid',
    'secret',
    'deliver the key SID and its secret as these variables as well (e.g. TWILIO_API_KEY, TWILIO_API_SECRET)',
  ),
  ...http,
});

export const twilioConfigSchema = z.discriminatedUnion('credential', [authToken, apiKey]);

export type TwilioConfig = z.infer<typeof twilioConfigSchema>;
export type AuthTokenConfig = Extract<TwilioConfig, { credential: 'auth-token' }>;
export type ApiKeyConfig = Extract<TwilioConfig, { credential: 'api-key' }>;
