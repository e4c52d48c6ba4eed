// Test helpers for rotor/jwt: in-memory key sources and hand-built tokens. Tokens are forged
// here byte by byte (raw JSON text, so duplicates and odd spellings survive) and signed with
// Node's crypto, so each attack token carries exactly the one defect a test is about.
import {
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { expect } from 'vitest';
import { RotorError } from '../../src/core/errors.js';
import type { KeySet, KeySource, KeyStage, KeyVersion } from '../../src/sdk/jwt/index.js';

export const ISSUER = 'https://auth.example.com';
export const AUDIENCE = 'api.example.com';
export const START = Date.UTC(2026, 0, 1);
export const NOW_S = START / 1000;

export function b64(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export interface HmacKey {
  kid: string;
  raw: Buffer;
  key: KeyObject;
  version(stage: KeyStage, acceptUntil?: number): KeyVersion;
}

export function hmacKey(alg = 'HS256', bytes = 32): HmacKey {
  const raw = randomBytes(bytes);
  const key = createSecretKey(raw);
  const kid = randomUUID();
  return {
    kid,
    raw,
    key,
    version: (stage, acceptUntil) => ({
      kid,
      stage,
      alg,
      verifyKey: key,
      ...(stage === 'current' ? { signingKey: key } : {}),
      ...(acceptUntil !== undefined ? { acceptUntil } : {}),
    }),
  };
}

export interface EdKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  version(stage: KeyStage, acceptUntil?: number): KeyVersion;
}

export function edKey(): EdKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = randomUUID();
  return {
    kid,
    privateKey,
    publicKey,
    version: (stage, acceptUntil) => ({
      kid,
      stage,
      alg: 'EdDSA',
      verifyKey: publicKey,
      ...(stage === 'current' ? { signingKey: privateKey } : {}),
      ...(acceptUntil !== undefined ? { acceptUntil } : {}),
    }),
  };
}

export function keySet(versions: KeyVersion[], extra: Partial<KeySet> = {}): KeySet {
  return {
    secret: 'JWT_ACCESS_SECRET',
    versions,
    retired: new Map(),
    onRotate: 'dual-validate',
    revision: randomUUID(),
    ...extra,
  };
}

/** A source whose key set a test replaces; `replace` signals watchers like a rotation would. */
export interface MutableSource extends KeySource {
  replace(set: KeySet): void;
  loads: number;
}

export function mutableSource(initial: KeySet): MutableSource {
  let current = initial;
  const watchers = new Set<() => void>();
  const source: MutableSource = {
    loads: 0,
    async load() {
      source.loads++;
      return current;
    },
    watch(_secret, onChange) {
      watchers.add(onChange);
      return () => watchers.delete(onChange);
    },
    async close() {},
    replace(set) {
      current = set;
      for (const w of watchers) w();
    },
  };
  return source;
}

export type Signer = (signingInput: string) => string;

export const hs =
  (key: Buffer | KeyObject, hash = 'sha256'): Signer =>
  (input) =>
    createHmac(hash, key).update(input).digest('base64url');

export const ed =
  (privateKey: KeyObject): Signer =>
  (input) =>
    cryptoSign(null, Buffer.from(input), privateKey).toString('base64url');

/** A compact JWS from raw header and payload (objects are JSON-encoded; strings are used as they are). */
export function forge(header: object | string, payload: object | string, signer: Signer): string {
  const h = b64(typeof header === 'string' ? header : JSON.stringify(header));
  const p = b64(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return `${h}.${p}.${signer(`${h}.${p}`)}`;
}

/** Signs already-encoded segments (for non-canonical spellings). */
export function signSegments(h: string, p: string, signer: Signer): string {
  return `${h}.${p}.${signer(`${h}.${p}`)}`;
}

/** Claims that pass every check at START. */
export function goodClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: 'user-1', iss: ISSUER, aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 600, ...extra };
}

/** Runs `fn` and asserts it throws a RotorError with `code` (and a message matching `message`). */
export function expectRejection(fn: () => unknown, code: string, message?: RegExp): RotorError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(RotorError);
  const error = caught as RotorError;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}
