// The IAM side of an access key's life, shared by `aws-iam-access-key` and the `smtp` kind's SES
// adapter (whose SMTP credential derives from an IAM key): make one under the two-keys limit,
// check it is active, deactivate it at retire, and delete this secret's keys inactive too long.
import { parseDuration } from '../../core/duration.js';
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import type { AccessKeyPair } from './access-key-value.js';
import type { AwsAccessKeyConfig } from './aws-config.js';
import { adminCredentials, call, iamClient } from './aws-clients.js';
import { deleteKey, inventory, makeRoom, ownerOf, setStatus, setTag } from './key-inventory.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;
type Iam = Awaited<ReturnType<typeof iamClient>>;

async function withAdmin<T>(ctx: Ctx, fn: (iam: Iam) => Promise<T>): Promise<T> {
  const iam = await iamClient(ctx, await adminCredentials(ctx));
  try {
    return await fn(iam);
  } finally {
    iam.destroy();
  }
}

/** Makes room, creates and tags a key for this version; `currentId` is the key it supersedes. */
export function createKey(
  ctx: Ctx,
  currentId: string | undefined,
): Promise<AccessKeyPair & { deleted: string[] }> {
  return withAdmin(ctx, async (iam) => {
    const deleted = await makeRoom(ctx, iam, await inventory(ctx, iam, currentId));
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
    return { accessKeyId, secretAccessKey, deleted };
  });
}

/** The key made at create must still exist and be active (apply is a check, and idempotent). */
export function assertActive(ctx: Ctx, accessKeyId: string): Promise<void> {
  return withAdmin(ctx, async (iam) => {
    const key = (await inventory(ctx, iam, undefined)).find((k) => k.id === accessKeyId);
    if (key?.status !== 'Active') {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: the new access key ${accessKeyId} is ${key ? 'inactive' : 'gone'} in IAM; it was not promoted`,
      );
    }
  });
}

/** UpdateAccessKey Inactive (re-activating is the undo) and the tag records since when. */
export function deactivate(ctx: Ctx, accessKeyId: string, versionId: string): Promise<void> {
  return withAdmin(ctx, async (iam) => {
    if ((await setStatus(ctx, iam, accessKeyId, 'Inactive')) === 'done') {
      await setTag(ctx, iam, accessKeyId, {
        owner: ownerOf(ctx),
        versionId,
        inactiveSince: ctx.clock.now(),
      });
    }
  });
}

/** Deletes this secret's keys inactive for longer than `deleteAfter` (never `keep`). */
export function deleteExpired(ctx: Ctx, keep: string): Promise<string[]> {
  return withAdmin(ctx, async (iam) => {
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
  });
}

/**
 * Deletes the key an interrupted rotation made for `ctx.versionId` (never stored, so nobody holds
 * it): only keys tagged for this secret and this very version, and never the current key. A key
 * whose tag was never written (killed between CreateAccessKey and TagUser) cannot be told from a
 * person's key and stays; the next rotation's two-keys check names it.
 */
export function abandonKey(ctx: Ctx, currentId: string | undefined): Promise<string[]> {
  return withAdmin(ctx, async (iam) => {
    const made = (await inventory(ctx, iam, undefined)).filter(
      (k) =>
        k.id !== currentId && k.tag?.owner === ownerOf(ctx) && k.tag.versionId === ctx.versionId,
    );
    for (const k of made) await deleteKey(ctx, iam, k.id);
    return made.map(
      (k) =>
        `deleted IAM access key ${k.id} of user ${ctx.config.userName}, tagged for version ${ctx.versionId}, which create had made`,
    );
  });
}
