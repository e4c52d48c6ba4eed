// Operator passwords: argon2id from hash-wasm (WASM, no native build), stored in the PHC string
// format so the parameters travel with each hash and can be raised later without a migration.
import { randomBytes } from 'node:crypto';
import { argon2id, argon2Verify } from 'hash-wasm';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = {
  memorySize: 19_456,
  iterations: 2,
  parallelism: 1,
  hashLength: 32,
} as const;

/**
 * Hashes a password with argon2id and a fresh 16-byte salt.
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple'); // "$argon2id$v=19$m=19456,t=2,p=1$…"
 */
export async function hashPassword(password: string): Promise<string> {
  return argon2id({ password, salt: randomBytes(16), ...ARGON2_PARAMS, outputType: 'encoded' });
}

/** Checks a password against a stored argon2id hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (!stored.startsWith('$argon2id$')) return false;
  try {
    return await argon2Verify({ password, hash: stored });
  } catch {
    return false;
  }
}

// A valid hash of a random password, so that an unknown operator name costs the same time as a
// wrong password and the login page does not reveal which names exist.
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(18).toString('base64'));
  return decoy;
}
