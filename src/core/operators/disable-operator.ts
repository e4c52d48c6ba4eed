// `rotor operator disable`: the account can no longer sign in, and its open dashboard sessions
// end at once (deleted in the same transaction).
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
import { assertOperatorName, toOperatorInfo, type OperatorInfo } from './operator-record.js';

export async function disableOperator(
  rotor: Pick<Rotor, 'store' | 'clock'>,
  actor: Actor,
  name: string,
): Promise<{ operator: OperatorInfo; sessionsEnded: number; alreadyDisabled: boolean }> {
  assertOperatorName(name);
  const store = await rotor.store();
  const now = rotor.clock.now();
  return store.writeTransaction(async (trx) => {
    const row = await trx
      .selectFrom('operators')
      .select(['name', 'created_by', 'created_at', 'disabled_at'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row)
      throw new RotorError(
        'ERR_ROTOR_OPERATOR_NOT_FOUND',
        `no operator named "${name}" (see \`rotor operator list\`)`,
        { details: { operator: name } },
      );
    const alreadyDisabled = row.disabled_at !== null;
    if (!alreadyDisabled)
      await trx
        .updateTable('operators')
        .set({ disabled_at: now })
        .where('name', '=', name)
        .execute();
    const ended = await trx
      .deleteFrom('web_sessions')
      .where('operator', '=', name)
      .executeTakeFirst();
    const sessionsEnded = Number(ended.numDeletedRows);
    await appendAudit(trx, rotor.clock, actor, {
      action: 'operator.disable',
      outcome: 'success',
      details: { operator: name, sessionsEnded, alreadyDisabled },
    });
    return {
      operator: toOperatorInfo({ ...row, disabled_at: row.disabled_at ?? now }),
      sessionsEnded,
      alreadyDisabled,
    };
  });
}
