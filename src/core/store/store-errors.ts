// Driver-independent store errors, so every dialect reports them in the same words.
import { RotorError } from '../errors.js';

/** The audit table's triggers refused a change: the same RotorError on every dialect. */
export function appendOnlyRefusal(error: unknown): RotorError | undefined {
  const message = error instanceof Error ? error.message : '';
  if (!message.includes('ERR_ROTOR_STORE_AUDIT_APPEND_ONLY')) return undefined;
  return new RotorError(
    'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY',
    'audit rows are append-only: the store refused to change or delete one',
    { cause: error },
  );
}

/** A failed migration as the RotorError that names the store. */
export function migrationFailure(error: unknown, display: string): RotorError {
  if (error instanceof RotorError) return error;
  return new RotorError(
    'ERR_ROTOR_STORE_CORRUPT',
    `cannot migrate the store ${display}: ${(error as Error).message}`,
    { cause: error },
  );
}
