// The one list of rotators. Adding a kind is a new file plus one line here. The database kinds
// are registered lazily (their config schema now, their driver-bound module on first use), so
// that reading rotor.yaml never loads pg or mysql2.
import type { AnyRotator } from '../core/rotator/rotator-contract.js';
import { awsIamAccessKeyRotator } from './aws-iam-access-key.js';
import { httpWebhookRotator } from './http-webhook.js';
import { jwtHmacRotator } from './jwt-hmac.js';
import { jwtKeypairRotator } from './jwt-keypair.js';
import { lazyRotator } from './lazy-rotator.js';
import { manualRotator } from './manual.js';
import { MYSQL_SUMMARY, mysqlConfigSchema } from './mysql-config.js';
import { POSTGRES_SUMMARY, postgresConfigSchema } from './postgres/postgres-config.js';
import { randomRotator } from './random.js';
import { smtpRotator } from './smtp.js';
import { twilioRotator } from './twilio.js';

export const mysqlEntry = lazyRotator(
  {
    kind: 'mysql',
    summary: MYSQL_SUMMARY,
    configSchema: mysqlConfigSchema,
    source: 'generated',
    hooks: ['prove', 'emergencyActions', 'runSql'],
  },
  async () => (await import('./mysql.js')).mysqlRotator,
);

export const postgresEntry = lazyRotator(
  {
    kind: 'postgres',
    summary: POSTGRES_SUMMARY,
    configSchema: postgresConfigSchema,
    source: 'generated',
    hooks: ['prove', 'emergencyActions', 'validateImport', 'runSql'],
  },
  async () => (await import('./postgres.js')).postgresRotator,
);

export const ROTATORS: readonly AnyRotator[] = [
  randomRotator,
  jwtHmacRotator,
  manualRotator,
  jwtKeypairRotator,
  mysqlEntry as AnyRotator,
  postgresEntry as AnyRotator,
  awsIamAccessKeyRotator,
  smtpRotator,
  twilioRotator,
  httpWebhookRotator,
];
