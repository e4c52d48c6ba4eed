// SendGrid: each version is an API key (SMTP user `apikey`, password the key) made with the old
// key's scopes by POST /v3/api_keys and deleted by id at retire. A key reads `SG.<id>.<secret>`,
// so the id of the key in use is known from the stored value. Keys Rotor makes are named
// `rotor SECRET/env VERSION after OLD_ID`, so a key an interrupted rotation left is found again.
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { readCredential } from '../provider/credential-ref.js';
import { providerRequest, type ProviderRequest } from '../provider/provider-http.js';
import type { SmtpAdapter } from './smtp-adapter.js';
import type { SendgridConfig } from './smtp-config.js';
import { formatSmtpValue, parseSmtpValue } from './smtp-login.js';

type Ctx = RotatorContext<SendgridConfig>;

interface ApiKey {
  api_key_id: string;
  name: string;
  scopes?: string[];
  api_key?: string;
}

function idOf(key: string | undefined): string | undefined {
  return /^SG\.([\w-]+)\.[\w-]+$/.exec(key ?? '')?.[1];
}

const owner = (ctx: Ctx) => `rotor ${ctx.secret}/${ctx.environment} `;

async function api(
  ctx: Ctx,
  method: ProviderRequest['method'],
  path: string,
  extra: Partial<ProviderRequest> = {},
) {
  const admin = await readCredential(
    ctx,
    ctx.config.admin,
    'SendGrid admin API key',
    'an API key with the api_keys scopes',
  );
  return providerRequest({
    provider: 'SendGrid',
    operation: `${method} ${path.split('?')[0]!.replace(/\/[\w-]{16,}$/, '/{id}')}`,
    url: new URL(path, ctx.config.apiBase).toString(),
    method,
    authorization: `Bearer ${admin}`,
    timeoutMs: ctx.config.timeoutMs,
    attempts: ctx.config.attempts,
    where: `${ctx.secret}/${ctx.environment}`,
    ...extra,
  });
}

/**
 * Deletes keys an interrupted rotation made: named as successors of the current key but never
 * stored (so nobody holds them). Without a current key nothing is deleted: a name alone could
 * be another Rotor project's.
 */
async function deleteInterrupted(ctx: Ctx, currentId: string | undefined): Promise<void> {
  if (!currentId) return;
  const list = (await api(ctx, 'GET', '/v3/api_keys?limit=500')).body as { result?: ApiKey[] };
  for (const k of list.result ?? []) {
    if (
      k.api_key_id === currentId ||
      !k.name.startsWith(owner(ctx)) ||
      !k.name.endsWith(` after ${currentId}`)
    )
      continue;
    await api(ctx, 'DELETE', `/v3/api_keys/${k.api_key_id}`, { accept: [404] });
  }
}

async function currentKeyId(ctx: Ctx): Promise<string | undefined> {
  const current = await ctx.readSecret?.(ctx.secret);
  return current
    ? idOf(parseSmtpValue(current, `${ctx.secret}/${ctx.environment} current value`).password)
    : undefined;
}

export const sendgridAdapter: SmtpAdapter<SendgridConfig> = {
  async abandon(ctx) {
    // The name holds the full version id, so a match is this rotation's key and no other's.
    const currentId = await currentKeyId(ctx);
    const mine = `${owner(ctx)}${ctx.versionId}`;
    const list = (await api(ctx, 'GET', '/v3/api_keys?limit=500')).body as { result?: ApiKey[] };
    const made = (list.result ?? []).filter(
      (k) => k.api_key_id !== currentId && (k.name === mine || k.name.startsWith(`${mine} `)),
    );
    for (const k of made)
      await api(ctx, 'DELETE', `/v3/api_keys/${k.api_key_id}`, { accept: [404] });
    return made.map(
      (k) =>
        `deleted SendGrid API key ${k.api_key_id} named for version ${ctx.versionId}, which create had made`,
    );
  },
  async create(ctx) {
    const currentId = await currentKeyId(ctx);
    let scopes = ctx.config.scopes;
    if (currentId) {
      const old = (await api(ctx, 'GET', `/v3/api_keys/${currentId}`)).body as ApiKey;
      scopes = old.scopes?.length ? old.scopes : scopes;
    }
    await deleteInterrupted(ctx, currentId);
    const name = `${owner(ctx)}${ctx.versionId}${currentId ? ` after ${currentId}` : ''}`;
    const made = (await api(ctx, 'POST', '/v3/api_keys', { json: { name, scopes } }))
      .body as ApiKey;
    if (!made?.api_key || !made.api_key_id) {
      throw new RotorError(
        'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
        `${ctx.secret}/${ctx.environment}: SendGrid POST /v3/api_keys answered without a key`,
      );
    }
    return {
      value: formatSmtpValue({ username: 'apikey', password: made.api_key }),
      meta: { adapter: 'sendgrid', keyId: made.api_key_id, scopes: scopes.join(' ') },
    };
  },
  async apply(ctx, material) {
    // The key exists from create on; apply checks it still does (idempotent).
    await api(ctx, 'GET', `/v3/api_keys/${String(material.meta.keyId)}`);
  },
  async revoke(ctx, old) {
    const id =
      typeof old.meta.keyId === 'string'
        ? old.meta.keyId
        : idOf(parseSmtpValue(old.value, ctx.secret).password);
    if (!id)
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}/${ctx.environment}: version ${old.versionId} holds no SendGrid key id`,
      );
    await api(ctx, 'DELETE', `/v3/api_keys/${id}`, { accept: [404] });
  },
  emergencyNote() {
    return 'the previous SendGrid API key was deleted at once';
  },
};
