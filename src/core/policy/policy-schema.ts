// The schema of rotor.yaml, built from the rotator registry so each kind validates its own
// `config:`. The same schema emits the JSON Schema that `rotor schema` prints for editors.
import { z } from 'zod';
import { auditSchema } from './checkpoint-schema.js';
import { MAX_VALUE_BYTES_LIMIT } from './value-limits.js';
import { durationSchema } from './duration-schema.js';
import type { AnyRotator } from '../rotator/rotator-contract.js';
import { stageListSchema } from './stage-schema.js';
import { notifySchema, schedulerSchema, secretScheduleFields } from './schedule-schema.js';
import { ENV_NAME, ENV_VAR_NAME, SECRET_NAME } from './names.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';

export { ENV_NAME, ENV_VAR_NAME, SECRET_NAME };

const duration = durationSchema({ example: '90d, 12w, 6mo, 24h, 1y' });

const cadence = z.union([
  duration,
  z.strictObject({
    target: duration.describe('age at which a rotation is due'),
    max: duration.optional().describe('age after which the secret is overdue (default: target)'),
    warn: duration.optional().describe('warning window before target (default 14d)'),
  }),
]);

function secretEntry(kinds: readonly string[]) {
  return z.strictObject({
    kind: z.enum(kinds as [string, ...string[]]).describe('the rotator that knows this secret'),
    cadence: cadence.describe('how often it must change'),
    grace: duration
      .optional()
      .describe('how long the previous version stays valid after a rotation (default 24h)'),
    owner: z.string().max(200).optional(),
    notes: z.string().max(2000).optional(),
    environments: z
      .array(z.string().regex(ENV_NAME))
      .min(1)
      .optional()
      .describe('subset of environments (default: all)'),
    config: z.record(z.string(), z.unknown()).optional().describe('kind-specific settings'),
    maxBytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_VALUE_BYTES_LIMIT)
      .optional()
      .describe('largest value accepted at import and rotation, in bytes (default 65536)'),
    deploy: stageListSchema
      .optional()
      .describe('hooks run in each environment right after the new version becomes current'),
    smoke: stageListSchema.optional().describe('smoke tests run after the deploy hooks'),
    health: stageListSchema
      .optional()
      .describe('health checks run last; any failure rolls the environment back'),
    ...secretScheduleFields,
  });
}

/** Table and key prefix of a sessions store; same rule as PREFIX_PATTERN in core/sessions/stores/token-store.ts. */
export const SESSIONS_PREFIX = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * Where the app keeps refresh-token families and session revocations (rotor/tokens), so that
 * `rotor sessions revoke` and emergency rotations can revoke them. The URL holds a password, so
 * the file names the environment variable that holds it, never the URL.
 */
const sessionsEntry = z
  .strictObject({
    store: z.enum(['postgres', 'redis']).describe('the TokenStore the app uses'),
    url: z
      .strictObject(
        {
          env: z
            .string()
            .regex(ENV_VAR_NAME, 'an environment variable name')
            .describe('environment variable holding the connection URL'),
        },
        {
          error:
            'url must be { env: VARIABLE_NAME }: the name of the environment variable holding the URL, never the URL itself (it has a password)',
        },
      )
      .describe('the environment variable that holds the URL'),
    prefix: z
      .string()
      .regex(SESSIONS_PREFIX, 'lower-case letters, digits and _, starting with a letter')
      .optional()
      .describe('table and key prefix the app uses (default rotor)'),
    environments: z
      .array(z.string().regex(ENV_NAME))
      .min(1)
      .optional()
      .describe('environments whose sessions live in this store (default: all)'),
  })
  .describe(
    'the session store of rotor/tokens, for `rotor sessions revoke` and emergency rotations',
  );

export function createPolicySchema(rotators: readonly AnyRotator[]) {
  const kinds = [...rotators.map((r) => r.kind), MASTER_KEY_KIND];
  return z.strictObject({
    version: z.literal(1).describe('policy format version'),
    environments: z
      .array(
        z.string().regex(ENV_NAME, 'environment names are lower-case letters, digits and dashes'),
      )
      .min(1)
      .describe('environments in rotation order (staging first)'),
    defaults: z
      .strictObject({
        grace: duration.optional(),
        warn: duration.optional(),
      })
      .optional(),
    secrets: z
      .record(
        z
          .string()
          .regex(SECRET_NAME, 'secret names are environment-variable names: A-Z, 0-9 and _'),
        secretEntry(kinds),
      )
      .describe('the inventory, keyed by environment-variable name'),
    sessions: sessionsEntry.optional(),
    notify: notifySchema.optional(),
    scheduler: schedulerSchema.optional(),
    audit: auditSchema.optional(),
  });
}

export type RawPolicy = z.infer<ReturnType<typeof createPolicySchema>>;

/** JSON Schema (draft 2020-12) for editors. */
export function policyJsonSchema(rotators: readonly AnyRotator[]): unknown {
  return z.toJSONSchema(createPolicySchema(rotators), { io: 'input', unrepresentable: 'any' });
}
