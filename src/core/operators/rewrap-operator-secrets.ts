// Master-key rotation for operator accounts: each TOTP secret's data key is re-wrapped under the
// new master key, like a secret version's. Call it inside the same store transaction that
// re-wraps the versions and replaces the check value, so either everything moves or nothing.
import type { Kysely } from 'kysely';
import { rewrapKey, type MasterKey } from '../crypto/envelope.js';
import type { Database } from '../store/schema.js';
import { totpBinding } from './operator-record.js';

/**
 * @example
 * // in rotateMasterKey's write transaction, after the versions:
 * rewrapped += await rewrapOperatorSecrets(trx, old, next);
 */
export async function rewrapOperatorSecrets(
  trx: Kysely<Database>,
  from: MasterKey,
  to: MasterKey,
): Promise<number> {
  const rows = await trx.selectFrom('operators').select(['name', 'totp_wrapped_key']).execute();
  for (const row of rows) {
    const wrapped = rewrapKey(from, to, row.totp_wrapped_key, totpBinding(row.name));
    await trx
      .updateTable('operators')
      .set({ totp_wrapped_key: wrapped, totp_master_key_id: to.id })
      .where('name', '=', row.name)
      .execute();
  }
  return rows.length;
}
