// The SDK checks its options at run time, for JavaScript callers who get no compile-time check:
// a missing or mistyped option is a RotorError with the area's code, never a TypeError from
// deep inside (issue 11 §5).
import { describe, expect, it } from 'vitest';
import { createJwtKeys } from '../src/sdk/jwt/jwt-keys.js';
import { createPool as createPgPool } from '../src/sdk/pg.js';
import { createPool as createMysqlPool } from '../src/sdk/mysql.js';
import { createClient } from '../src/sdk/client/create-client.js';
import { createRefreshTokens } from '../src/sdk/tokens/refresh-tokens.js';
import { createBearerAuthenticator } from '../src/sdk/http/bearer-auth.js';
import { createRefreshExchange } from '../src/sdk/http/refresh-exchange.js';

const source = { load: async () => [], watch: () => () => undefined };
const base = {
  secret: 'JWT_ACCESS_SECRET',
  source,
  issuer: 'https://api.example.com',
  audience: 'api',
  maxAge: '15m',
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).not.toBeInstanceOf(TypeError);
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'did not throw';
}

const js = <T>(value: unknown) => value as T;

describe('SDK options checked at run time', () => {
  it.each([
    ['no options', undefined],
    ['no maxAge', { ...base, maxAge: undefined }],
    ['maxAge not a duration', { ...base, maxAge: 'soon' }],
    ['maxAge an object', { ...base, maxAge: { minutes: 15 } }],
    ['no audience', { ...base, audience: undefined }],
    ['audience a number', { ...base, audience: 42 }],
    ['algorithms a string', { ...base, algorithms: 'HS256' }],
    ['no issuer', { ...base, issuer: undefined }],
    ['clockTolerance a boolean', { ...base, clockTolerance: true }],
  ])('createJwtKeys: %s is ERR_ROTOR_JWT_OPTIONS_INVALID', (_name, options) => {
    expect(codeOf(() => createJwtKeys(js(options)))).toBe('ERR_ROTOR_JWT_OPTIONS_INVALID');
  });

  it('createJwtKeys names the missing maxAge', () => {
    expect(() => createJwtKeys(js({ ...base, maxAge: undefined }))).toThrow(
      /maxAge must be .*got nothing/,
    );
  });

  it('pg and mysql pools, the client and refresh tokens refuse missing options with their codes', () => {
    expect(codeOf(() => createPgPool(js(undefined)))).toBe('ERR_ROTOR_INVALID_ARGUMENT');
    expect(codeOf(() => createMysqlPool(js(undefined)))).toBe('ERR_ROTOR_INVALID_ARGUMENT');
    expect(codeOf(() => createClient(js(undefined)))).toBe('ERR_ROTOR_CLIENT_OPTIONS_INVALID');
    expect(codeOf(() => createRefreshTokens(js(undefined)))).toBe(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
    );
    expect(codeOf(() => createRefreshTokens(js({})))).toBe('ERR_ROTOR_TOKENS_OPTIONS_INVALID');
    expect(codeOf(() => createRefreshTokens(js({ keys: { sign() {}, verify() {} } })))).toBe(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
    );
  });

  it('the HTTP helpers refuse missing options with a code, not a TypeError', () => {
    expect(codeOf(() => createBearerAuthenticator(js(undefined)))).toBe(
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
    );
    expect(codeOf(() => createBearerAuthenticator(js({ keys: {} })))).toBe(
      'ERR_ROTOR_JWT_OPTIONS_INVALID',
    );
    expect(codeOf(() => createRefreshExchange(js(undefined)))).toBe(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
    );
    expect(codeOf(() => createRefreshExchange(js({})))).toBe('ERR_ROTOR_TOKENS_OPTIONS_INVALID');
  });
});
