// Revokes an API token at once (the next request with it gets 401) and audits `token.revoke`.
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { RotorError } from '../errors.js';
import type { Store } from '../store/open-store.js';
import { tokenInfo, type ApiTokenInfo } from './token-record.js';

export const TOKEN_ID = /^[0-9a-f]{16}$/;

export async function revokeApiToken(
  store: Store,
  clock: Clock,
  actor: Actor,
  { id, reason }: { id: string; reason: string },
): Promise<ApiTokenInfo> {
  if (reason.trim() === '')
    throw new RotorError(
      'ERR_ROTOR_API_TOKEN_SPEC_INVALID',
      'revoking a token needs a reason (recorded in the audit log)',
      { details: { field: 'reason' } },
    );
  const notFound = () =>
    new RotorError('ERR_ROTOR_API_TOKEN_NOT_FOUND', `no API token with id "${id.slice(0, 40)}"`, {
      details: { tokenId: id.slice(0, 40) },
    });
  if (!TOKEN_ID.test(id)) throw notFound();
  return store.writeTransaction(async (trx) => {
    const row = await trx
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound();
    const now = clock.now();
    if (row.revoked_at === null) {
      await trx
        .updateTable('api_tokens')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('id', '=', id)
        .execute();
      row.revoked_at = now;
      row.revoked_reason = reason;
    }
    await appendAudit(trx, clock, actor, {
      action: 'token.revoke',
      outcome: 'success',
      notes: `API token ${id} "${row.name}" revoked: ${reason}`,
      details: { tokenId: id, name: row.name, role: row.role },
    });
    return tokenInfo(row, now);
  });
}
