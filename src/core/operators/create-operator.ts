// `rotor operator add`: a local dashboard account with an argon2id password hash and a fresh
// TOTP secret. The otpauth:// URI is returned once, for an authenticator app; only the sealed
// secret is kept.
import type { Insertable, Kysely } from 'kysely';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
import type { Database, OperatorsTable } from '../store/schema.js';
import { hashPassword } from './password-hash.js';
import {
  assertOperatorName,
  MIN_PASSWORD_LENGTH,
  sealTotpSecret,
  toOperatorInfo,
  type OperatorInfo,
} from './operator-record.js';
import { base32Encode, generateTotpSecret, otpauthUri } from './totp.js';

export interface CreatedOperator {
  operator: OperatorInfo;
  /** otpauth://totp/Rotor:NAME?secret=… — shown once. */
  otpauthUri: string;
  /** The same secret in base32, for typing into an authenticator by hand. */
  totpSecret: string;
}

/** A password someone can type again at the sign-in form, and long enough. */
function assertUsablePassword(password: string): void {
  // A control character is a reading mistake (a newline kept from a pipe, a pasted tab or escape
  // sequence), never part of a password someone can type again at the sign-in form.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(password)) {
    throw new RotorError(
      'ERR_ROTOR_OPERATOR_PASSWORD_INVALID',
      'the password contains a control character (a line break, tab or escape): nothing was created',
    );
  }
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new RotorError(
      'ERR_ROTOR_OPERATOR_PASSWORD_WEAK',
      `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`,
    );
  }
}

/** Inserts the operator row; a taken name is ERR_ROTOR_OPERATOR_EXISTS. */
async function insertOperator(
  trx: Kysely<Database>,
  row: Insertable<OperatorsTable>,
): Promise<void> {
  const existing = await trx
    .selectFrom('operators')
    .select('name')
    .where('name', '=', row.name)
    .executeTakeFirst();
  if (existing)
    throw new RotorError('ERR_ROTOR_OPERATOR_EXISTS', `operator "${row.name}" already exists`, {
      details: { operator: row.name },
    });
  await trx.insertInto('operators').values(row).execute();
}

/**
 * Creates an operator account.
 *
 * @example
 * const { otpauthUri } = await createOperator(rotor, actor, { name: 'alice', password });
 */
export async function createOperator(
  rotor: Pick<Rotor, 'store' | 'masterKey' | 'clock'>,
  actor: Actor,
  input: { name: string; password: string },
): Promise<CreatedOperator> {
  const { name, password } = input;
  assertOperatorName(name);
  assertUsablePassword(password);
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const passwordHash = await hashPassword(password);
  const secret = generateTotpSecret();
  try {
    const sealed = sealTotpSecret(master, name, secret);
    const now = rotor.clock.now();
    await store.writeTransaction(async (trx) => {
      await insertOperator(trx, {
        name,
        password_hash: passwordHash,
        totp_ciphertext: sealed.ciphertext,
        totp_wrapped_key: sealed.wrappedKey,
        totp_master_key_id: sealed.masterKeyId,
        totp_last_step: null,
        feed_token_hash: null,
        created_by: actor.operator,
        created_at: now,
        disabled_at: null,
      });
      await appendAudit(trx, rotor.clock, actor, {
        action: 'operator.create',
        outcome: 'success',
        details: { operator: name },
      });
    });
    return {
      operator: toOperatorInfo({
        name,
        created_by: actor.operator,
        created_at: now,
        disabled_at: null,
      }),
      otpauthUri: otpauthUri('Rotor', name, secret),
      totpSecret: base32Encode(secret),
    };
  } finally {
    secret.fill(0);
  }
}
