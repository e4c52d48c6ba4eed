// The HTTP API route by route: each happy path against a real SQLite store, and every kind of
// bad input (malformed JSON, oversize bodies, unknown fields, wrong types, odd secret names,
// missing, malformed, expired and revoked tokens) answered with the right 4xx and a message
// naming the problem, with nothing stored or audited.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRotor } from '../src/core/context.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { buildApp } from '../src/server/app.js';
import { API_ROUTES } from '../src/server/routes/index.js';
import { DAY } from './helpers/project.js';
import { ADMIN_ACTOR, createServerFixture, type ServerFixture } from './server-fixture.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let f: ServerFixture;
beforeAll(async () => {
  f = await createServerFixture();
});
afterAll(async () => {
  await f?.close();
});

async function auditTail(n: number) {
  const store = await f.rotor.store();
  const rows = await store.db
    .selectFrom('audit_events')
    .select(['seq', 'entry'])
    .orderBy('seq', 'desc')
    .limit(n)
    .execute();
  return rows.map(
    (r) =>
      JSON.parse(r.entry) as {
        action: string;
        operator: string;
        requestId: string;
        method: string;
        secret: string | null;
        notes: string;
        details: Record<string, unknown>;
      },
  );
}

/** Runs a request that must be refused, and checks nothing was stored or audited. */
async function refused(
  token: string | undefined,
  options: Parameters<ServerFixture['call']>[1],
  { status, code, message }: { status: number; code: string; message?: RegExp },
) {
  const before = await f.snapshot();
  const res = await f.call(token, options);
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json<{ error: { code: string; message: string; requestId: string } }>();
  expect(body.error.code).toBe(code);
  if (message) expect(body.error.message).toMatch(message);
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  expect(await f.snapshot()).toEqual(before);
  return body.error;
}

