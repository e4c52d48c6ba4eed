// Twilio Standard API keys; keys Rotor makes carry its owner and predecessor in their name, so
// leftovers are found and the key in grace is never touched (docs/providers.md).
import { createHash } from 'node:crypto';
import { RotorError } from '../../core/errors.js';
import type {
  Material,
  RotatorContext,
  StoredMaterial,
} from '../../core/rotator/rotator-contract.js';
import {
  acceptsUntil,
  accountOf,
  adminLogin,
  twilioRequest,
  where,
  type TwilioLogin,
} from './twilio-api.js';
import { readKeyPair } from '../provider/key-pair.js';
import type { ApiKeyConfig } from './twilio-config.js';

type Ctx = RotatorContext<ApiKeyConfig>;

export interface ApiKeyValue {
  sid: string;
  secret: string;
}

const KEY_SID = /^SK[0-9a-f]{32}$/;
const KEYS = '/2010-04-01/Accounts/{AccountSid}/Keys';

export function formatApiKey(key: ApiKeyValue): string {
  return JSON.stringify({ sid: key.sid, secret: key.secret });
}

/** A stored or imported key: {"sid","secret"} or SK…:SECRET. The error never quotes the value. */
export function parseApiKey(value: string, what: string): ApiKeyValue {
  const key = readKeyPair(value, { id: 'sid', secret: 'secret', idPattern: KEY_SID });
  if (!key) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${what}: expected {"sid":"SK…","secret":"…"} (or SK…:SECRET) with an SK key SID`,
    );
  }
  return { sid: key.id, secret: key.secret };
}

function sidOf(value: string | undefined): string | undefined {
  try {
    return value ? parseApiKey(value, 'value').sid : undefined;
  } catch {
    return undefined;
  }
}

/** A short, stable tag for this secret and environment (friendly names hold at most 64 characters). */
const owner = (ctx: Ctx) =>
  createHash('sha256').update(`${ctx.secret}/${ctx.environment}`).digest('hex').slice(0, 10);

/**
 * `rotor <owner> after <SK replaced|none> v<version tag> <secret>`, cut at Twilio's 64
 * characters: the version tag (base64url of SHA-256 of the version id, 5 characters after an SK
 * SID, 12 otherwise) lets `abandon` find the key a rotation made for its version.
 */
function nameFor(ctx: Ctx, replaces: string | undefined): string {
  const base = `rotor ${owner(ctx)} after ${replaces ?? 'none'} v`;
  const tag = createHash('sha256').update(ctx.versionId).digest('base64url');
  return `${base}${tag.slice(0, Math.min(12, 64 - base.length))} ${ctx.secret}`.slice(0, 64);
}

interface ListedKey {
  sid: string;
  friendly_name?: string;
}

async function listKeys(ctx: Ctx, admin: TwilioLogin): Promise<ListedKey[]> {
  const body = (
    await twilioRequest(ctx, {
      login: admin,
      method: 'GET',
      path: `${KEYS}.json?PageSize=1000`,
      base: 'api',
    })
  ).body as { keys?: ListedKey[] };
  return body?.keys ?? [];
}

/** Deletes one key; one already gone (404) counts as deleted. */
async function deleteSid(ctx: Ctx, admin: TwilioLogin, sid: string): Promise<void> {
  await twilioRequest(ctx, {
    login: admin,
    method: 'DELETE',
    path: `${KEYS}/${sid}.json`,
    base: 'api',
    accept: [404],
  });
}

/** Deletes this secret's keys that are neither the current key nor the one it replaced. */
async function deleteLeftovers(
  ctx: Ctx,
  admin: TwilioLogin,
  currentSid: string | undefined,
): Promise<string[]> {
  const keys = await listKeys(ctx, admin);
  const current = keys.find((k) => k.sid === currentSid);
  const predecessor = / after (SK[0-9a-f]{32}) /.exec(current?.friendly_name ?? '')?.[1];
  const mine = `rotor ${owner(ctx)} after `;
  const leftovers = keys.filter(
    (k) => k.friendly_name?.startsWith(mine) && k.sid !== currentSid && k.sid !== predecessor,
  );
  for (const k of leftovers) await deleteSid(ctx, admin, k.sid);
  return leftovers.map((k) => k.sid);
}

/**
 * Deletes the key a rotation killed inside create made for ctx.versionId: the one named for this
 * secret, as the successor of the current key, with this version's tag. Never the current key.
 */
export async function abandonKey(ctx: Ctx): Promise<string[]> {
  accountOf(ctx);
  const admin = await adminLogin(ctx, ctx.config.admin);
  const currentSid = sidOf(await ctx.readSecret?.(ctx.secret));
  const name = nameFor(ctx, currentSid);
  const made = (await listKeys(ctx, admin)).filter(
    (k) => k.friendly_name === name && k.sid !== currentSid,
  );
  for (const k of made) await deleteSid(ctx, admin, k.sid);
  return made.map(
    (k) =>
      `deleted Twilio API key ${k.sid} named for version ${ctx.versionId}, which create had made`,
  );
}

export async function createKey(ctx: Ctx): Promise<Material> {
  accountOf(ctx); // a config without this environment's account fails before anything else
  const admin = await adminLogin(ctx, ctx.config.admin);
  const currentSid = sidOf(await ctx.readSecret?.(ctx.secret));
  const deleted = await deleteLeftovers(ctx, admin, currentSid);
  const body = (
    await twilioRequest(ctx, {
      login: admin,
      method: 'POST',
      path: `${KEYS}.json`,
      base: 'api',
      form: { FriendlyName: nameFor(ctx, currentSid) },
    })
  ).body as {
    sid?: unknown;
    secret?: unknown;
  };
  if (
    typeof body?.sid !== 'string' ||
    !KEY_SID.test(body.sid) ||
    typeof body.secret !== 'string' ||
    !body.secret
  ) {
    throw new RotorError(
      'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
      `${where(ctx)}: Twilio POST ${KEYS}.json answered without a key SID and secret`,
    );
  }
  return {
    value: formatApiKey({ sid: body.sid, secret: body.secret }),
    meta: {
      keySid: body.sid,
      accountSid: accountOf(ctx),
      ...(currentSid ? { supersedes: currentSid } : {}),
      ...(deleted.length ? { deletedLeftovers: deleted.join(',') } : {}),
    },
  };
}

/** The key made at create must still exist (apply is a check, and idempotent). */
export async function assertKeyExists(ctx: Ctx, material: StoredMaterial): Promise<void> {
  const { sid } = parseApiKey(material.value, `${where(ctx)} version ${material.versionId}`);
  const admin = await adminLogin(ctx, ctx.config.admin);
  const answer = await twilioRequest(ctx, {
    login: admin,
    method: 'GET',
    path: `${KEYS}/${sid}.json`,
    base: 'api',
    accept: [404],
  });
  if (answer.status === 404) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${where(ctx)}: the new Twilio API key ${sid} is gone; it was not promoted`,
    );
  }
}

