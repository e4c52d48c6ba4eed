// The whole authorization matrix: every route of the route table × every role (admin, operator,
// auditor, app with and without a grant for what it asks, no token). Generated from API_ROUTES, so
// a new route without a sample request here fails the first test instead of going unchecked.
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { InjectOptions } from 'fastify';
import { createApiToken } from '../src/core/tokens/create-token.js';
import type { TokenRole } from '../src/core/tokens/token-grant.js';
import { roleAllows, ROLE_PERMISSIONS } from '../src/server/auth/roles.js';
import { API_ROUTES } from '../src/server/routes/index.js';
import type { ApiRoute, RouteDoc } from '../src/server/route-def.js';
import { EVENT_ROUTES } from '../src/server/events/event-routes.js';
import { ADMIN_ACTOR, createServerFixture, type ServerFixture } from './server-fixture.js';

let f: ServerFixture;
let throwawayId = '';

/** One valid request per route, keyed `METHOD url-template`. */
function sample(route: ApiRoute): InjectOptions | undefined {
  const samples: Record<string, InjectOptions> = {
    'GET /healthz': { method: 'GET', url: '/healthz' },
    'GET /readyz': { method: 'GET', url: '/readyz' },
    'GET /v1/openapi.json': { method: 'GET', url: '/v1/openapi.json' },
    'GET /v1/secrets': { method: 'GET', url: '/v1/secrets' },
    'GET /v1/status': { method: 'GET', url: '/v1/status?env=production' },
    'GET /v1/check': { method: 'GET', url: '/v1/check' },
    'POST /v1/secrets/:name/rotate': {
      method: 'POST',
      url: '/v1/secrets/SESSION_SECRET/rotate',
      payload: { environment: 'staging' },
    },
    'POST /v1/secrets/:name/emergency': {
      method: 'POST',
      url: '/v1/secrets/BILLING_KEY/emergency',
      payload: { reason: 'matrix test' },
    },
    'POST /v1/retire': { method: 'POST', url: '/v1/retire', payload: {} },
    'POST /v1/resume': { method: 'POST', url: '/v1/resume' },
    'POST /v1/secrets/:name/import': {
      method: 'POST',
      url: '/v1/secrets/SMTP_PASSWORD/import',
      payload: {
        environment: 'production',
        value: 'imported-smtp-password-0123',
        rotatedAt: '2025-12-01',
      },
    },
    'POST /v1/sessions/revoke': {
      method: 'POST',
      url: '/v1/sessions/revoke',
      payload: { all: true, reason: 'matrix test' },
    },
    'GET /v1/audit': { method: 'GET', url: '/v1/audit?limit=1' },
    'GET /v1/audit/verify': { method: 'GET', url: '/v1/audit/verify' },
    'GET /v1/audit/export': { method: 'GET', url: '/v1/audit/export?format=csv' },
    'GET /v1/secrets/:name/value': {
      method: 'GET',
      url: '/v1/secrets/JWT_ACCESS_SECRET/value?env=production',
    },
    'GET /v1/secrets/:name/jwks': {
      method: 'GET',
      url: '/v1/secrets/JWT_SIGNING_KEY/jwks?env=production',
    },
    'GET /v1/environments/:environment/values': {
      method: 'GET',
      url: '/v1/environments/production/values',
    },
    'GET /v1/whoami': { method: 'GET', url: '/v1/whoami' },
    'GET /v1/tokens': { method: 'GET', url: '/v1/tokens' },
    'POST /v1/tokens': {
      method: 'POST',
      url: '/v1/tokens',
      payload: { name: 'matrix-made', role: 'auditor' },
    },
    'POST /v1/tokens/:id/revoke': {
      method: 'POST',
      url: `/v1/tokens/${throwawayId}/revoke`,
      payload: { reason: 'matrix test' },
    },
  };
  return samples[`${route.method} ${route.url}`];
}

/** The callers: each role, an app token whose grant does not cover the sample, and no token. */
const CALLERS = ['admin', 'operator', 'auditor', 'app', 'app-ungranted', 'none'] as const;
type Caller = (typeof CALLERS)[number];

