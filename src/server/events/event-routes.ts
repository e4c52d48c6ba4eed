// The routes of the events plugin as documentation: their schemas (which the plugin validates
// with), permissions and summaries, so `/v1/openapi.json` and the authorization-matrix test cover
// them like the route table's own.
import { z } from 'zod';
import {
  CONSUMER_ID,
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
} from '../../core/consumers/consumer-record.js';
import { ENV_GLOB, SECRET_GLOB } from '../../core/tokens/token-grant.js';
import type { RouteDoc } from '../route-def.js';
import { envName, secretName } from '../schemas.js';

const globList = (pattern: RegExp, what: string) =>
  z
    .string()
    .max(1024)
    .transform((s) => s.split(',').filter(Boolean))
    .refine(
      (list) => list.length > 0 && list.length <= 32 && list.every((g) => pattern.test(g)),
      `a comma-separated list of ${what} (letters, digits and *)`,
    );

export const eventsQuery = z.strictObject({
  secrets: globList(SECRET_GLOB, 'secret-name patterns')
    .optional()
    .describe('secret-name globs, e.g. JWT_* (default: all granted)'),
  env: globList(ENV_GLOB, 'environment patterns')
    .optional()
    .describe('environment globs (default: all granted)'),
});

const versionId = z.string().regex(/^[0-9a-f-]{36}$/, 'not a version id');
const consumerId = z.string().regex(CONSUMER_ID, '1-128 characters: letters, digits and . _ : @ -');

export const heartbeatBody = z.strictObject({
  consumerId,
  app: consumerId,
  intervalMs: z.number().int().min(MIN_INTERVAL_MS).max(MAX_INTERVAL_MS).optional(),
  holds: z
    .array(z.strictObject({ secret: secretName, environment: envName, version: versionId }))
    .max(1000),
});

export const consumersQuery = z.strictObject({
  secret: secretName.optional(),
  env: envName.optional(),
  live: z.enum(['true', 'false']).optional(),
});

/** What the events plugin serves, for the OpenAPI document and the authorization matrix. */
export const EVENT_ROUTES: readonly RouteDoc[] = [
  {
    method: 'GET',
    url: '/v1/events',
    permission: 'secret.read',
    summary:
      'Server-Sent Events: rotation events (version ids, never values) for the secrets the token was granted; Last-Event-ID resumes',
    query: eventsQuery,
  },
  {
    method: 'POST',
    url: '/v1/consumers/heartbeat',
    permission: 'secret.read',
    summary:
      'a client reports the versions it holds (an ack is a heartbeat naming the new version)',
    body: heartbeatBody,
  },
  {
    method: 'GET',
    url: '/v1/consumers',
    permission: 'inventory.read',
    summary: 'consumers, what they hold, and which are behind the current version',
    query: consumersQuery,
  },
];
