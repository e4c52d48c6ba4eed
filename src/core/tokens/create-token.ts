// Creates an API token: stores its hash and grant, audits `token.create`, and returns the token
// text, which exists nowhere else afterwards.
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { generateToken } from './token-format.js';
import { validateGrant } from './token-grant.js';
import { tokenInfo, type ApiTokenInfo } from './token-record.js';

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface CreateTokenRequest {
  name: string;
  role: string;
  secrets?: readonly string[];
  environments?: readonly string[];
  /** Lifetime in milliseconds; absent means the token does not expire. */
  expiresInMs?: number;
}

/**
 * @example
 * const { token } = await createApiToken(store, clock, actor, { name: 'billing', role: 'app', secrets: ['JWT_*'], environments: ['production'] });
 */
export async function createApiToken(
  store: Store,
  clock: Clock,
  actor: Actor,
  request: CreateTokenRequest,
): Promise<{ token: string; info: ApiTokenInfo }> {
  if (!TOKEN_NAME.test(request.name)) {
    throw new RotorError(
      'ERR_ROTOR_API_TOKEN_SPEC_INVALID',
      `invalid token name "${request.name.slice(0, 80)}": 1-64 characters, letters, digits, . _ @ -`,
      { details: { field: 'name' } },
    );
  }
  if (
    request.expiresInMs !== undefined &&
    !(Number.isSafeInteger(request.expiresInMs) && request.expiresInMs > 0)
  ) {
    throw new RotorError(
      'ERR_ROTOR_API_TOKEN_SPEC_INVALID',
      'the token lifetime must be a positive duration (e.g. 90d)',
      { details: { field: 'expires' } },
    );
  }
  const grant = validateGrant(request);
  const { id, token, hash } = generateToken();
  const now = clock.now();
  const row = {
    id,
    name: request.name,
    role: grant.role,
    secrets: JSON.stringify(grant.secrets),
    environments: JSON.stringify(grant.environments),
    hash,
    created_by: actor.operator,
    created_at: now,
    expires_at: request.expiresInMs === undefined ? null : now + request.expiresInMs,
    revoked_at: null,
    revoked_reason: null,
    last_used_at: null,
  };
  await store.writeTransaction(async (trx) => {
    await trx.insertInto('api_tokens').values(row).execute();
    await appendAudit(trx, clock, actor, {
      action: 'token.create',
      outcome: 'success',
      notes: `API token ${id} "${request.name}" (${grant.role}${grant.role === 'app' ? `: ${grant.secrets.join(',')} in ${grant.environments.join(',')}` : ''})`,
      details: {
        tokenId: id,
        name: request.name,
        role: grant.role,
        expiresAt: row.expires_at === null ? null : new Date(row.expires_at).toISOString(),
      },
    });
  });
  return { token, info: tokenInfo(row, now) };
}