function tokenOf(caller: Caller): string | undefined {
  if (caller === 'none') return undefined;
  if (caller === 'app-ungranted') return f.tokens.appStaging;
  return f.tokens[caller];
}

function roleOf(caller: Caller): TokenRole | undefined {
  return caller === 'none' ? undefined : caller === 'app-ungranted' ? 'app' : caller;
}

/** What the caller must get: allowed (any non-auth answer below 500), 401 or 403. */
function expected(route: ApiRoute, caller: Caller): 'allowed' | 401 | 403 {
  if (route.permission === 'public') return 'allowed';
  const role = roleOf(caller);
  if (!role) return 401;
  if (!roleAllows(role, route.permission)) return 403;
  // The only grant-narrowed permission: the ungranted app token asks for production, granted staging.
  if (route.permission === 'secret.read' && caller === 'app-ungranted') return 403;
  return 'allowed';
}

beforeAll(async () => {
  f = await createServerFixture();
  const store = await f.rotor.store();
  throwawayId = (
    await createApiToken(store, f.project.clock, ADMIN_ACTOR, {
      name: 'throwaway',
      role: 'auditor',
    })
  ).info.id;
});
afterAll(async () => {
  await f?.close();
});

test('every route in the route table has a sample request here and is registered', () => {
  for (const route of API_ROUTES) {
    const path = route.url.replace(/\./g, '\\.').replace(/:[A-Za-z_]+/g, '[^/?]+');
    expect(
      sample(route),
      `add a sample request for ${route.method} ${route.url} to server-authz.test.ts`,
    ).toMatchObject({ method: route.method, url: expect.stringMatching(`^${path}(\\?|$)`) });
    expect(
      f.app.hasRoute({ method: route.method, url: route.url }),
      `${route.method} ${route.url}`,
    ).toBe(true);
  }
});

/** Every route Fastify serves, from `printRoutes` (the route table's and the plugins' alike). */
function registeredRoutes(): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of f.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(', ').filter(Boolean))
      out.push({ method, url: stack.join('') });
  }
  return out;
}

test("every /v1 route, the route table's or a plugin's, refuses a request without a token", async () => {
  const v1 = registeredRoutes().filter(
    (r) => r.url.startsWith('/v1/') && r.url !== '/v1/openapi.json' && r.method !== 'HEAD',
  );
  expect(v1.length).toBeGreaterThanOrEqual(
    API_ROUTES.filter((r) => r.url.startsWith('/v1/')).length - 1,
  );
  for (const route of v1) {
    const url = route.url
      .replace(/:name/g, 'SESSION_SECRET')
      .replace(/:environment/g, 'production')
      .replace(/:id/g, '0123456789abcdef')
      .replace(/:[A-Za-z_]+/g, 'x');
    const res = await Promise.race([
      f.app.inject({
        method: route.method as 'GET',
        url,
        ...(route.method === 'POST' ? { payload: {} } : {}),
      }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(`${route.method} ${route.url} answered nothing within 5 s without a token`),
            ),
          5000,
        ),
      ),
    ]);
    expect(res.statusCode, `${route.method} ${route.url}: ${res.body.slice(0, 200)}`).toBe(401);
  }
});

test('the role table: admin holds every permission, app only secret reads and whoami', () => {
  expect([...ROLE_PERMISSIONS.app].sort()).toEqual(['secret.read', 'self.read']);
  expect([...ROLE_PERMISSIONS.auditor].sort()).toEqual([
    'audit.read',
    'inventory.read',
    'self.read',
  ]);
  expect(ROLE_PERMISSIONS.operator.has('secret.read')).toBe(false);
  expect(ROLE_PERMISSIONS.operator.has('token.manage')).toBe(false);
});

describe.each(API_ROUTES.map((r) => [`${r.method} ${r.url}`, r] as const))('%s', (_name, route) => {
  test.each(CALLERS)('as %s', async (caller) => {
    const request = sample(route)!;
    const want = expected(route, caller);
    const before = await f.snapshot();
    const res = await f.call(tokenOf(caller), request);
    if (want === 'allowed') {
      expect(res.statusCode, res.body).toBeLessThan(500);
      expect([401, 403]).not.toContain(res.statusCode);
      return;
    }
    expect(res.statusCode, res.body).toBe(want);
    expect(res.json().error.code).toBe(
      want === 401 ? 'ERR_ROTOR_API_TOKEN_MISSING' : 'ERR_ROTOR_API_FORBIDDEN',
    );
    // Refused means refused: nothing rotated, retired, revoked, created or audited.
    expect(await f.snapshot()).toEqual(before);
  });
});

