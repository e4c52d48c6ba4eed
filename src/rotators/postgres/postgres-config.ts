// rotor.yaml `config:` of `kind: postgres`. The admin credential is named by reference (an
// environment variable or another Rotor secret), never written in the file.
import { z } from 'zod';
import { adminUrlRef } from '../provider/credential-ref.js';
import { drainSchema, keepOriginalLoginSchema } from './drain-config.js';

/** The kind's one-line description (`rotor schema`, the registry). */
export const POSTGRES_SUMMARY =
  'PostgreSQL DATABASE_URL: alternating or cloned login roles in a group role, SCRAM verifiers, same grants verified';

/** Role names Rotor manages: lower-case, short enough for the `_a`/`_b` or clone suffixes. */
const ROLE = /^[a-z_][a-z0-9_]{0,46}$/;

const params = z
  .record(z.string(), z.string())
  .describe('query parameters kept in DATABASE_URL (sslmode, …)');

const override = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  params: params.optional(),
  admin: adminUrlRef.optional(),
});

export const postgresConfigSchema = z.strictObject({
  host: z.string().min(1).describe('server host the application connects to'),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1),
  params: params.optional(),
  baseRole: z
    .string()
    .regex(ROLE, 'lower-case letters, digits and _ (at most 47)')
    .describe('group role (NOLOGIN) that holds the privileges and owns the objects'),
  strategy: z
    .enum(['alternate', 'clone'])
    .default('alternate')
    .describe('alternate: <base>_a / <base>_b; clone: a new login role per rotation'),
  admin: adminUrlRef.describe('where the admin connection URL is read at run time'),
  connectTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(5000)
    .describe('connection timeout of the admin and probe connections'),
  statementTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(15_000)
    .describe('statement_timeout of the admin connection'),
  environments: z
    .record(z.string(), override)
    .optional()
    .describe('per-environment host, port, database, params or admin'),
  keepOriginalLogin: keepOriginalLoginSchema,
  drain: drainSchema.optional(),
});

export type PostgresConfig = z.infer<typeof postgresConfigSchema>;
