// Secret material from the OS CSPRNG. Never fewer than 32 bytes.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const ENCODINGS = ['base64', 'base64url', 'hex'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export const MIN_SECRET_BYTES = 32;

export function generateSecret(bytes: number, encoding: Encoding): string {
  if (!Number.isInteger(bytes) || bytes < MIN_SECRET_BYTES) {
    throw new RangeError(`generated secrets need at least ${MIN_SECRET_BYTES} bytes, got ${bytes}`);
  }
  return randomBytes(bytes).toString(encoding);
}

export function newId(): string {
  return randomUUID();
}

/** Constant-time comparison of two strings (length leaks, content does not). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}
