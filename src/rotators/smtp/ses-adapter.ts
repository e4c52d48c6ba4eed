// SES: the SMTP credential is an IAM access key of the SMTP user (user name = key id, password =
// the region's derived password, see ses-password.ts), so rotating it is IAM key rotation.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import type { AwsAccessKeyConfig } from '../aws/aws-config.js';
import {
  abandonKey,
  assertActive,
  createKey,
  deactivate,
  deleteExpired,
} from '../aws/key-lifecycle.js';
import type { SmtpAdapter } from './smtp-adapter.js';
import type { SesConfig } from './smtp-config.js';
import { sesSmtpPassword } from './ses-password.js';
import { formatSmtpValue, parseSmtpValue } from './smtp-login.js';

type Ctx = RotatorContext<SesConfig>;

/** The IAM view of this secret: the aws-iam-access-key config it embeds. */
function iamCtx(ctx: Ctx): RotatorContext<AwsAccessKeyConfig> {
  return { ...ctx, config: { ...ctx.config.iam, verify: ctx.config.propagation } };
}

/** The IAM key id of a version: its metadata, or (an imported value) its SMTP user name. */
function keyIdOf(ctx: Ctx, material: { value: string; meta: Record<string, unknown> }): string {
  const id =
    material.meta.accessKeyId ??
    parseSmtpValue(material.value, `${ctx.secret}/${ctx.environment}`).username;
  if (typeof id !== 'string' || !/^AKIA[A-Z2-7]{12,}$/.test(id)) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${ctx.secret}/${ctx.environment}: an SES SMTP user name is the IAM access key id (AKIA…)`,
    );
  }
  return id;
}

export const sesAdapter: SmtpAdapter<SesConfig> = {
  async create(ctx) {
    const current = await ctx.readSecret?.(ctx.secret);
    let currentId: string | undefined;
    try {
      currentId = current ? (JSON.parse(current) as { username?: string }).username : undefined;
    } catch {
      currentId = undefined;
    }
    const key = await createKey(iamCtx(ctx), currentId);
    // Only the derived password is kept: the IAM secret itself is never stored.
    const password = sesSmtpPassword(key.secretAccessKey, ctx.config.iam.region);
    return {
      value: formatSmtpValue({ username: key.accessKeyId, password }),
      meta: {
        adapter: 'ses',
        accessKeyId: key.accessKeyId,
        region: ctx.config.iam.region,
        userName: ctx.config.iam.userName,
        ...(currentId ? { supersedes: currentId } : {}),
      },
    };
  },
  async abandon(ctx) {
    // Only keys tagged for this version are deleted; the current key id is a second guard.
    const current = await ctx.readSecret?.(ctx.secret);
    let currentId: string | undefined;
    try {
      currentId = current ? keyIdOf(ctx, { value: current, meta: {} }) : undefined;
    } catch {
      currentId = undefined;
    }
    return abandonKey(iamCtx(ctx), currentId);
  },
  async apply(ctx, material) {
    await assertActive(iamCtx(ctx), keyIdOf(ctx, material));
  },
  async revoke(ctx, old) {
    await deactivate(iamCtx(ctx), keyIdOf(ctx, old), old.versionId);
  },
  async afterRevoke(ctx, old) {
    await deleteExpired(iamCtx(ctx), keyIdOf(ctx, old));
  },
  emergencyNote(ctx) {
    return `the previous SES SMTP key of IAM user ${ctx.config.iam.userName} was deactivated at once`;
  },
};
