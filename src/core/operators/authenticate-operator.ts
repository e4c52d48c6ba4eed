// Dashboard sign-in: password (argon2id) and a TOTP code, both required. Every refusal is the
// same ERR_ROTOR_OPERATOR_LOGIN_FAILED whatever went wrong, so the page reveals neither which
// names exist nor which factor failed; the audit log records the real reason.
import { appendAudit, recordAudit } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
import { decoyHash, verifyPassword } from './password-hash.js';
import { openTotpSecret, OPERATOR_NAME } from './operator-record.js';
import { matchTotp } from './totp.js';

export interface LoginAttempt {
  name: string;
  password: string;
  code: string;
  requestId: string;
}

export type LoginFailure = 'unknown-operator' | 'disabled' | 'password' | 'totp';

const GENERIC =
  'sign-in failed: check the name, the password and the code from your authenticator app';

/**
 * Checks both factors and records the attempt; resolves to the operator's name.
 *
 * @example
 * const operator = await authenticateOperator(rotor, { name, password, code, requestId });
 */
export async function authenticateOperator(
  rotor: Pick<Rotor, 'store' | 'masterKey' | 'clock'>,
  attempt: LoginAttempt,
): Promise<string> {
  const store = await rotor.store();
  const validName = OPERATOR_NAME.test(attempt.name);
  const row = validName
    ? await store.guard(() =>
        store.db
          .selectFrom('operators')
          .selectAll()
          .where('name', '=', attempt.name)
          .executeTakeFirst(),
      )
    : undefined;
  // The password is always checked, against a decoy hash when there is no such operator, so
  // the response time does not tell whether a name exists.
  const passwordOk = await verifyPassword(
    attempt.password,
    row?.password_hash ?? (await decoyHash()),
  );
  let failure: LoginFailure | undefined;
  let step: number | undefined;
  if (!row) failure = 'unknown-operator';
  else if (!passwordOk) failure = 'password';
  else if (row.disabled_at !== null) failure = 'disabled';
  else {
    const secret = openTotpSecret(await rotor.masterKey(), row);
    try {
      step = matchTotp(
        secret,
        attempt.code.trim(),
        rotor.clock.now(),
        row.totp_last_step === null ? null : Number(row.totp_last_step),
      );
    } finally {
      secret.fill(0);
    }
    if (step === undefined) failure = 'totp';
  }
  const operator = validName ? attempt.name : 'unknown';
  const actor = { operator, requestId: attempt.requestId, method: 'manual' as const };
  if (failure === undefined && step !== undefined) {
    const accepted = step;
    // The step is claimed in the write transaction, so two requests racing with one code
    // cannot both succeed.
    const ok = await store.writeTransaction(async (trx) => {
      const fresh = await trx
        .selectFrom('operators')
        .select(['totp_last_step', 'disabled_at'])
        .where('name', '=', attempt.name)
        .executeTakeFirst();
      if (
        !fresh ||
        fresh.disabled_at !== null ||
        (fresh.totp_last_step !== null && Number(fresh.totp_last_step) >= accepted)
      )
        return false;
      await trx
        .updateTable('operators')
        .set({ totp_last_step: accepted })
        .where('name', '=', attempt.name)
        .execute();
      await appendAudit(trx, rotor.clock, actor, { action: 'operator.login', outcome: 'success' });
      return true;
    });
    if (ok) return attempt.name;
    failure = 'totp';
  }
  await recordAudit(store, rotor.clock, actor, {
    action: 'operator.login',
    outcome: 'failure',
    details: { reason: failure ?? 'totp' },
  });
  throw new RotorError('ERR_ROTOR_OPERATOR_LOGIN_FAILED', GENERIC);
}
