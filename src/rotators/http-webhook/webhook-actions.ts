// The calls of the `http` contract (docs/providers.md): create, verify, revoke, abandon, each a
// signed POST with idempotency key `<action>:<version>`.
import { RotorError } from '../../core/errors.js';
import type {
  Material,
  RotatorContext,
  StoredMaterial,
} from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import { signedPost, type SignedAnswer } from '../provider/signed-webhook-request.js';
import type { WebhookConfig } from './webhook-config.js';

type Ctx = RotatorContext<WebhookConfig>;
type Action = 'create' | 'verify' | 'revoke' | 'abandon';

const where = (ctx: Ctx) => `${ctx.secret}/${ctx.environment}`;
export const keyName = (ctx: Ctx, versionId: string) =>
  `rotor ${ctx.secret}/${ctx.environment} ${versionId}`;

interface CallInput {
  versionId: string;
  /** Body fields beyond the ones every call carries. */
  extra: Record<string, unknown>;
  /** Values the call carries, masked in any error text. */
  values: string[];
  /** Statuses besides 2xx that are answers, not failures (404 for revoke and abandon). */
  accept?: number[];
}

async function call(
  ctx: Ctx,
  action: Action,
  { versionId, extra, values, accept }: CallInput,
): Promise<SignedAnswer> {
  const key = await readCredential(
    ctx,
    ctx.config.key,
    `${ctx.config.provider} endpoint signing key`,
    'the HMAC key the endpoint checks signatures with',
  );
  return signedPost({
    provider: `${ctx.config.provider} endpoint`,
    operation: action,
    url: ctx.config.url,
    key,
    body: {
      action,
      secret: ctx.secret,
      environment: ctx.environment,
      version: versionId,
      name: keyName(ctx, versionId),
      ...extra,
    },
    idempotencyKey: `${action}:${versionId}`,
    timeoutMs: ctx.config.timeoutMs,
    attempts: ctx.config.attempts,
    where: where(ctx),
    values: [key, ...values],
    ...(accept ? { accept } : {}),
  });
}

/** Non-secret metadata the endpoint returned: short scalars only, under an `endpoint.` prefix. */
function endpointMeta(meta: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (!meta || typeof meta !== 'object') return out;
  for (const [k, v] of Object.entries(meta).slice(0, 10)) {
    if (
      /^[\w.-]{1,40}$/.test(k) &&
      (typeof v === 'number' ||
        typeof v === 'boolean' ||
        (typeof v === 'string' && v.length <= 100))
    )
      out[`endpoint.${k}`] = v;
  }
  return out;
}

export async function createCredential(ctx: Ctx): Promise<Material> {
  const answer = await call(ctx, 'create', { versionId: ctx.versionId, extra: {}, values: [] });
  const body = answer.body as { id?: unknown; value?: unknown; meta?: unknown } | undefined;
  if (
    typeof body?.id !== 'string' ||
    !body.id ||
    body.id.length > 200 ||
    typeof body.value !== 'string' ||
    !body.value
  ) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: ${ctx.config.provider} endpoint create answered HTTP ${answer.status} without {"id","value"}; nothing was stored`,
      {
        details: { provider: ctx.config.provider, operation: 'create', status: answer.status },
      },
    );
  }
  // Metadata is stored in clear: anything holding the value is dropped.
  const meta = Object.fromEntries(
    Object.entries(endpointMeta(body.meta)).filter(
      ([, v]) => typeof v !== 'string' || !v.includes(body.value as string),
    ),
  );
  return {
    value: body.value,
    meta: { ...meta, provider: ctx.config.provider, credentialId: body.id },
  };
}

const idOf = (m: StoredMaterial) =>
  typeof m.meta.credentialId === 'string' ? m.meta.credentialId : undefined;

/** Whether the endpoint says the provider accepts `m` now. */
export async function isValid(
  ctx: Ctx,
  m: StoredMaterial,
  purpose: 'verify' | 'prove',
): Promise<{ valid: boolean; reason: string }> {
  const answer = await call(ctx, 'verify', {
    versionId: m.versionId,
    extra: { id: idOf(m) ?? null, value: m.value, purpose },
    values: [m.value],
  });
  const body = answer.body as { valid?: unknown } | undefined;
  if (typeof body?.valid !== 'boolean') {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: ${ctx.config.provider} endpoint verify answered HTTP ${answer.status} without {"valid": true|false}`,
      {
        details: { provider: ctx.config.provider, operation: 'verify', status: answer.status },
      },
    );
  }
  return { valid: body.valid, reason: answer.said };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks verify until the answer is `want` or the propagation attempts run out. */
export async function validUntil(
  ctx: Ctx,
  m: StoredMaterial,
  want: boolean,
  purpose: 'verify' | 'prove',
): Promise<{ valid: boolean; reason: string; attempts: number }> {
  const { attempts, delayMs } = ctx.config.propagation;
  let last = { valid: !want, reason: '' };
  for (let i = 1; i <= attempts; i++) {
    last = await isValid(ctx, m, purpose);
    if (last.valid === want) return { ...last, attempts: i };
    if (i < attempts) await sleep(delayMs);
  }
  return { ...last, attempts };
}

export async function revokeCredential(ctx: Ctx, old: StoredMaterial): Promise<void> {
  // 404: the endpoint knows no such credential any more (revoked already): the same outcome.
  // An imported credential has no id from a create answer: the endpoint gets the value to find it.
  const id = idOf(old);
  await call(ctx, 'revoke', {
    versionId: old.versionId,
    extra: { id: id ?? null, ...(id ? {} : { value: old.value }), emergency: ctx.emergency },
    values: [old.value],
    accept: [404],
  });
}

/**
 * A rotation rolled back before its version was stored (killed inside create): asks the endpoint
 * to revoke whatever it made named `rotor SECRET/environment VERSION` for ctx.versionId. The
 * endpoint owns the provider's key list, so only it can find the key; 404 means it made none.
 */
export async function abandonCredential(ctx: Ctx): Promise<string[]> {
  const answer = await call(ctx, 'abandon', {
    versionId: ctx.versionId,
    extra: { id: null },
    values: [],
    accept: [404],
  });
  if (answer.status === 404) return [];
  const revoked = (answer.body as { revoked?: unknown } | undefined)?.revoked;
  const ids = Array.isArray(revoked)
    ? revoked.filter((id): id is string => typeof id === 'string' && /^[\w.:-]{1,200}$/.test(id))
    : [];
  return [
    `the ${ctx.config.provider} endpoint revoked ${ids.length ? ids.join(', ') : 'the credential'} named ${keyName(ctx, ctx.versionId)}, which create had made`,
  ];
}
