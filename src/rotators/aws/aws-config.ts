// rotor.yaml `config:` of `kind: aws-iam-access-key`. The admin credential (an IAM principal
// allowed to manage the user's keys) is named by reference, never written in the file.
import { z } from 'zod';
import { durationSchema } from '../../core/policy/duration-schema.js';
import { credentialRef } from '../provider/credential-ref.js';
import {
  propagationWindow,
  requestAttempts,
  requestTimeoutMs,
  variablePair,
} from '../provider/provider-config.js';

const duration = durationSchema({ example: '7d, 12h, 30m' });

/** IAM user names: up to 64 of A-Z a-z 0-9 and +=,.@_- (IAM's own rule). */
const USER_NAME = /^[\w+=,.@-]{1,64}$/;

const endpoint = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

export const awsAccessKeyConfigSchema = z.strictObject({
  userName: z
    .string()
    .regex(USER_NAME, 'an IAM user name (A-Z a-z 0-9 +=,.@_-, at most 64)')
    .describe('the IAM user whose access key this secret holds'),
  admin: credentialRef.describe(
    'where the admin access key ({"accessKeyId","secretAccessKey"} or ID:SECRET) is read at run time',
  ),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1')
    .default('us-east-1')
    .describe('region for STS and S3 (IAM is global and signed for us-east-1)'),
  endpoints: z
    .strictObject({
      iam: endpoint.optional(),
      sts: endpoint.optional(),
      s3: endpoint.optional(),
    })
    .optional()
    .describe(
      'endpoint overrides (a VPC endpoint, a local fake); default: the AWS public endpoints',
    ),
  s3: z
    .strictObject({ bucket: z.string().min(3).max(63) })
    .optional()
    .describe(
      'also verify the new key with an S3 HeadBucket on this bucket, and prove a retired key is refused by S3 (ListObjectsV2) as well as STS',
    ),
  variables: variablePair(
    'accessKeyId',
    'secretAccessKey',
    'deliver the two halves as these variables as well (rotor run, rotor export), e.g. S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY',
  ),
  verify: propagationWindow(
    { attempts: 10, delayMs: 2000 },
    'a new key is retried this many times, delayMs apart (doubling, at most 15 s), while IAM propagates it',
  ),
  deleteAfter: duration
    .default('7d')
    .describe(
      'a deactivated Rotor key is deleted once it has been inactive this long (until then it can be re-activated)',
    ),
  timeoutMs: requestTimeoutMs(120_000).describe('per-request timeout'),
  maxAttempts: requestAttempts(
    10,
    'AWS SDK attempts per request (retries 5xx and throttling with backoff and jitter)',
  ),
});

export type AwsAccessKeyConfig = z.infer<typeof awsAccessKeyConfigSchema>;
