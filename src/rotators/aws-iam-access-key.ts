// `aws-iam-access-key`: an IAM user's long-term access key (S3 and anything else signed with
// SigV4). The value holds the key id and the secret together (see aws/access-key-value.ts), so
// the pair never rotates one half without the other; `config.variables` delivers the halves as
// the variables an app expects (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY).
// - create: makes room under IAM's two-keys limit (only Rotor's own leftovers), CreateAccessKey,
//   tags the key with its owner and version (aws/key-inventory.ts).
// - verify: sts:GetCallerIdentity signed by the new key, retried while IAM propagates it; S3
//   HeadBucket when configured.
// - retire: UpdateAccessKey Inactive (re-activating is the undo), proof that STS refuses the key,
//   and DeleteAccessKey of this secret's keys inactive for longer than `deleteAfter`.
// The runbook prefers an IAM role with short-lived credentials: see docs/providers.md.
import { parseDuration } from '../core/duration.js';
import { RotorError } from '../core/errors.js';
import {
  defineRotator,
  type RotatorContext,
  type StoredMaterial,
} from '../core/rotation/rotator-contract.js';
import { formatAccessKey, keyIdOf, parseAccessKey } from './aws/access-key-value.js';
import { awsAccessKeyConfigSchema, type AwsAccessKeyConfig } from './aws/aws-config.js';
import { adminCredentials, call, iamClient } from './aws/aws-clients.js';
import { deleteKey, inventory, makeRoom, ownerOf, setStatus, setTag } from './aws/key-inventory.js';
import { proveRefused, proveWorks } from './aws/key-probe.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;

async function adminIam(ctx: Ctx) {
  return iamClient(ctx, await adminCredentials(ctx));
}

function pairOf(ctx: Ctx, material: StoredMaterial) {
  return parseAccessKey(
    material.value,
    `${ctx.secret}/${ctx.environment} version ${material.versionId}`,
  );
}

/** Deletes this secret's keys that have been inactive longer than `deleteAfter` (not `keep`). */
async function deleteExpired(
  ctx: Ctx,
  iam: Awaited<ReturnType<typeof iamClient>>,
  keep: string,
): Promise<string[]> {
  const cutoff = ctx.clock.now() - parseDuration(ctx.config.deleteAfter);
  const keys = await inventory(ctx, iam, undefined);
  const expired = keys.filter(
    (k) =>
      k.id !== keep &&
      k.status === 'Inactive' &&
      k.tag?.owner === ownerOf(ctx) &&
      (k.tag.inactiveSince ?? 0) <= cutoff,
  );
  for (const k of expired) await deleteKey(ctx, iam, k.id);
  return expired.map((k) => k.id);
}

export const awsIamAccessKeyRotator = defineRotator({
  kind: 'aws-iam-access-key',
  summary:
    'AWS IAM user access key (S3, SigV4): two-key overlap, verified with STS (and S3), deactivated then deleted',
  source: 'generated',
  configSchema: awsAccessKeyConfigSchema,
  async create(ctx) {
    const iam = await adminIam(ctx);
    try {
      const currentId = keyIdOf(await ctx.readSecret?.(ctx.secret));
      const keys = await inventory(ctx, iam, currentId);
      const deleted = await makeRoom(ctx, iam, keys);
      const { CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
      const made = await call(ctx, 'iam:CreateAccessKey', () =>
        iam.send(new CreateAccessKeyCommand({ UserName: ctx.config.userName })),
      );
      const accessKeyId = made.AccessKey?.AccessKeyId ?? '';
      const secretAccessKey = made.AccessKey?.SecretAccessKey ?? '';
      try {
        await setTag(ctx, iam, accessKeyId, {
          owner: ownerOf(ctx),
          versionId: ctx.versionId,
          ...(currentId ? { after: currentId } : {}),
        });
      } catch (error) {
        // An untagged key would look like a person's key to the next rotation: take it back.
        await deleteKey(ctx, iam, accessKeyId).catch(() => {});
        throw error;
      }
      const value = formatAccessKey({ accessKeyId, secretAccessKey });
      return {
        value,
        meta: {
          accessKeyId,
          userName: ctx.config.userName,
          ...(currentId ? { supersedes: currentId } : {}),
          ...(deleted.length ? { deletedLeftovers: deleted.join(',') } : {}),
        },
      };
    } finally {
      iam.destroy();
    }
  },
  async apply(ctx, material) {
    // The key exists from create on; apply checks it is still there and active (idempotent).
    const { accessKeyId } = pairOf(ctx, material);
    const iam = await adminIam(ctx);
    try {
      const key = (await inventory(ctx, iam, undefined)).find((k) => k.id === accessKeyId);
      if (key?.status !== 'Active') {
        throw new RotorError(
          'ERR_ROTOR_VERIFY_FAILED',
          `${ctx.secret}/${ctx.environment}: the new access key ${accessKeyId} is ${key ? 'inactive' : 'gone'} in IAM; it was not promoted`,
        );
      }
    } finally {
      iam.destroy();
    }
  },
  async verify(ctx, material) {
    await proveWorks(ctx, pairOf(ctx, material));
  },
  async retire(ctx, old) {
    const pair = pairOf(ctx, old);
    const iam = await adminIam(ctx);
    try {
      if ((await setStatus(ctx, iam, pair.accessKeyId, 'Inactive')) === 'done') {
        await setTag(ctx, iam, pair.accessKeyId, {
          owner: ownerOf(ctx),
          versionId: old.versionId,
          inactiveSince: ctx.clock.now(),
        });
      }
      await proveRefused(ctx, pair);
      await deleteExpired(ctx, iam, pair.accessKeyId);
    } finally {
      iam.destroy();
    }
  },
  async emergencyActions(ctx) {
    return [
      `the previous access key of IAM user ${ctx.config.userName} was deactivated at once and STS refuses it; it is deleted after ${ctx.config.deleteAfter}`,
    ];
  },
  deliveredParts(config, value) {
    const names = config.variables;
    if (!names) return [];
    try {
      const pair = parseAccessKey(value, 'value');
      return [
        { variable: names.accessKeyId, value: pair.accessKeyId },
        { variable: names.secretAccessKey, value: pair.secretAccessKey },
      ];
    } catch {
      return [];
    }
  },
  async validateImport(ctx, value) {
    const { accessKeyId } = parseAccessKey(value, ctx.secret);
    return {
      value,
      meta: { accessKeyId, userName: ctx.config.userName, imported: true },
    };
  },
});