const keyLogin = (key: ApiKeyValue): TwilioLogin => ({ username: key.sid, password: key.secret });

export async function verifyKey(ctx: Ctx, material: StoredMaterial): Promise<void> {
  const key = parseApiKey(material.value, `${where(ctx)} version ${material.versionId}`);
  const answer = await acceptsUntil(ctx, keyLogin(key), ctx.config.verifyPath, true);
  if (!answer.accepted) {
    throw new RotorError(
      'ERR_ROTOR_VERIFY_FAILED',
      `${where(ctx)}: Twilio refused the new API key ${key.sid} on GET ${ctx.config.verifyPath.split('?')[0]} (HTTP ${answer.status}) after ${answer.attempts} attempt(s); it was not promoted`,
      { details: { provider: 'Twilio', status: answer.status, attempts: answer.attempts } },
    );
  }
}

export async function deleteKey(ctx: Ctx, old: StoredMaterial): Promise<void> {
  const { sid } = parseApiKey(old.value, `${where(ctx)} version ${old.versionId}`);
  await deleteSid(ctx, await adminLogin(ctx, ctx.config.admin), sid);
}

export async function proveKey(
  ctx: Ctx,
  old: StoredMaterial,
): Promise<{ refused: boolean; detail: string }> {
  const key = parseApiKey(old.value, `${where(ctx)} version ${old.versionId}`);
  const answer = await acceptsUntil(ctx, keyLogin(key), ctx.config.verifyPath, false);
  return {
    refused: !answer.accepted,
    detail: `Twilio answered HTTP ${answer.status} to GET ${ctx.config.verifyPath.split('?')[0]} with the retired API key ${key.sid}`,
  };
}
