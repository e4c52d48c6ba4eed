// Generated requests thrown at the API (fast-check): methods, paths built from the route table
// with hostile parameters, query strings, headers, bodies and tokens. Whatever comes in, the
// server never answers 5xx, always answers with a request id, and a caller that may not change
// state (no token, a bad, expired or revoked token, an auditor or an app) never changes it.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { revokeApiToken } from '../src/core/tokens/revoke-token.js';
import { API_ROUTES } from '../src/server/routes/index.js';
import { ADMIN_ACTOR, createServerFixture, type ServerFixture } from './server-fixture.js';

let f: ServerFixture;
/** The server's own request ids (randomUUID); a caller's header is never echoed. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const callers: Record<string, string | undefined> = {};
/** Callers that may never change stored state (reads by apps add read audit rows only). */
const READ_ONLY = [
  'none',
  'garbage',
  'forged',
  'expired',
  'revoked',
  'auditor',
  'app',
  'appStaging',
];

beforeAll(async () => {
  f = await createServerFixture();
  const store = await f.rotor.store();
  const expired = await createApiToken(store, f.project.clock, ADMIN_ACTOR, {
    name: 'expired',
    role: 'admin',
    expiresInMs: 1,
  });
  const revoked = await createApiToken(store, f.project.clock, ADMIN_ACTOR, {
    name: 'revoked',
    role: 'admin',
  });
  await revokeApiToken(store, f.project.clock, ADMIN_ACTOR, {
    id: revoked.info.id,
    reason: 'property test',
  });
  f.project.clock.advance(10);
  Object.assign(callers, {
    none: undefined,
    garbage: 'rtr_zz',
    forged: `${f.tokens.admin.slice(0, 21)}${'A'.repeat(43)}`,
    expired: expired.token,
    revoked: revoked.token,
    ...f.tokens,
  });
});
afterAll(async () => {
  await f?.close();
});

const hostile = fc.oneof(
  fc.constantFrom(
    'SESSION_SECRET',
    'JWT_ACCESS_SECRET',
    'BILLING_KEY',
    'SMTP_PASSWORD',
    'NOPE',
    '..',
    '%2e%2e',
    '..%2F..%2Fetc',
    '%00',
    '%0d%0a',
    '%ZZ',
    'a'.repeat(300),
    '0123456789abcdef',
    '%F0%9F%94%91',
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent),
);

const path = fc.oneof(
  fc
    .tuple(fc.constantFrom(...API_ROUTES.map((r) => r.url)), hostile)
    .map(([url, p]) => url.replace(/:[A-Za-z_]+/g, p)),
  fc.array(hostile, { maxLength: 4 }).map((parts) => `/v1/${parts.join('/')}`),
  fc.constantFrom(
    '/',
    '/v1',
    '/v1/',
    '//v1//secrets',
    '/v1/secrets/',
    '/v1/../healthz',
    '/%',
    '/v1/openapi.json/x',
  ),
);

const query = fc.oneof(
  fc.constant(''),
  fc
    .dictionary(
      fc.constantFrom(
        'env',
        'stage',
        'secret',
        'at',
        'limit',
        'order',
        'format',
        'anchor',
        'x',
        '__proto__',
      ),
      fc.oneof(
        hostile,
        fc.constantFrom('production', 'staging', 'previous', '2026-01-01', '10', 'asc', 'csv'),
      ),
    )
    .map(
      (q) =>
        `?${Object.entries(q)
          .map(([k, v]) => `${k}=${v}`)
          .join('&')}`,
    ),
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        environment: fc.oneof(fc.constantFrom('staging', 'production'), fc.string()),
        reason: fc.string(),
        now: fc.boolean(),
        value: fc.string({ minLength: 1 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '{',
    '{"__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{}}}',
    'null',
    '[]',
    '"x"',
    '1e999',
  ),
);

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  path,
  query,
  body,
  contentType: fc.constantFrom(
    undefined,
    'application/json',
    'text/plain',
    'application/json; charset=utf-8',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
  ),
  caller: fc.constantFrom(
    'none',
    'garbage',
    'forged',
    'expired',
    'revoked',
    'admin',
    'operator',
    'auditor',
    'app',
    'appStaging',
  ),
  authScheme: fc.constantFrom('Bearer ', 'bearer ', 'Basic ', 'Bearer  ', ''),
});

test('no generated request gets a 5xx, and callers without write permissions change nothing', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const token = callers[r.caller];
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `${r.authScheme}${token}`;
      if (r.contentType) headers['content-type'] = r.contentType;
      const before = await f.snapshot();
      const res = await f.app.inject({
        method: r.method as 'GET',
        url: `${r.path}${r.query}`,
        headers,
        ...(r.body !== undefined && !['GET', 'HEAD'].includes(r.method) ? { payload: r.body } : {}),
      });
      expect(
        res.statusCode,
        `${r.method} ${r.path}${r.query} as ${r.caller}: ${res.body.slice(0, 300)}`,
      ).toBeLessThan(500);
      expect(res.headers['x-request-id']).toMatch(UUID_V4);
      if (READ_ONLY.includes(r.caller)) {
        const after = await f.snapshot();
        expect(after.versions).toBe(before.versions);
        expect(after.rotations).toBe(before.rotations);
        expect(after.tokens).toBe(before.tokens);
        // An app's successful read adds exactly its one read row; nothing else is written.
        expect(after.audit).toBe(
          before.audit +
            (res.statusCode === 200 && r.caller.startsWith('app') && /\/value$/.test(r.path)
              ? 1
              : 0),
        );
      }
    }),
    {
      numRuns: Number(process.env.SERVER_PROPERTY_RUNS ?? 400),
      seed: process.env.SERVER_PROPERTY_SEED ? Number(process.env.SERVER_PROPERTY_SEED) : undefined,
    },
  );
}, 120_000);
