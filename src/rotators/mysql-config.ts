// rotor.yaml `config:` of `kind: mysql`, apart from the rotator so that reading rotor.yaml never
// loads the MySQL driver. The admin credential is named by reference, never written in the file.
import { z } from 'zod';
import { drainSchema, keepOriginalLoginSchema } from './postgres/drain-config.js';
import { adminUrlRef } from './provider/credential-ref.js';

/** The kind's one-line description (`rotor schema`, the registry). */
export const MYSQL_SUMMARY =
  'DATABASE_URL for MariaDB/MySQL: alternating users holding one role (MySQL 8 dual passwords: untested, needs experimental: true)';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const params = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** What may differ per environment (staging and production servers). */
const override = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).max(64).optional(),
  params: params.optional(),
  admin: adminUrlRef.optional(),
  /** Environments that share one server need their own users. */
  baseUser: z.string().regex(IDENT, 'letters, digits and _ only').max(30).optional(),
});

export const mysqlConfigSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(3306),
  database: z.string().min(1).max(64),
  /** Query parameters kept in the composed DATABASE_URL (`ssl`, `charset`, …). */
  params: params.optional(),
  /** The role that holds the app's privileges; both users get it as their DEFAULT ROLE. */
  role: z.string().regex(IDENT, 'letters, digits and _ only'),
  /** `<baseUser>_a` / `<baseUser>_b` are the alternating login users. */
  baseUser: z.string().regex(IDENT, 'letters, digits and _ only').max(30),
  /** The account host part the users are created with (`'%'`, `10.0.%`, …). */
  userHost: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^'\\`\0]+$/, 'no quotes or backslashes')
    .default('%'),
  /** Create the users with at least REQUIRE SSL (the requirement of the account being replaced is always copied exactly). */
  requireTls: z.boolean().optional(),
  /** PEM file of the CA Rotor trusts when it logs in over TLS itself (verify, proof); default: the system's. */
  tlsCa: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of the CA Rotor trusts for its own TLS logins (verify, retire proof)'),
  strategy: z
    .enum(['alternate', 'dual-password'])
    .default('alternate')
    .describe(
      'alternate: <baseUser>_a / _b holding the role; dual-password: MySQL 8.0.14+ only, UNTESTED (no MySQL 8 server was available), needs experimental: true',
    ),
  /** dual-password has never run against a server: it must be asked for explicitly. */
  experimental: z.boolean().optional().describe('allow strategy dual-password, which is untested'),
  keepOriginalLogin: keepOriginalLoginSchema,
  drain: drainSchema.optional(),
  /**
   * Safety net: every password Rotor sets expires after this many days (PASSWORD EXPIRE
   * INTERVAL). Default: the secret's maximum cadence plus its grace window.
   */
  passwordLifetimeDays: z.number().int().min(1).max(65535).optional(),
  /** The admin connection URL, by reference: an environment variable or another Rotor secret. */
  admin: adminUrlRef,
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  /** Each admin statement is cut off after this (MariaDB max_statement_time), e.g. behind a lock. */
  statementTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** Per-environment host, port, database, params or admin. */
  environments: z.record(z.string(), override).optional(),
});
export type MysqlConfig = z.infer<typeof mysqlConfigSchema>;
