// SCRAM-SHA-256 password verifiers (RFC 5802 / RFC 7677) in the format PostgreSQL stores:
// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Rotor sends this instead of the
// password, so the plaintext never reaches the server's logs or pg_stat_statements.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default `scram_iterations`. */
export const SCRAM_ITERATIONS = 4096;

/**
 * Computes the verifier PostgreSQL would store for `password`.
 *
 * @example
 * await client.query(`ALTER ROLE ${escapeIdentifier(role)} PASSWORD ${escapeLiteral(scramVerifier(pw))}`);
 */
export function scramVerifier(
  password: string,
  options: { salt?: Buffer; iterations?: number } = {},
): string {
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  // Rotor's generated passwords are ASCII, for which SASLprep is the identity.
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
