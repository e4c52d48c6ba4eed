// What the rest of Rotor sees of an operator account, and the checks every operation shares.
import { RotorError } from '../errors.js';
import { openValue, sealValue, type MasterKey, type ValueBinding } from '../crypto/envelope.js';
import type { OperatorsTable } from '../store/schema.js';

export interface OperatorInfo {
  name: string;
  createdBy: string;
  createdAt: string;
  disabledAt: string | null;
}

/** Letters, digits, dot, underscore and dash; starts with a letter or digit; at most 64. */
export const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;

export function assertOperatorName(name: string): void {
  if (!OPERATOR_NAME.test(name)) {
    throw new RotorError(
      'ERR_ROTOR_OPERATOR_NAME_INVALID',
      `invalid operator name "${name.slice(0, 80)}": use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      {
        details: { operator: name.slice(0, 80) },
      },
    );
  }
}

export function toOperatorInfo(
  row: Pick<OperatorsTable, 'name' | 'created_by' | 'created_at' | 'disabled_at'>,
): OperatorInfo {
  return {
    name: row.name,
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    disabledAt: row.disabled_at === null ? null : new Date(Number(row.disabled_at)).toISOString(),
  };
}

// The TOTP secret is sealed like a secret version, bound to the operator's name so a sealed
// secret copied onto another operator's row fails to open.
export function totpBinding(name: string): ValueBinding {
  return { secret: `operator:${name}`, environment: 'totp', versionId: name };
}

export function sealTotpSecret(master: MasterKey, name: string, secret: Buffer) {
  return sealValue(master, secret, totpBinding(name));
}

export function openTotpSecret(
  master: MasterKey,
  row: Pick<OperatorsTable, 'name' | 'totp_ciphertext' | 'totp_wrapped_key'>,
): Buffer {
  return openValue(
    master,
    { ciphertext: row.totp_ciphertext, wrappedKey: row.totp_wrapped_key },
    totpBinding(row.name),
  );
}
