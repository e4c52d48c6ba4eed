// `aws-iam-access-key`: an IAM user's access key id and secret rotated as one value; stages and
// permissions: docs/providers.md.
import {
  defineRotator,
  type RotatorContext,
  type StoredMaterial,
} from '../core/rotator/rotator-contract.js';
import { formatAccessKey, keyIdOf, parseAccessKey } from './aws/access-key-value.js';
import { awsAccessKeyConfigSchema, type AwsAccessKeyConfig } from './aws/aws-config.js';
import {
  abandonKey,
  assertActive,
  createKey,
  deactivate,
  deleteExpired,
} from './aws/key-lifecycle.js';
import { proveRefused, proveWorks } from './aws/key-probe.js';
import { pairParts } from './provider/pair-parts.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;

function pairOf(ctx: Ctx, material: StoredMaterial) {
  return parseAccessKey(
    material.value,
    `${ctx.secret}/${ctx.environment} version ${material.versionId}`,
  );
}

export const awsIamAccessKeyRotator = defineRotator({
  kind: 'aws-iam-access-key',
  summary:
    'AWS IAM user access key (S3, SigV4): two-key overlap, verified with STS (and S3), deactivated then deleted',
  source: 'generated',
  configSchema: awsAccessKeyConfigSchema,
  statusNote:
    'the runbook prefers an IAM role with short-lived credentials (instance profile, task role, sts:AssumeRole) to a rotated long-term key; see docs/providers.md',
  async create(ctx) {
    const currentId = keyIdOf(await ctx.readSecret?.(ctx.secret));
    const { accessKeyId, secretAccessKey, deleted } = await createKey(ctx, currentId);
    return {
      value: formatAccessKey({ accessKeyId, secretAccessKey }),
      meta: {
        accessKeyId,
        userName: ctx.config.userName,
        ...(currentId ? { supersedes: currentId } : {}),
        ...(deleted.length ? { deletedLeftovers: deleted.join(',') } : {}),
      },
    };
  },
  async abandon(ctx) {
    return abandonKey(ctx, keyIdOf(await ctx.readSecret?.(ctx.secret)));
  },
  async apply(ctx, material) {
    await assertActive(ctx, pairOf(ctx, material).accessKeyId);
  },
  async verify(ctx, material) {
    await proveWorks(ctx, pairOf(ctx, material));
  },
  async retire(ctx, old) {
    const { accessKeyId } = pairOf(ctx, old);
    await deactivate(ctx, accessKeyId, old.versionId);
    await deleteExpired(ctx, accessKeyId);
  },
  prove: (ctx, old) => proveRefused(ctx, pairOf(ctx, old)),
  async emergencyActions(ctx) {
    return [
      `the previous access key of IAM user ${ctx.config.userName} was deactivated at once and STS refuses it; it is deleted after ${ctx.config.deleteAfter}`,
    ];
  },
  deliveredParts(config, value) {
    return pairParts(config.variables, ['accessKeyId', 'secretAccessKey'], () =>
      parseAccessKey(value, 'value'),
    );
  },
  async validateImport(ctx, value) {
    const { accessKeyId } = parseAccessKey(value, ctx.secret);
    return {
      value,
      meta: { accessKeyId, userName: ctx.config.userName, imported: true },
    };
  },
});
