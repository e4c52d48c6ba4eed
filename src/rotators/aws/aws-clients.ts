// AWS SDK clients for the `aws-iam-access-key` rotator, imported lazily (the SDK is heavy and
// most rotor commands never need it), and the one place that turns SDK errors into Rotor errors
// naming the provider, the operation and, where AWS says it, the missing permission. The SDK
// error itself is never attached: only its code, status and message, which carry no secret.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import { parseAccessKey, type AccessKeyPair } from './access-key-value.js';
import type { AwsAccessKeyConfig } from './aws-config.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;

/**
 * On Node < 22 the SDK warns, once per process and when a client is constructed, that its releases
 * after January 2027 need Node 22 (NodeVersionSupportWarning): stderr noise in every AWS operation
 * Rotor runs on Node 20. The SDK's own switch for exactly that warning is set only while Rotor
 * constructs a client (synchronously, so no child process inherits it); other warnings still print.
 */
const VERSION_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

function withoutVersionWarning<T>(construct: () => T): T {
  const before = process.env[VERSION_WARNING_SWITCH];
  process.env[VERSION_WARNING_SWITCH] = 'true';
  try {
    return construct();
  } finally {
    if (before === undefined) delete process.env[VERSION_WARNING_SWITCH];
    else process.env[VERSION_WARNING_SWITCH] = before;
  }
}

/** IAM is global: its requests are signed for us-east-1 whatever the endpoint. */
const IAM_SIGNING_REGION = 'us-east-1';

function common(ctx: Ctx, credentials: AccessKeyPair) {
  return {
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    },
    maxAttempts: ctx.config.maxAttempts,
    requestHandler: {
      requestTimeout: ctx.config.timeoutMs,
      connectionTimeout: ctx.config.timeoutMs,
    },
  };
}

export async function adminCredentials(ctx: Ctx): Promise<AccessKeyPair> {
  const text = await readCredential(
    ctx,
    ctx.config.admin,
    'AWS admin credential',
    '{"accessKeyId","secretAccessKey"} or ACCESS_KEY_ID:SECRET_ACCESS_KEY',
  );
  return parseAccessKey(text, `${ctx.secret}/${ctx.environment}: the AWS admin credential`);
}

export async function iamClient(ctx: Ctx, credentials: AccessKeyPair) {
  const { IAMClient } = await import('@aws-sdk/client-iam');
  const endpoint = ctx.config.endpoints?.iam;
  return withoutVersionWarning(
    () =>
      new IAMClient({
        ...common(ctx, credentials),
        region: IAM_SIGNING_REGION,
        ...(endpoint ? { endpoint } : {}),
      }),
  );
}

export async function stsClient(ctx: Ctx, credentials: AccessKeyPair) {
  const { STSClient } = await import('@aws-sdk/client-sts');
  const endpoint = ctx.config.endpoints?.sts;
  // A refused key must come back at once: retries are ours (bounded, for propagation), not the SDK's.
  return withoutVersionWarning(
    () =>
      new STSClient({
        ...common(ctx, credentials),
        maxAttempts: 1,
        region: ctx.config.region,
        ...(endpoint ? { endpoint } : {}),
      }),
  );
}

export async function s3Client(ctx: Ctx, credentials: AccessKeyPair) {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const endpoint = ctx.config.endpoints?.s3;
  return withoutVersionWarning(
    () =>
      new S3Client({
        ...common(ctx, credentials),
        maxAttempts: 1,
        region: ctx.config.region,
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      }),
  );
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The AWS error code of an SDK error (`LimitExceeded`, `InvalidClientTokenId`), or the network code. */
export function awsCode(error: unknown): string {
  const e = error as SdkError;
  return e?.code && /^E[A-Z]+$/.test(e.code) ? e.code : (e?.name ?? 'Error');
}

export function awsStatus(error: unknown): number | undefined {
  return (error as SdkError)?.$metadata?.httpStatusCode;
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'TimeoutError',
  'RequestTimeout',
]);
const AUTH = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
]);

/** Maps an SDK error from `operation` (e.g. `iam:CreateAccessKey`) to a Rotor error. */
export function awsError(
  ctx: Ctx,
  operation: string,
  error: unknown,
  credential = 'the admin credential',
): RotorError {
  if (error instanceof RotorError) return error;
  const code = awsCode(error);
  const status = awsStatus(error);
  const message = (error as SdkError)?.message ?? String(error);
  const head = `${ctx.secret}/${ctx.environment}: AWS ${operation}`;
  const details = {
    secret: ctx.secret,
    environment: ctx.environment,
    provider: 'aws',
    operation,
    awsCode: code,
    ...(status ? { status } : {}),
  };
  if (NETWORK.has(code)) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_UNAVAILABLE',
      `${head} could not reach AWS (${code}); nothing was promoted`,
      { details },
    );
  }
  if (AUTH.has(code)) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_AUTH_FAILED',
      `${head} refused ${credential} (${code}: ${message})`,
      { details },
    );
  }
  if (code === 'AccessDenied' || code === 'AccessDeniedException' || status === 403) {
    // AWS names the action it refused: "is not authorized to perform: iam:CreateAccessKey on …".
    const missing = /perform: ([\w-]+:\w+)/.exec(message)?.[1] ?? operation;
    return new RotorError(
      'ERR_ROTOR_PROVIDER_PERMISSION_MISSING',
      `${head}: ${credential} lacks the permission ${missing} (${message})`,
      { details: { ...details, permission: missing } },
    );
  }
  if (status !== undefined && status >= 500) {
    return new RotorError(
      'ERR_ROTOR_PROVIDER_UNAVAILABLE',
      `${head} failed with HTTP ${status} (${code}) after ${ctx.config.maxAttempts} attempt(s); nothing was promoted`,
      { details },
    );
  }
  return new RotorError(
    'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
    `${head} failed (${code}${status ? `, HTTP ${status}` : ''}: ${message})`,
    { details },
  );
}

/** Runs one SDK call, mapping its errors. */
export async function call<T>(
  ctx: Ctx,
  operation: string,
  fn: () => Promise<T>,
  credential?: string,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw awsError(ctx, operation, error, credential);
  }
}
