// rotor.yaml `config:` of `kind: smtp`: the SMTP server every new credential must log in to
// before promotion, and one adapter per provider (how a credential is made and revoked there).
import { z } from 'zod';
import { awsAccessKeyConfigSchema } from '../aws/aws-config.js';
import { credentialRef } from '../provider/credential-ref.js';
import {
  apiAttempts,
  apiBase,
  propagationWindow,
  requestTimeoutMs,
  variablePair,
} from '../provider/provider-config.js';

const server = z.strictObject({
  host: z.string().min(1).describe('SMTP host the application sends through'),
  port: z.number().int().min(1).max(65535).default(587),
  tls: z
    .enum(['starttls', 'implicit'])
    .default('starttls')
    .describe('starttls (587) or implicit TLS (465); plain text is never used'),
  ca: credentialRef
    .optional()
    .describe('PEM of a private CA the server certificate chains to (default: the system CAs)'),
  timeoutMs: requestTimeoutMs(120_000),
});

const variables = variablePair(
  'username',
  'password',
  'deliver the user name and password as these variables as well (e.g. SMTP_USER, SMTP_PASSWORD)',
);

const propagation = propagationWindow(
  { attempts: 5, delayMs: 2000 },
  'SMTP AUTH is retried this often while the provider propagates a new credential (verify) or a revocation (proof)',
);

const http = { timeoutMs: requestTimeoutMs(120_000), attempts: apiAttempts };

const ses = z.strictObject({
  adapter: z.literal('ses'),
  smtp: server,
  variables,
  propagation,
  // The IAM side is the aws-iam-access-key kind's config, minus its own delivery variables and S3 check.
  iam: awsAccessKeyConfigSchema
    .omit({ variables: true, s3: true, verify: true })
    .describe(
      'the IAM user whose key the SMTP credential derives from (its region is the SES region)',
    ),
});

const sendgrid = z.strictObject({
  adapter: z.literal('sendgrid'),
  smtp: server,
  variables,
  propagation,
  admin: credentialRef.describe('an API key with the api_keys scopes (read, create, delete)'),
  apiBase: apiBase('https://api.sendgrid.com'),
  scopes: z
    .array(z.string().min(1))
    .min(1)
    .default(['mail.send'])
    .describe('scopes of the first key (later keys copy the old key’s scopes)'),
  ...http,
});

const mailgun = z.strictObject({
  adapter: z.literal('mailgun'),
  smtp: server,
  variables,
  propagation,
  admin: credentialRef.describe(
    'a Mailgun API key allowed to manage the domain’s SMTP credentials',
  ),
  apiBase: apiBase('https://api.mailgun.net').describe('https://api.eu.mailgun.net for EU domains'),
  domain: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'a domain name'),
  logins: z
    .tuple([z.string().regex(/^[a-z0-9._-]{1,64}$/i), z.string().regex(/^[a-z0-9._-]{1,64}$/i)])
    .default(['rotor-a', 'rotor-b'])
    .refine(([a, b]) => a !== b, 'the two logins must differ')
    .describe('the two SMTP logins (local parts) Rotor alternates between'),
  ...http,
});

export const smtpConfigSchema = z.discriminatedUnion('adapter', [ses, sendgrid, mailgun]);

export type SmtpConfig = z.infer<typeof smtpConfigSchema>;
export type SesConfig = Extract<SmtpConfig, { adapter: 'ses' }>;
export type SendgridConfig = Extract<SmtpConfig, { adapter: 'sendgrid' }>;
export type MailgunConfig = Extract<SmtpConfig, { adapter: 'mailgun' }>;
