// Uses an access key the way an application would, to prove it works (verify) or that it is
// refused (proof of revocation). IAM is eventually consistent: a new key may be refused, and a
// deactivated one accepted, for a few seconds, so both checks retry, a bounded number of times.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import type { AccessKeyPair } from './access-key-value.js';
import type { AwsAccessKeyConfig } from './aws-config.js';
import { awsCode, awsError, awsStatus, s3Client, stsClient } from './aws-clients.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;

const REFUSED = new Set([
  'InvalidClientTokenId',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
]);
const MAX_DELAY_MS = 15_000;

export type Probe = { ok: true; arn: string } | { ok: false; code: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One sts:GetCallerIdentity signed with `key`: accepted (with the caller's ARN) or refused. */
export async function callerIdentity(ctx: Ctx, key: AccessKeyPair): Promise<Probe> {
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  const sts = await stsClient(ctx, key);
  try {
    const answer = await sts.send(new GetCallerIdentityCommand({}));
    return { ok: true, arn: answer.Arn ?? '' };
  } catch (error) {
    if (REFUSED.has(awsCode(error))) return { ok: false, code: awsCode(error) };
    throw awsError(ctx, 'sts:GetCallerIdentity', error, 'the key under test');
  } finally {
    sts.destroy();
  }
}

/** Retries `probe` until `done` says so or the attempts run out; returns the last answer. */
export async function retryProbe<T>(
  ctx: Ctx,
  probe: () => Promise<T>,
  done: (answer: T) => boolean,
): Promise<{ answer: T; attempts: number }> {
  const { attempts, delayMs } = ctx.config.verify;
  let answer = await probe();
  let n = 1;
  for (
    let delay = delayMs;
    !done(answer) && n < attempts;
    n++, delay = Math.min(delay * 2, MAX_DELAY_MS)
  ) {
    await sleep(delay);
    answer = await probe();
  }
  return { answer, attempts: n };
}

/** The ARN must name the configured user: a key of another principal is not this secret. */
function isUser(ctx: Ctx, arn: string): boolean {
  return new RegExp(
    `^arn:aws[\\w-]*:iam::\\d{12}:user/(?:[\\w+=,.@/-]*/)?${ctx.config.userName.replace(/[.+]/g, '\\$&')}$`,
  ).test(arn);
}

/** Proves a new key works: STS (retried while IAM propagates it), then S3 HeadBucket if configured. */
export async function proveWorks(ctx: Ctx, key: AccessKeyPair): Promise<void> {
  const where = `${ctx.secret}/${ctx.environment}`;
  const { answer, attempts } = await retryProbe(
    ctx,
    () => callerIdentity(ctx, key),
    (p) => p.ok,
  );
  if (!answer.ok) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${where}: AWS STS still refused the new access key ${key.accessKeyId} after ${attempts} attempt(s) (${answer.code}); it was not promoted`,
      {
        details: {
          secret: ctx.secret,
          environment: ctx.environment,
          accessKeyId: key.accessKeyId,
          awsCode: answer.code,
        },
      },
    );
  }
  if (!isUser(ctx, answer.arn)) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${where}: the new access key ${key.accessKeyId} belongs to ${answer.arn}, not to IAM user "${ctx.config.userName}"; it was not promoted`,
    );
  }
  if (ctx.config.s3) await headBucket(ctx, key, ctx.config.s3.bucket);
}

async function headBucket(ctx: Ctx, key: AccessKeyPair, bucket: string): Promise<void> {
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  const s3 = await s3Client(ctx, key);
  try {
    const probe = async (): Promise<number> => {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return 200;
      } catch (error) {
        const status = awsStatus(error);
        if (status === undefined) throw awsError(ctx, 's3:HeadBucket', error, 'the new key');
        return status;
      }
    };
    // 403 is also what S3 answers while a new key propagates; 404 is final.
    const { answer, attempts } = await retryProbe(ctx, probe, (s) => s !== 403);
    if (answer !== 200) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: S3 HeadBucket on "${bucket}" with the new access key ${key.accessKeyId} answered HTTP ${answer} after ${attempts} attempt(s) (${answer === 404 ? 'no such bucket' : 'the key may not read it: s3:ListBucket'}); it was not promoted`,
        {
          details: {
            secret: ctx.secret,
            environment: ctx.environment,
            bucket,
            status: answer,
          },
        },
      );
    }
  } finally {
    s3.destroy();
  }
}

/** One s3:ListObjectsV2 (MaxKeys 0) signed by `key`: accepted or refused with S3's error code. */
async function listBucket(ctx: Ctx, key: AccessKeyPair, bucket: string): Promise<Probe> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const s3 = await s3Client(ctx, key);
  try {
    await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 0 }));
    return { ok: true, arn: '' };
  } catch (error) {
    // A HEAD answer has no body, so no code: a GET tells a revoked key from a missing permission.
    if (REFUSED.has(awsCode(error))) return { ok: false, code: awsCode(error) };
    throw awsError(ctx, 's3:ListObjectsV2', error, 'the retired key');
  } finally {
    s3.destroy();
  }
}

/**
 * The proof of revocation: sts:GetCallerIdentity signed by the retired key and, when a bucket is
 * configured, an S3 request on it (the data path the app uses), each retried while the
 * deactivation propagates. A network failure throws (nothing is proven then).
 */
export async function proveRefused(
  ctx: Ctx,
  key: AccessKeyPair,
): Promise<{ refused: boolean; detail: string }> {
  const sts = await retryProbe(
    ctx,
    () => callerIdentity(ctx, key),
    (p) => !p.ok,
  );
  const call = `sts:GetCallerIdentity signed by access key ${key.accessKeyId}`;
  if (sts.answer.ok) {
    return {
      refused: false,
      detail: `${call} was still accepted after ${sts.attempts} attempt(s), although IAM lists the key as inactive`,
    };
  }
  const said = `${call} answered ${sts.answer.code}`;
  const bucket = ctx.config.s3?.bucket;
  if (bucket === undefined) return { refused: true, detail: said };
  const s3 = await retryProbe(
    ctx,
    () => listBucket(ctx, key, bucket),
    (p) => !p.ok,
  );
  const s3call = `s3:ListObjectsV2 on "${bucket}" signed by it`;
  return s3.answer.ok
    ? {
        refused: false,
        detail: `${said}, but ${s3call} was still accepted after ${s3.attempts} attempt(s)`,
      }
    : { refused: true, detail: `${said}; ${s3call} answered ${s3.answer.code}` };
}
