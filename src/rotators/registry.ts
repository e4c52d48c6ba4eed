// The one list of rotators. Adding a kind is a new file plus one line here.
import type { AnyRotator } from '../core/rotation/rotator-contract.js';
import { awsIamAccessKeyRotator } from './aws-iam-access-key.js';
import { httpWebhookRotator } from './http-webhook.js';
import { jwtHmacRotator } from './jwt-hmac.js';
import { jwtKeypairRotator } from './jwt-keypair.js';
import { manualRotator } from './manual.js';
import { mysqlRotator } from './mysql.js';
import { postgresRotator } from './postgres.js';
import { randomRotator } from './random.js';
import { smtpRotator } from './smtp.js';
import { twilioRotator } from './twilio.js';

export const ROTATORS: readonly AnyRotator[] = [randomRotator, jwtHmacRotator, manualRotator, jwtKeypairRotator, mysqlRotator, postgresRotator, awsIamAccessKeyRotator, smtpRotator, twilioRotator, httpWebhookRotator];
