// rotor/fastify: the shared RFC 6750 and refresh-endpoint suite through `app.inject()`, plus
// the plugin (decorator, no encapsulation) and what only Fastify has.
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { bearerAuth, refreshHandler, requireScope, rotorAuth } from '../src/sdk/fastify.js';
import {
  createGlueFixture,
  defineGlueSuite,
  importInIsolation,
  REALM,
  type GlueFixture,
  type GlueHarness,
} from './helpers/glue-suite.js';

function harness(app: FastifyInstance): GlueHarness {
  return {
    async send(r) {
      const res = await app.inject({
        method: r.method ?? 'GET',
        url: r.path,
        headers: r.headers ?? {},
        ...(r.body !== undefined ? { payload: r.body } : {}),
      });
      let body: Record<string, unknown> | undefined;
      try {
        body = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
      return {
        status: res.statusCode,
        headers: res.headers as Record<string, string | string[] | undefined>,
        body,
        text: res.body,
      };
    },
    close: () => app.close(),
  };
}

async function buildApp(fx: GlueFixture): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(rotorAuth, { keys: fx.access, realm: REALM });
  app.get('/me', { onRequest: app.rotorAuthenticate }, async (request) => ({ auth: request.auth }));
  app.get(
    '/scoped',
    { onRequest: bearerAuth({ keys: fx.access, realm: REALM, scopes: ['read'] }) },
    async () => ({ ok: true }),
  );
  app.get(
    '/admin',
    { onRequest: [app.rotorAuthenticate, requireScope('admin', { realm: REALM })] },
    async () => ({ ok: true }),
  );
  app.get('/unguarded', { onRequest: requireScope('admin', { realm: REALM }) }, async () => ({
    ok: true,
  }));
  app.get(
    '/not-ready',
    { onRequest: bearerAuth({ keys: fx.notReady, realm: REALM }) },
    async () => ({ ok: true }),
  );
  app.post('/refresh', refreshHandler({ refresh: fx.tokens, access: fx.access, realm: REALM }));
  await app.ready();
  return app;
}

defineGlueSuite('fastify', async (fx) => harness(await buildApp(fx)), { formBody: false });

describe('fastify: the plugin and what only Fastify has', () => {
  it('is not encapsulated: routes in a child context can use fastify.rotorAuthenticate and request.auth', async () => {
    const fx = await createGlueFixture();
    const app = Fastify();
    try {
      await app.register(rotorAuth, { keys: fx.access, realm: REALM });
      await app.register(async (child) => {
        child.get('/child/me', { onRequest: child.rotorAuthenticate }, async (request) => ({
          sub: request.auth?.sub,
        }));
      });
      expect(app.hasRequestDecorator('auth')).toBe(true);
      const { access } = await fx.login('user-9');
      const res = await app.inject({
        url: '/child/me',
        headers: { authorization: `Bearer ${access}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ sub: 'user-9' });
      expect((await app.inject({ url: '/child/me' })).statusCode).toBe(401);
    } finally {
      await app.close();
      await fx.close();
    }
  });

  it('works as a preHandler too, after the body is parsed', async () => {
    const fx = await createGlueFixture();
    const app = Fastify();
    try {
      app.post(
        '/things',
        { preHandler: bearerAuth({ keys: fx.access, realm: REALM }) },
        async (request) => ({ sub: request.auth?.sub, body: request.body }),
      );
      const { access } = await fx.login('user-3');
      const res = await app.inject({
        method: 'POST',
        url: '/things',
        headers: { authorization: `Bearer ${access}` },
        payload: { a: 1 },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ sub: 'user-3', body: { a: 1 } });
    } finally {
      await app.close();
      await fx.close();
    }
  });

  it('fails registration with a clear error for bad options', async () => {
    const app = Fastify();
    await expect(app.register(rotorAuth, { keys: undefined as never })).rejects.toThrow(
      /keys must be a keyring/,
    );
    await app.close().catch(() => {});
  });

  it('lets errors that are not Rotor refusals reach the error handler as 500', async () => {
    const app = Fastify();
    app.get(
      '/broken',
      {
        onRequest: bearerAuth({
          keys: {
            verify: () => {
              throw new Error('bug');
            },
          },
          realm: REALM,
        }),
      },
      async () => ({ ok: true }),
    );
    const res = await app.inject({ url: '/broken', headers: { authorization: 'Bearer abc' } });
    expect(res.statusCode).toBe(500);
    await app.close();
  });

  it('importing rotor/fastify (dist) loads neither the CLI, commander nor fastify', async () => {
    const ok = await importInIsolation('rotor/fastify');
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toEqual([
      'bearerAuth',
      'refreshCookie',
      'refreshHandler',
      'requireScope',
      'rotorAuth',
    ]);
  });
});