// The events plugin's routes (live delivery), from its documented route list: the same matrix.
// The stream never ends by itself, so it is opened over a real socket and closed after the head.
describe('events plugin routes', () => {
  let base = '';
  beforeAll(async () => {
    base = await f.app.listen({ port: 0, host: '127.0.0.1' });
  });

  async function currentVersion(): Promise<string> {
    const store = await f.rotor.store();
    const row = await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', 'JWT_ACCESS_SECRET')
      .where('environment', '=', 'production')
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  async function call(
    route: RouteDoc,
    caller: Caller,
  ): Promise<{ status: number; code?: string; body: string }> {
    const token = tokenOf(caller);
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (route.url === '/v1/events') {
      // node:http with `connection: close`, destroyed after the first chunk: no pooled socket
      // outlives the test and holds up the server's close.
      const { status, body } = await new Promise<{ status: number; body: string }>(
        (resolve, reject) => {
          const req = httpGet(
            `${base}/v1/events?secrets=JWT_*&env=production`,
            { headers: { ...headers, connection: 'close' } },
            (res) => {
              res.once('data', (chunk: Buffer) => {
                resolve({ status: res.statusCode ?? 0, body: chunk.toString() });
                req.destroy();
              });
              res.once('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
            },
          );
          req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
        },
      );
      return {
        status,
        body,
        ...(status >= 400
          ? { code: (JSON.parse(body) as { error: { code: string } }).error.code }
          : {}),
      };
    }
    const payload =
      route.url === '/v1/consumers/heartbeat'
        ? {
            consumerId: `matrix-${caller}`,
            app: 'matrix',
            holds: [
              {
                secret: 'JWT_ACCESS_SECRET',
                environment: 'production',
                version: await currentVersion(),
              },
            ],
          }
        : undefined;
    const res = await f.call(token, {
      method: route.method,
      url: route.url === '/v1/consumers' ? '/v1/consumers?secret=JWT_ACCESS_SECRET' : route.url,
      ...(payload ? { payload } : {}),
    });
    return {
      status: res.statusCode,
      body: res.body,
      ...(res.statusCode >= 400
        ? { code: res.json<{ error: { code: string } }>().error.code }
        : {}),
    };
  }

  test('every documented events route is registered and in the OpenAPI document', async () => {
    const doc = (await f.call(undefined, { method: 'GET', url: '/v1/openapi.json' })).json<{
      paths: Record<string, Record<string, { 'x-rotor-permission': string }>>;
    }>();
    for (const route of EVENT_ROUTES) {
      expect(
        f.app.hasRoute({ method: route.method, url: route.url }),
        `${route.method} ${route.url}`,
      ).toBe(true);
      expect(doc.paths[route.url]?.[route.method.toLowerCase()]?.['x-rotor-permission']).toBe(
        route.permission,
      );
    }
  });

  describe.each(EVENT_ROUTES.map((r) => [`${r.method} ${r.url}`, r] as const))(
    '%s',
    (_name, route) => {
      test.each(CALLERS)('as %s', async (caller) => {
        const res = await call(route, caller);
        const want = expected(route as ApiRoute, caller);
        // The stream filters by grant instead of refusing: an app whose grant covers none of what it
        // asks for gets a stream that names nothing.
        if (route.url === '/v1/events' && caller === 'app-ungranted') {
          expect(res.status).toBe(200);
          expect(res.body).toContain('"versions":[]');
          return;
        }
        if (want === 'allowed') {
          expect(res.status, res.body).toBeLessThan(400);
          if (route.url === '/v1/events') expect(res.body).toContain('JWT_ACCESS_SECRET');
          return;
        }
        expect(res.status, res.body).toBe(want);
        expect(res.code).toBe(
          want === 401 ? 'ERR_ROTOR_API_TOKEN_MISSING' : 'ERR_ROTOR_API_FORBIDDEN',
        );
      });
    },
  );
});
