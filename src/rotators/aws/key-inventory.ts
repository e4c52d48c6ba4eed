// Which access keys of the IAM user Rotor may touch: its own, recognised by the user tag it writes
// on each key (docs/providers.md); a person's keys are never touched.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import type { AwsAccessKeyConfig } from './aws-config.js';
import { awsError, call } from './aws-clients.js';

type Ctx = RotatorContext<AwsAccessKeyConfig>;
type Iam = Awaited<ReturnType<typeof import('./aws-clients.js').iamClient>>;

export interface RotorTag {
  owner: string;
  versionId: string;
  after?: string;
  inactiveSince?: number;
}

export type KeyRole = 'current' | 'previous' | 'leftover' | 'interrupted' | 'unknown';

export interface KeyInfo {
  id: string;
  status: 'Active' | 'Inactive';
  created?: Date;
  tag?: RotorTag;
  role: KeyRole;
}

/** NoSuchEntity (the SDK names it NoSuchEntityException): the key is already gone. */
function isGone(error: unknown): boolean {
  return /^NoSuchEntity/.test((error as { name?: string })?.name ?? '');
}

export function ownerOf(ctx: Pick<Ctx, 'secret' | 'environment'>): string {
  return `${ctx.secret}/${ctx.environment}`;
}

export function formatTag(tag: RotorTag): string {
  return [
    `rotor ${tag.owner} ${tag.versionId}`,
    tag.after ? `after ${tag.after}` : '',
    tag.inactiveSince ? `inactive-since ${new Date(tag.inactiveSince).toISOString()}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export function parseTag(value: string | undefined): RotorTag | undefined {
  const m = /^rotor (\S+) (\S+)(?: after (\S+))?(?: inactive-since (\S+))?$/.exec(value ?? '');
  if (!m) return undefined;
  const since = m[4] ? Date.parse(m[4]) : NaN;
  return {
    owner: m[1]!,
    versionId: m[2]!,
    ...(m[3] ? { after: m[3] } : {}),
    ...(Number.isFinite(since) ? { inactiveSince: since } : {}),
  };
}

/** The user's keys with their tags, classified against the current key id (if any). */
export async function inventory(
  ctx: Ctx,
  iam: Iam,
  currentId: string | undefined,
): Promise<KeyInfo[]> {
  const { ListAccessKeysCommand, ListUserTagsCommand } = await import('@aws-sdk/client-iam');
  const UserName = ctx.config.userName;
  const keys = await call(ctx, 'iam:ListAccessKeys', () =>
    iam.send(new ListAccessKeysCommand({ UserName })),
  );
  const tags = await call(ctx, 'iam:ListUserTags', () =>
    iam.send(new ListUserTagsCommand({ UserName })),
  );
  const tagOf = new Map((tags.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const previousId = currentId ? parseTag(tagOf.get(currentId))?.after : undefined;
  return (keys.AccessKeyMetadata ?? []).map((k) => {
    const id = k.AccessKeyId ?? '';
    const tag = parseTag(tagOf.get(id));
    const ours = tag?.owner === ownerOf(ctx);
    // A previous key already deactivated (retired) is a leftover like any other.
    const inactive = k.Status === 'Inactive';
    const role: KeyRole =
      id === currentId
        ? 'current'
        : id === previousId && !inactive
          ? 'previous'
          : !ours
            ? 'unknown'
            : inactive
              ? 'leftover'
              : // Active and ours: an interrupted rotation's only if made to succeed the current key.
                tag?.after === currentId
                ? 'interrupted'
                : 'unknown';
    return {
      id,
      status: k.Status === 'Inactive' ? 'Inactive' : 'Active',
      ...(k.CreateDate ? { created: k.CreateDate } : {}),
      ...(tag ? { tag } : {}),
      role,
    };
  });
}

export async function setTag(ctx: Ctx, iam: Iam, keyId: string, tag: RotorTag): Promise<void> {
  const { TagUserCommand } = await import('@aws-sdk/client-iam');
  await call(ctx, 'iam:TagUser', () =>
    iam.send(
      new TagUserCommand({
        UserName: ctx.config.userName,
        Tags: [{ Key: keyId, Value: formatTag(tag) }],
      }),
    ),
  );
}

/** Deletes a key and its tag; a key already gone is fine (idempotent). */
export async function deleteKey(ctx: Ctx, iam: Iam, keyId: string): Promise<void> {
  const { DeleteAccessKeyCommand, UntagUserCommand } = await import('@aws-sdk/client-iam');
  try {
    await iam.send(
      new DeleteAccessKeyCommand({
        UserName: ctx.config.userName,
        AccessKeyId: keyId,
      }),
    );
  } catch (error) {
    if (!isGone(error)) throw awsError(ctx, 'iam:DeleteAccessKey', error);
  }
  await call(ctx, 'iam:UntagUser', () =>
    iam.send(new UntagUserCommand({ UserName: ctx.config.userName, TagKeys: [keyId] })),
  );
}

export async function setStatus(
  ctx: Ctx,
  iam: Iam,
  keyId: string,
  Status: 'Active' | 'Inactive',
): Promise<'done' | 'gone'> {
  const { UpdateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  try {
    await iam.send(
      new UpdateAccessKeyCommand({
        UserName: ctx.config.userName,
        AccessKeyId: keyId,
        Status,
      }),
    );
    return 'done';
  } catch (error) {
    if (isGone(error)) return 'gone';
    throw awsError(ctx, 'iam:UpdateAccessKey', error);
  }
}

function describeKey(k: KeyInfo): string {
  const why: Record<KeyRole, string> = {
    current: 'the current version',
    previous: 'the previous version, still in its grace window',
    leftover: 'a deactivated Rotor key',
    interrupted: 'made by an interrupted rotation',
    unknown: k.tag ? `Rotor's key of ${k.tag.owner}` : 'not created by this secret in Rotor',
  };
  return `${k.id} (${k.status}, ${why[k.role]})`;
}

/**
 * Makes room for one new key under IAM's two-keys-per-user limit: deletes this secret's
 * deactivated leftovers and keys an interrupted rotation left (never stored, so never used);
 * in an emergency also the previous version's key. Refuses, naming both keys, when two remain.
 */
export async function makeRoom(ctx: Ctx, iam: Iam, keys: KeyInfo[]): Promise<string[]> {
  const removable = (k: KeyInfo) =>
    k.role === 'leftover' || k.role === 'interrupted' || (ctx.emergency && k.role === 'previous');
  const left = keys.filter((k) => !removable(k));
  if (left.length >= 2) {
    const hint = left.some((k) => k.role === 'previous')
      ? `retire the previous version first (rotor retire ${ctx.secret} --env ${ctx.environment} --now --reason …) or rotate with --emergency`
      : 'delete or deactivate the key that is not in use (aws iam delete-access-key), or import the one in use with rotor import';
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_KEY_LIMIT',
      `${ctx.secret}/${ctx.environment}: IAM user "${ctx.config.userName}" already has two access keys, ${left.map(describeKey).join(' and ')}, and may not have a third; nothing was changed: ${hint}`,
      {
        details: {
          secret: ctx.secret,
          environment: ctx.environment,
          userName: ctx.config.userName,
          keys: left.map((k) => k.id),
        },
      },
    );
  }
  // Only once it is certain the rotation can go on: a refusal changes nothing.
  const deleted: string[] = [];
  for (const k of keys.filter(removable)) {
    if (k.status === 'Active') await setStatus(ctx, iam, k.id, 'Inactive');
    await deleteKey(ctx, iam, k.id);
    deleted.push(k.id);
  }
  return deleted;
}
