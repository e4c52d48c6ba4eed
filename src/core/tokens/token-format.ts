// The API token's wire format, `rtr_<id>_<secret>`: the id (16 hex characters) finds the row,
// the secret (32 random bytes, base64url) is checked against its stored SHA-256 in constant time.
import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'rtr_';
const TOKEN_SHAPE = /^rtr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedToken {
  id: string;
  secret: string;
}

/** A new token: its id, the full token text (shown once) and the hash to store. */
export function generateToken(): { id: string; token: string; hash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${TOKEN_PREFIX}${id}_${secret}`, hash: hashTokenSecret(secret) };
}

/** The token's id and secret, or undefined for anything that is not exactly a Rotor token. */
export function parseToken(text: string): ParsedToken | undefined {
  const m = TOKEN_SHAPE.exec(text);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares the presented secret's hash with the stored one in constant time. */
export function tokenSecretMatches(secret: string, storedHash: string): boolean {
  // The one-shot hash: this runs on every API request, and it skips creating a Hash object.
  const presented = hash('sha256', secret, 'buffer');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
