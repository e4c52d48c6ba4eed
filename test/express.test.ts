// rotor/express: the shared RFC 6750 and refresh-endpoint suite on a real Express 5 server on
// 127.0.0.1 (duplicate headers and raw bodies go over the wire), plus what only Express has.
import { request as httpRequest, type Server } from 'node:http';
import { once } from 'node:events';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { bearerAuth, refreshHandler, requireScope } from '../src/sdk/express.js';
import {
  createTestKeySource,
  defineGlueSuite,
  importInIsolation,
  REALM,
  type GlueFixture,
  type GlueHarness,
  type GlueRequest,
  type GlueResponse,
} from './helpers/glue-suite.js';

function send(base: URL, r: GlueRequest): Promise<GlueResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(r.path, base),
      { method: r.method ?? 'GET', headers: r.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> | undefined;
          try {
            body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

async function startExpress(
  fx: GlueFixture,
  build?: (app: express.Express) => void,
): Promise<GlueHarness> {
  const app = express();
  const auth = bearerAuth({ keys: fx.access, realm: REALM });
  app.get('/me', auth, (req, res) => {
    res.json({ auth: req.auth });
  });
  app.get(
    '/scoped',
    bearerAuth({ keys: fx.access, realm: REALM, scopes: ['read'] }),
    (_req, res) => {
      res.json({ ok: true });
    },
  );
  app.get('/admin', auth, requireScope('admin', { realm: REALM }), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/unguarded', requireScope('admin', { realm: REALM }), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/not-ready', bearerAuth({ keys: fx.notReady, realm: REALM }), (_req, res) => {
    res.json({ ok: true });
  });
  // No express.json() in front: the handler reads the JSON body itself.
  app.post('/refresh', refreshHandler({ refresh: fx.tokens, access: fx.access, realm: REALM }));
  app.post('/form', express.urlencoded({ extended: false }), auth, (_req, res) => {
    res.json({ ok: true });
  });
  build?.(app);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const base = new URL(`http://127.0.0.1:${address.port}`);
  return {
    send: (r) => send(base, r),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

defineGlueSuite('express', (fx) => startExpress(fx), { formBody: true });

describe('express: what only Express has', () => {
  it('takes the refresh token from a body express.json() already parsed', async () => {
    const { createGlueFixture } = await import('./helpers/glue-suite.js');
    const fx = await createGlueFixture();
    const app = await startExpress(fx, (a) =>
      a.post(
        '/refresh-json',
        express.json(),
        refreshHandler({ refresh: fx.tokens, access: fx.access, realm: REALM }),
      ),
    );
    try {
      const session = await fx.login();
      const res = await app.send({
        method: 'POST',
        path: '/refresh-json',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: session.refresh }),
      });
      expect(res.status).toBe(200);
      expect(res.body?.token_type).toBe('Bearer');
    } finally {
      await app.close();
      await fx.close();
    }
  });

  it('passes errors that are not Rotor refusals to the error handler instead of answering 401', async () => {
    const { createGlueFixture } = await import('./helpers/glue-suite.js');
    const fx = await createGlueFixture();
    const broken = {
      verify: () => {
        throw new Error('bug');
      },
    };
    const app = await startExpress(fx, (a) => {
      a.get('/broken', bearerAuth({ keys: broken, realm: REALM }), (_req, res) => {
        res.json({ ok: true });
      });
      a.use(
        (
          _error: unknown,
          _req: express.Request,
          res: express.Response,
          _next: express.NextFunction,
        ) => {
          res.status(500).json({ error: 'server_error' });
        },
      );
    });
    try {
      const res = await app.send({ path: '/broken', headers: { authorization: 'Bearer abc' } });
      expect(res.status).toBe(500);
      expect(res.body?.error).toBe('server_error');
    } finally {
      await app.close();
      await fx.close();
    }
  });

  it('refuses a realm that would break out of its quoted-string', () => {
    expect(() =>
      bearerAuth({ keys: { verify: () => ({}) as never }, realm: 'a" error="x' }),
    ).toThrow(/realm/);
    expect(() => requireScope([])).toThrow(/scope/);
    expect(() => requireScope('two words')).toThrow(/scope/);
  });

  it('importing rotor/express (dist) loads neither the CLI, commander nor express', async () => {
    const ok = await importInIsolation('rotor/express');
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toEqual([
      'bearerAuth',
      'refreshCookie',
      'refreshHandler',
      'requireScope',
    ]);
    // The guard itself works: the CLI entry is refused.
    const cli = await importInIsolation('./dist/cli/program.js');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('forbidden import');
  });
});

describe('the example app (examples/express-app), in process', () => {
  interface ExampleInstance {
    listen(port?: number, host?: string): Promise<string>;
    close(): Promise<void>;
    tokens: {
      revokeSessions(
        scope: { userId: string },
        options: { requirePasswordReset?: boolean; reason?: string },
      ): Promise<void>;
    };
  }
  interface ExampleModule {
    createApp: (options: Record<string, unknown>) => Promise<ExampleInstance>;
  }
  const alice = { username: 'alice', password: 'alice-demo-password' };

  async function start() {
    // A computed specifier: the example is plain JavaScript, imported as an app would run it.
    const path = new URL('../examples/express-app/server.js', import.meta.url).href;
    const { createApp } = (await import(path)) as ExampleModule;
    const keySource = createTestKeySource(
      () => Date.now(),
      ['JWT_ACCESS_SECRET', 'JWT_REFRESH_SECRET'],
    );
    const instance = await createApp({ keySource, env: {}, log: () => {} });
    const base = await instance.listen(0, '127.0.0.1');
    const call = async (
      path: string,
      init: { method?: string; token?: string; body?: unknown } = {},
    ) => {
      const res = await fetch(`${base}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        headers: res.headers,
        body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
      };
    };
    return { instance, call };
  }

  it('logs in with a scrypt-checked password, serves /me, refreshes and logs out', async () => {
    const { instance, call } = await start();
    try {
      expect(
        (await call('/login', { method: 'POST', body: { ...alice, password: 'wrong' } })).status,
      ).toBe(400);
      expect(
        (await call('/login', { method: 'POST', body: { username: 'nobody', password: 'x' } }))
          .status,
      ).toBe(400);
      const login = await call('/login', { method: 'POST', body: alice });
      expect(login.status).toBe(200);
      expect(login.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
      const me = await call('/me', { token: login.body.access_token as string });
      expect(me.body).toMatchObject({ id: 'user-alice', name: 'alice' });
      const refreshed = await call('/refresh', {
        method: 'POST',
        body: { refresh_token: login.body.refresh_token },
      });
      expect(refreshed.status).toBe(200);
      expect(
        (await call('/logout', { method: 'POST', token: refreshed.body.access_token as string }))
          .status,
      ).toBe(204);
      const after = await call('/refresh', {
        method: 'POST',
        body: { refresh_token: refreshed.body.refresh_token },
      });
      expect(after.status).toBe(401);
      expect(after.body).toMatchObject({
        error: 'invalid_grant',
        code: 'ERR_ROTOR_TOKENS_FAMILY_REVOKED',
      });
    } finally {
      await instance.close();
    }
  });

  it('gives browsers the refresh token as an HttpOnly cookie only', async () => {
    const { instance, call } = await start();
    try {
      const login = await call('/login', { method: 'POST', body: { ...alice, cookie: true } });
      expect(login.status).toBe(200);
      expect(login.body.refresh_token).toBeUndefined();
      expect(login.headers.get('set-cookie')).toMatch(
        /^refresh_token=[\w.-]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
      );
    } finally {
      await instance.close();
    }
  });

  it('refuses a login while the user must reset the password, until the new password is set', async () => {
    const { instance, call } = await start();
    try {
      const old = await call('/login', { method: 'POST', body: alice });
      await instance.tokens.revokeSessions(
        { userId: 'user-alice' },
        { requirePasswordReset: true, reason: 'test' },
      );
      const refused = await call('/login', { method: 'POST', body: alice });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe('password_reset_required');
      expect(
        (
          await call('/refresh', {
            method: 'POST',
            body: { refresh_token: old.body.refresh_token },
          })
        ).status,
      ).toBe(401);
      const changed = await call('/password', {
        method: 'POST',
        body: { ...alice, new_password: 'a-brand-new-password' },
      });
      expect(changed.status).toBe(204);
      expect((await call('/login', { method: 'POST', body: alice })).status).toBe(400);
      expect(
        (
          await call('/login', {
            method: 'POST',
            body: { username: 'alice', password: 'a-brand-new-password' },
          })
        ).status,
      ).toBe(200);
    } finally {
      await instance.close();
    }
  });
});