describe('public routes', () => {
  test('/healthz answers without a token', async () => {
    const res = await f.call(undefined, { method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  test('/readyz is ready when the store opens and the master key matches', async () => {
    const res = await f.call(undefined, { method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready' });
  });

  test('/readyz is 503 when the master key does not open the store', async () => {
    const wrong = Buffer.alloc(32, 7).toString('base64');
    const rotor = createRotor({
      cwd: f.project.dir,
      env: { ...f.project.env, ROTOR_MASTER_KEY: wrong },
      rotators: ROTATORS,
      clock: f.project.clock,
    });
    const app = await buildApp({ rotor, requestLogging: false });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('ERR_ROTOR_API_NOT_READY');
      expect(res.json().error.message).toMatch(/ERR_ROTOR_CRYPTO/);
    } finally {
      await app.close();
      await rotor.close();
    }
  });

  test('the OpenAPI document covers every route of the route table', async () => {
    const res = await f.call(undefined, { method: 'GET', url: '/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { parameters: { name: string }[]; requestBody?: unknown }>
      >;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    for (const route of API_ROUTES) {
      const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.url}`).toMatchObject({
        summary: route.summary,
        'x-rotor-permission': route.permission,
      });
      if (route.body)
        expect(op!.requestBody).toMatchObject({
          required: true,
          content: { 'application/json': { schema: expect.objectContaining({ type: 'object' }) } },
        });
    }
    const read = doc.paths['/v1/secrets/{name}/value']!.get!;
    expect(read.parameters.map((p) => p.name).sort()).toEqual(['env', 'name', 'stage']);
  });

  test('every response carries a fresh UUID request id, errors included', async () => {
    const ids = new Set<string>();
    for (const url of ['/healthz', '/v1/nope', '/v1/status']) {
      const res = await f.call(undefined, {
        method: 'GET',
        url,
        headers: { 'x-request-id': 'attacker-chosen' },
      });
      const id = String(res.headers['x-request-id']);
      expect(id).toMatch(UUID);
      ids.add(id);
    }
    expect(ids.size).toBe(3);
  });
});

describe('inventory, status and check', () => {
  test('GET /v1/secrets lists the inventory without values', async () => {
    const res = await f.call(f.tokens.auditor, { method: 'GET', url: '/v1/secrets' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      environments: string[];
      secrets: { name: string; kind: string; environments: string[] }[];
    }>();
    expect(body.environments).toEqual(['staging', 'production']);
    expect(body.secrets.map((s) => s.name)).toEqual([
      'JWT_ACCESS_SECRET',
      'SESSION_SECRET',
      'BILLING_KEY',
      'SMTP_PASSWORD',
      'JWT_SIGNING_KEY',
    ]);
    for (const value of await f.values()) expect(res.body).not.toContain(value);
  });

  test('GET /v1/status filters by secret and environment', async () => {
    const res = await f.call(f.tokens.operator, {
      method: 'GET',
      url: '/v1/status?secret=SESSION_SECRET&env=production',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      rows: { secret: string; environment: string; state: string; nextDueAt: string }[];
    }>();
    expect(body.rows).toHaveLength(1);
    expect(body.rows[0]).toMatchObject({
      secret: 'SESSION_SECRET',
      environment: 'production',
      state: 'ok',
    });
    expect(body.rows[0]!.nextDueAt).toBe(new Date(f.project.clock.now() + 30 * DAY).toISOString());
  });

  test('GET /v1/status?at= evaluates the future', async () => {
    const res = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: '/v1/status?secret=SESSION_SECRET&env=staging&at=2026-12-31',
    });
    expect(res.json().rows[0].state).toBe('overdue');
  });

  test('GET /v1/check gives the plugin verdict', async () => {
    const res = await f.call(f.tokens.auditor, { method: 'GET', url: '/v1/check' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      status: string;
      code: number;
      problems: { secret: string; problem: string }[];
    }>();
    // SMTP_PASSWORD was never given a value: its age is unknown.
    expect(body.status).toBe('UNKNOWN');
    expect(body.problems.every((p) => p.secret === 'SMTP_PASSWORD')).toBe(true);
  });

  test('bad query values name the field', async () => {
    expect(
      (
        await refused(
          f.tokens.auditor,
          { method: 'GET', url: '/v1/status?at=yesterday' },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/query\.at/);
    expect(
      (
        await refused(
          f.tokens.auditor,
          { method: 'GET', url: '/v1/status?secret=../etc' },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/query\.secret/);
    expect(
      (
        await refused(
          f.tokens.auditor,
          { method: 'GET', url: '/v1/check?verbose=1' },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/query\.verbose: unknown field/);
    expect(
      (
        await refused(
          f.tokens.auditor,
          { method: 'GET', url: '/v1/status?env=a&env=b' },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/query\.env/);
  });
});

describe('rotate, emergency, retire, resume', () => {
  test('POST rotate rotates one environment and audits the token and request id', async () => {
    const before = (await f.snapshot()).rotations;
    const res = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/SESSION_SECRET/rotate',
      payload: { environment: 'staging', reason: 'api test' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      ok: boolean;
      results: { environment: string; outcome: string; versionId: string }[];
      requestId: string;
    }>();
    expect(body.ok).toBe(true);
    expect(body.results).toMatchObject([{ environment: 'staging', outcome: 'succeeded' }]);
    expect(body.requestId).toBe(res.headers['x-request-id']);
    expect((await f.snapshot()).rotations).toBe(before + 1);
    const rows = await auditTail(10);
    const mine = rows.filter((r) => r.requestId === body.requestId);
    expect(mine.length).toBeGreaterThan(0);
    for (const r of mine) expect(r.operator).toBe('operator-1');
  });

  test('a manual secret needs its value in the body, and the value is never audited', async () => {
    const err = await refused(
      f.tokens.operator,
      {
        method: 'POST',
        url: '/v1/secrets/SMTP_PASSWORD/rotate',
        payload: { environment: 'staging' },
      },
      { status: 400, code: 'ERR_ROTOR_VALUE_MISSING' },
    );
    expect(err.message).toMatch(/body\.value/);
    const value = 'smtp-pass-from-the-api-0123456789';
    const res = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/SMTP_PASSWORD/rotate',
      payload: { environment: 'staging', value },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).not.toContain(value);
    const store = await f.rotor.store();
    const audit = await store.db.selectFrom('audit_events').select('entry').execute();
    expect(audit.map((a) => a.entry).join('\n')).not.toContain(value);
  });

  test('POST emergency needs a reason and revokes the previous version at once', async () => {
    const err = await refused(
      f.tokens.operator,
      { method: 'POST', url: '/v1/secrets/BILLING_KEY/emergency', payload: {} },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    expect(err.message).toMatch(/body\.reason: required/);
    const res = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/BILLING_KEY/emergency',
      payload: { reason: 'key leaked in a log' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      emergency: boolean;
      results: { outcome: string; graceUntil?: string; retiredVersionIds: string[] }[];
    }>();
    expect(body.emergency).toBe(true);
    expect(body.results[0]!.outcome).toBe('succeeded');
    expect(body.results[0]!.graceUntil).toBeUndefined();
    expect(body.results[0]!.retiredVersionIds.length).toBe(1);
  });

  test('POST retire retires nothing inside the grace window, and needs a reason to retire early', async () => {
    const res = await f.call(f.tokens.operator, { method: 'POST', url: '/v1/retire', payload: {} });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().retired).toEqual([]);
    await refused(
      f.tokens.operator,
      { method: 'POST', url: '/v1/retire', payload: { secret: 'SESSION_SECRET', now: true } },
      { status: 400, code: 'ERR_ROTOR_RETIRE_REASON_REQUIRED' },
    );
    const early = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/retire',
      payload: {
        secret: 'SESSION_SECRET',
        environment: 'staging',
        now: true,
        reason: 'done with it',
      },
    });
    expect(early.statusCode, early.body).toBe(200);
    expect(early.json().retired).toMatchObject([
      { secret: 'SESSION_SECRET', environment: 'staging', early: true },
    ]);
  });

  test('POST resume with nothing interrupted resumes nothing', async () => {
    const res = await f.call(f.tokens.operator, { method: 'POST', url: '/v1/resume' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().outcomes).toEqual([]);
  });

  test('POST import adopts a value once, with its date; a second import is a 409', async () => {
    const value = 'smtp-production-password-from-before-rotor';
    const res = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/SMTP_PASSWORD/import',
      payload: { environment: 'production', value, rotatedAt: '2025-11-01' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      secret: 'SMTP_PASSWORD',
      environment: 'production',
      rotatedAt: '2025-11-01T00:00:00.000Z',
    });
    expect(res.body).not.toContain(value);
    expect(await f.values()).toContain(value);
    await refused(
      f.tokens.operator,
      {
        method: 'POST',
        url: '/v1/secrets/SMTP_PASSWORD/import',
        payload: { environment: 'production', value: 'another-value-0123456789' },
      },
      { status: 409, code: 'ERR_ROTOR_IMPORT_EXISTS' },
    );
    await refused(
      f.tokens.operator,
      {
        method: 'POST',
        url: '/v1/secrets/SMTP_PASSWORD/import',
        payload: { environment: 'production' },
      },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /body\.value: required/ },
    );
  });

  test('POST /v1/sessions/revoke without a sessions store in rotor.yaml is a 409 that says so', async () => {
    const err = await refused(
      f.tokens.operator,
      {
        method: 'POST',
        url: '/v1/sessions/revoke',
        payload: { all: true, reason: 'suspected token theft' },
      },
      { status: 409, code: 'ERR_ROTOR_SESSIONS_NOT_CONFIGURED' },
    );
    expect(err.message.length).toBeGreaterThan(10);
    await refused(
      f.tokens.operator,
      { method: 'POST', url: '/v1/sessions/revoke', payload: { all: true } },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /body\.reason/ },
    );
  });

  test('unknown secrets and environments are 404s that name them; odd names are 400s', async () => {
    expect(
      (
        await refused(
          f.tokens.operator,
          { method: 'POST', url: '/v1/secrets/NO_SUCH_SECRET/rotate', payload: {} },
          { status: 404, code: 'ERR_ROTOR_SECRET_UNKNOWN' },
        )
      ).message,
    ).toMatch(/NO_SUCH_SECRET/);
    expect(
      (
        await refused(
          f.tokens.operator,
          {
            method: 'POST',
            url: '/v1/secrets/BILLING_KEY/rotate',
            payload: { environment: 'staging' },
          },
          { status: 404, code: 'ERR_ROTOR_ENV_UNKNOWN' },
        )
      ).message,
    ).toMatch(/staging/);
    for (const name of [
      'session_secret',
      '..%2F..%2Fetc%2Fpasswd',
      'A%00B',
      'A%0AB',
      'A'.repeat(200),
      '%C3%89T%C3%89',
      'JWT%20X',
    ]) {
      const err = await refused(
        f.tokens.admin,
        { method: 'POST', url: `/v1/secrets/${name}/rotate`, payload: {} },
        { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
      );
      expect(err.message).toMatch(/params\.name/);
    }
    // A literal traversal is resolved away from every route: 404, nothing touched.
    await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/secrets/../../rotate', payload: {} },
      { status: 404, code: 'ERR_ROTOR_API_NOT_FOUND' },
    );
  });
});

describe('bodies', () => {
  test('malformed JSON is a 400 that says so', async () => {
    const err = await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/secrets/SESSION_SECRET/rotate',
        headers: { 'content-type': 'application/json' },
        payload: '{"environment": "staging",',
      },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    expect(err.message).toMatch(/malformed JSON/);
  });

  test('a body over 64 KiB is a 413', async () => {
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/secrets/SESSION_SECRET/rotate',
        payload: { reason: 'x'.repeat(70 * 1024) },
      },
      { status: 413, code: 'ERR_ROTOR_API_BODY_TOO_LARGE', message: /64 KiB/ },
    );
  });

  test('unknown fields are refused by name', async () => {
    const err = await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/secrets/SESSION_SECRET/rotate',
        payload: { environment: 'staging', emergency: true },
      },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    expect(err.message).toBe('invalid body: body.emergency: unknown field');
  });

  test('wrong types name the field and the expected type', async () => {
    const err = await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/retire', payload: { now: 'yes', reason: 'x' } },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    expect(err.message).toMatch(/body\.now: .*boolean/);
    const err2 = await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/secrets/SESSION_SECRET/rotate', payload: { environment: 5 } },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    expect(err2.message).toMatch(/body\.environment: .*string/);
    await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/secrets/SESSION_SECRET/rotate', payload: [1, 2] },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/secrets/SESSION_SECRET/rotate',
        headers: { 'content-type': 'application/json' },
        payload: 'null',
      },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
  });

  test('prototype pollution in a body is refused', async () => {
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/retire',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__": {"now": true}}',
      },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
  });

  test('bodies that are not JSON are a 415', async () => {
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/resume',
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
      },
      { status: 415, code: 'ERR_ROTOR_API_MEDIA_TYPE' },
    );
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/resume',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'a=b',
      },
      { status: 415, code: 'ERR_ROTOR_API_MEDIA_TYPE' },
    );
  });
});

describe('tokens', () => {
  test('missing, malformed and wrong tokens are 401s with a clear message', async () => {
    await refused(
      undefined,
      { method: 'GET', url: '/v1/status' },
      { status: 401, code: 'ERR_ROTOR_API_TOKEN_MISSING', message: /Authorization: Bearer/ },
    );
    await refused(
      undefined,
      { method: 'GET', url: '/v1/status', headers: { authorization: 'Basic YTpi' } },
      { status: 401, code: 'ERR_ROTOR_API_TOKEN_MISSING' },
    );
    await refused(
      'not-a-token',
      { method: 'GET', url: '/v1/status' },
      { status: 401, code: 'ERR_ROTOR_API_TOKEN_INVALID' },
    );
    const forged =
      f.tokens.admin.slice(0, -4) + (f.tokens.admin.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await refused(
      forged,
      { method: 'GET', url: '/v1/status' },
      {
        status: 401,
        code: 'ERR_ROTOR_API_TOKEN_INVALID',
        message: /not a token this server issued/,
      },
    );
  });

  test('an expired token is a 401 that says it expired', async () => {
    const store = await f.rotor.store();
    const { token } = await createApiToken(store, f.project.clock, ADMIN_ACTOR, {
      name: 'short-lived',
      role: 'auditor',
      expiresInMs: 60_000,
    });
    expect((await f.call(token, { method: 'GET', url: '/v1/whoami' })).statusCode).toBe(200);
    f.project.clock.advance(60_000);
    try {
      await refused(
        token,
        { method: 'GET', url: '/v1/status' },
        { status: 401, code: 'ERR_ROTOR_API_TOKEN_EXPIRED', message: /expired on/ },
      );
    } finally {
      f.project.clock.advance(-60_000);
    }
  });

  test('admins create, list and revoke tokens; a revoked token is a 401 at once', async () => {
    const created = await f.call(f.tokens.admin, {
      method: 'POST',
      url: '/v1/tokens',
      payload: {
        name: 'ci-reader',
        role: 'app',
        secrets: ['SESSION_*'],
        environments: ['staging'],
        expiresIn: '7d',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { token, id, expiresAt } = created.json<{
      token: string;
      id: string;
      expiresAt: string;
    }>();
    expect(token).toMatch(/^rtr_[0-9a-f]{16}_/);
    expect(expiresAt).toBe(new Date(f.project.clock.now() + 7 * DAY).toISOString());
    const read = await f.call(token, {
      method: 'GET',
      url: '/v1/secrets/SESSION_SECRET/value?env=staging',
    });
    expect(read.statusCode, read.body).toBe(200);
    const list = await f.call(f.tokens.admin, { method: 'GET', url: '/v1/tokens' });
    expect(list.body).toContain(id);
    expect(list.body).not.toContain(token.slice('rtr_0123456789abcdef_'.length));
    expect(list.body).not.toMatch(/"hash"/);
    const revoked = await f.call(f.tokens.admin, {
      method: 'POST',
      url: `/v1/tokens/${id}/revoke`,
      payload: { reason: 'rotated CI credentials' },
    });
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(revoked.json().state).toBe('revoked');
    await refused(
      token,
      { method: 'GET', url: '/v1/secrets/SESSION_SECRET/value?env=staging' },
      { status: 401, code: 'ERR_ROTOR_API_TOKEN_REVOKED', message: /revoked on/ },
    );
    const actions = (await auditTail(5)).map((r) => r.action);
    expect(actions).toContain('token.revoke');
  });

  test('bad token requests name the field', async () => {
    expect(
      (
        await refused(
          f.tokens.admin,
          { method: 'POST', url: '/v1/tokens', payload: { name: 'x', role: 'root' } },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/body\.role/);
    expect(
      (
        await refused(
          f.tokens.admin,
          { method: 'POST', url: '/v1/tokens', payload: { name: 'x', role: 'app' } },
          { status: 400, code: 'ERR_ROTOR_API_TOKEN_SPEC_INVALID' },
        )
      ).message,
    ).toMatch(/--secret/);
    expect(
      (
        await refused(
          f.tokens.admin,
          {
            method: 'POST',
            url: '/v1/tokens',
            payload: { name: 'x', role: 'auditor', secrets: ['A'] },
          },
          { status: 400, code: 'ERR_ROTOR_API_TOKEN_SPEC_INVALID' },
        )
      ).message,
    ).toMatch(/only app tokens/);
    expect(
      (
        await refused(
          f.tokens.admin,
          {
            method: 'POST',
            url: '/v1/tokens',
            payload: { name: 'x', role: 'app', secrets: ['../*'], environments: ['production'] },
          },
          { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
        )
      ).message,
    ).toMatch(/body\.secrets\.0/);
    await refused(
      f.tokens.admin,
      {
        method: 'POST',
        url: '/v1/tokens',
        payload: { name: 'x', role: 'auditor', expiresIn: 'soon' },
      },
      { status: 400, code: 'ERR_ROTOR_DURATION_INVALID' },
    );
    await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/tokens/0123456789abcdef/revoke', payload: { reason: 'x' } },
      { status: 404, code: 'ERR_ROTOR_API_TOKEN_NOT_FOUND' },
    );
    await refused(
      f.tokens.admin,
      { method: 'POST', url: '/v1/tokens/..%2F/revoke', payload: { reason: 'x' } },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION' },
    );
  });

  test('GET /v1/whoami describes the calling token', async () => {
    const res = await f.call(f.tokens.app, { method: 'GET', url: '/v1/whoami' });
    expect(res.json()).toMatchObject({
      name: 'app-1',
      role: 'app',
      secrets: ['JWT_*', 'SESSION_SECRET'],
      environments: ['production'],
    });
  });

  test('requests are rate-limited per token', async () => {
    const limited = await createServerFixture({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++)
        expect(
          (await limited.call(limited.tokens.auditor, { method: 'GET', url: '/v1/whoami' }))
            .statusCode,
        ).toBe(200);
      const res = await limited.call(limited.tokens.auditor, { method: 'GET', url: '/v1/whoami' });
      expect(res.statusCode).toBe(429);
      expect(res.json().error.code).toBe('ERR_ROTOR_API_RATE_LIMITED');
      // The window is a minute long and nearly all of it is left.
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      // Another token has its own budget.
      expect(
        (await limited.call(limited.tokens.operator, { method: 'GET', url: '/v1/whoami' }))
          .statusCode,
      ).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('secret reads', () => {
  test('an app token reads a granted value; the read is audited with the token and request id, never the value', async () => {
    const res = await f.call(f.tokens.app, {
      method: 'GET',
      url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      secret: string;
      environment: string;
      stage: string;
      versionId: string;
      value: string;
    }>();
    expect(body).toMatchObject({
      secret: 'JWT_ACCESS_SECRET',
      environment: 'production',
      stage: 'current',
    });
    expect(await f.values()).toContain(body.value);
    expect(res.headers['cache-control']).toBe('no-store');
    const [row] = await auditTail(1);
    expect(row).toMatchObject({
      action: 'read.get',
      operator: 'app-1',
      method: 'api',
      requestId: res.headers['x-request-id'],
      secret: 'JWT_ACCESS_SECRET',
    });
    expect(row!.details.versionId).toBe(body.versionId);
    expect(JSON.stringify(row)).not.toContain(body.value);
  });

  test('the previous value is readable during its grace window only', async () => {
    const rotated = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/JWT_ACCESS_SECRET/rotate',
      payload: { environment: 'production' },
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const prev = await f.call(f.tokens.app, {
      method: 'GET',
      url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production&stage=previous',
    });
    expect(prev.statusCode, prev.body).toBe(200);
    expect(prev.json().retireAt).toBe(new Date(f.project.clock.now() + 3_600_000).toISOString());
    f.project.clock.advance(3_600_000);
    try {
      await refused(
        f.tokens.app,
        { method: 'GET', url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production&stage=previous' },
        { status: 404, code: 'ERR_ROTOR_VERSION_NOT_FOUND', message: /grace/ },
      );
    } finally {
      f.project.clock.advance(-3_600_000);
    }
  });

  test('a read right after a rotation gets the new value, never a cached old one', async () => {
    const first = (
      await f.call(f.tokens.app, {
        method: 'GET',
        url: '/v1/secrets/SESSION_SECRET/value?env=production',
      })
    ).json<{ versionId: string; value: string }>();
    const rotated = await f.call(f.tokens.operator, {
      method: 'POST',
      url: '/v1/secrets/SESSION_SECRET/rotate',
      payload: { environment: 'production' },
    });
    const newVersion = rotated.json<{ results: { versionId: string }[] }>().results[0]!.versionId;
    const second = (
      await f.call(f.tokens.app, {
        method: 'GET',
        url: '/v1/secrets/SESSION_SECRET/value?env=production',
      })
    ).json<{ versionId: string; value: string }>();
    expect(second.versionId).toBe(newVersion);
    expect(second.value).not.toBe(first.value);
    const previous = (
      await f.call(f.tokens.app, {
        method: 'GET',
        url: '/v1/secrets/SESSION_SECRET/value?env=production&stage=previous',
      })
    ).json<{ versionId: string; value: string }>();
    expect(previous).toMatchObject({ versionId: first.versionId, value: first.value });
  });

  test('reads racing rotations in the same process all succeed, each audited once, and the chain stays intact', async () => {
    const before = (await f.snapshot()).audit;
    const reads = Array.from({ length: 60 }, () =>
      f.call(f.tokens.app, {
        method: 'GET',
        url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
      }),
    );
    const rotations = [0, 1, 2].map(() =>
      f.call(f.tokens.operator, {
        method: 'POST',
        url: '/v1/secrets/SESSION_SECRET/rotate',
        payload: { environment: 'staging' },
      }),
    );
    const results = await Promise.all([...reads, ...rotations]);
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.slice(0, 60).every((s) => s === 200)).toBe(true);
    // Concurrent rotations of one secret: one runs, the others are told the lock is held.
    expect(statuses.slice(60).every((s) => s === 200 || s === 409)).toBe(true);
    const store = await f.rotor.store();
    const readRows = await store.db
      .selectFrom('audit_events')
      .select('entry')
      .where('seq', '>', before)
      .where('action', '=', 'read.get')
      .execute();
    expect(readRows).toHaveLength(60);
    const verify = await f.call(f.tokens.auditor, { method: 'GET', url: '/v1/audit/verify' });
    expect(verify.json().ok).toBe(true);
  });

  test('GET /v1/environments/E/values gives every granted value of the environment, audited as one row', async () => {
    const res = await f.call(f.tokens.app, {
      method: 'GET',
      url: '/v1/environments/production/values',
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      values: { variable: string; secret: string; stage: string; value: string; carries: string }[];
      missing: string[];
    }>();
    const secrets = new Set(body.values.map((v) => v.secret));
    // app-1 is granted JWT_* and SESSION_SECRET: never BILLING_KEY or SMTP_PASSWORD.
    expect([...secrets].sort()).toEqual(['JWT_ACCESS_SECRET', 'JWT_SIGNING_KEY', 'SESSION_SECRET']);
    expect(body.values.find((v) => v.variable === 'SESSION_SECRET')?.carries).toBe('value');
    const stored = await f.values();
    for (const v of body.values.filter((x) => x.carries === 'value'))
      expect(stored).toContain(v.value);
    const [row] = await auditTail(1);
    expect(row).toMatchObject({
      action: 'read.export',
      operator: 'app-1',
      requestId: res.headers['x-request-id'],
    });
    for (const v of body.values)
      if (v.carries === 'value') expect(JSON.stringify(row)).not.toContain(v.value);
    await refused(
      f.tokens.appStaging,
      { method: 'GET', url: '/v1/environments/production/values' },
      { status: 403, code: 'ERR_ROTOR_API_FORBIDDEN', message: /not in its grant/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/environments/nowhere/values' },
      { status: 404, code: 'ERR_ROTOR_ENV_UNKNOWN' },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/environments/..%2F/values' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /params\.environment/ },
    );
  });

  test('GET /v1/secrets/NAME/jwks publishes public keys only, and refuses symmetric secrets', async () => {
    const res = await f.call(f.tokens.app, {
      method: 'GET',
      url: '/v1/secrets/JWT_SIGNING_KEY/jwks?env=production',
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{
      keys: Record<string, string>[];
      published: { stage: string; kid: string }[];
    }>();
    expect(body.keys.length).toBeGreaterThan(0);
    for (const key of body.keys) expect(key.d).toBeUndefined();
    expect(body.published[0]!.stage).toBe('current');
    const [row] = await auditTail(1);
    expect(row).toMatchObject({
      action: 'read.jwks',
      operator: 'app-1',
      requestId: res.headers['x-request-id'],
    });
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_ACCESS_SECRET/jwks?env=production' },
      { status: 409, code: 'ERR_ROTOR_JWKS_NOT_PUBLISHABLE' },
    );
  });

  test('reads outside the grant are 403s and are not audited as reads', async () => {
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/BILLING_KEY/value?env=production' },
      { status: 403, code: 'ERR_ROTOR_API_FORBIDDEN', message: /BILLING_KEY in production/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/SESSION_SECRET/value?env=staging' },
      { status: 403, code: 'ERR_ROTOR_API_FORBIDDEN' },
    );
    await refused(
      f.tokens.operator,
      { method: 'GET', url: '/v1/secrets/SESSION_SECRET/value?env=staging' },
      { status: 403, code: 'ERR_ROTOR_API_FORBIDDEN' },
    );
  });

  test('read requests with bad names, environments or stages are 400s', async () => {
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_ACCESS_SECRET/value' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.env: required/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=PRODUCTION' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.env/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production&stage=retired' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.stage/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_%0D%0AX/value?env=production' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /params\.name/ },
    );
    await refused(
      f.tokens.app,
      { method: 'GET', url: '/v1/secrets/JWT_NOT_THERE/value?env=production' },
      { status: 404, code: 'ERR_ROTOR_SECRET_UNKNOWN' },
    );
  });
});

describe('audit', () => {
  test('GET /v1/audit lists newest first with filters', async () => {
    const res = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: '/v1/audit?action=token&limit=2&order=asc',
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ events: { action: string; seq: number }[]; count: number }>();
    expect(body.count).toBe(2);
    expect(body.events.every((e) => e.action.startsWith('token.'))).toBe(true);
    expect(body.events[0]!.seq).toBeLessThan(body.events[1]!.seq);
    await refused(
      f.tokens.auditor,
      { method: 'GET', url: '/v1/audit?limit=-1' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.limit/ },
    );
    await refused(
      f.tokens.auditor,
      { method: 'GET', url: '/v1/audit?since=2026-02-01&until=2026-01-01' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /since is after/ },
    );
  });

  test('GET /v1/audit/verify checks the chain, with an anchor', async () => {
    const res = await f.call(f.tokens.auditor, { method: 'GET', url: '/v1/audit/verify' });
    const body = res.json<{ ok: boolean; headSeq: number; headHash: string }>();
    expect(body.ok).toBe(true);
    const anchored = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: `/v1/audit/verify?anchor=${body.headSeq}:${body.headHash}`,
    });
    expect(anchored.json().ok).toBe(true);
    await refused(
      f.tokens.auditor,
      { method: 'GET', url: '/v1/audit/verify?anchor=12' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.anchor/ },
    );
  });

  test('GET /v1/audit/export streams csv, md and json', async () => {
    const csv = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: '/v1/audit/export?format=csv',
    });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.split('\n')[0]).toMatch(/^seq,at,secret/);
    const md = await f.call(f.tokens.auditor, {
      method: 'GET',
      url: '/v1/audit/export?format=md&secret=SESSION_SECRET',
    });
    expect(md.statusCode).toBe(200);
    expect(md.body).toContain('SESSION_SECRET');
    const json = await f.call(f.tokens.auditor, { method: 'GET', url: '/v1/audit/export' });
    expect(() => JSON.parse(json.body)).not.toThrow();
    for (const value of await f.values())
      expect(csv.body + md.body + json.body).not.toContain(value);
    await refused(
      f.tokens.auditor,
      { method: 'GET', url: '/v1/audit/export?format=xml' },
      { status: 400, code: 'ERR_ROTOR_API_VALIDATION', message: /query\.format/ },
    );
  });
});

describe('logs', () => {
  test('request logs name routes and request ids but never a secret value or a token', async () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const logger = pino({ level: 'trace' }, sink);
    const rotor = createRotor({
      cwd: f.project.dir,
      env: f.project.env,
      rotators: ROTATORS,
      clock: f.project.clock,
      logger,
    });
    const app = await buildApp({ rotor });
    try {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
        headers: { authorization: `Bearer ${f.tokens.app}` },
      });
      expect(res.statusCode).toBe(200);
      await app.inject({
        method: 'POST',
        url: '/v1/secrets/SMTP_PASSWORD/rotate',
        headers: { authorization: `Bearer ${f.tokens.admin}` },
        payload: { environment: 'production', value: 'smtp-value-that-must-not-be-logged' },
      });
      await app.inject({
        method: 'GET',
        url: '/v1/status',
        headers: { authorization: `Bearer ${f.tokens.admin.slice(0, -2)}xx` },
      });
      expect(text).toContain(String(res.headers['x-request-id']));
      for (const value of [...(await f.values()), 'smtp-value-that-must-not-be-logged'])
        expect(text).not.toContain(value);
      for (const token of Object.values(f.tokens))
        expect(text).not.toContain(token.slice('rtr_0123456789abcdef_'.length));
    } finally {
      await app.close();
      await rotor.close();
    }
  });
});
