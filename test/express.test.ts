// rotor/express: the shared RFC 6750 and refresh-endpoint suite on a real Express 5 server on
// 127.0.0.1 (duplicate headers and raw bodies go over the wire), plus what only Express has.
import { request as httpRequest, type Server } from 'node:http';
import { once } from 'node:events';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { bearerAuth, refreshHandler, requireScope } from '../src/sdk/express.js';
import { defineGlueSuite, importInIsolation, REALM, type GlueFixture, type GlueHarness, type GlueRequest, type GlueResponse } from './helpers/glue-suite.js';

function send(base: URL, r: GlueRequest): Promise<GlueResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(r.path, base), { method: r.method ?? 'GET', headers: r.headers ?? {}, agent: false }, (res) => {
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
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

async function startExpress(fx: GlueFixture, build?: (app: express.Express) => void): Promise<GlueHarness> {
  const app = express();
  const auth = bearerAuth({ keys: fx.access, realm: REALM });
  app.get('/me', auth, (req, res) => {
    res.json({ auth: req.auth });
  });
  app.get('/scoped', bearerAuth({ keys: fx.access, realm: REALM, scopes: ['read'] }), (_req, res) => {
    res.json({ ok: true });
  });
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
    const app = await startExpress(fx, (a) => a.post('/refresh-json', express.json(), refreshHandler({ refresh: fx.tokens, access: fx.access, realm: REALM })));
    try {
      const session = await fx.login();
      const res = await app.send({ method: 'POST', path: '/refresh-json', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: session.refresh }) });
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
    const broken = { verify: () => { throw new Error('bug'); } };
    const app = await startExpress(fx, (a) => {
      a.get('/broken', bearerAuth({ keys: broken, realm: REALM }), (_req, res) => {
        res.json({ ok: true });
      });
      a.use((_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(500).json({ error: 'server_error' });
      });
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
    expect(() => bearerAuth({ keys: { verify: () => ({}) as never }, realm: 'a" error="x' })).toThrow(/realm/);
    expect(() => requireScope([])).toThrow(/scope/);
    expect(() => requireScope('two words')).toThrow(/scope/);
  });

  it('importing rotor/express (dist) loads neither the CLI, commander nor express', async () => {
    const ok = await importInIsolation('rotor/express');
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toEqual(['bearerAuth', 'refreshCookie', 'refreshHandler', 'requireScope']);
    // The guard itself works: the CLI entry is refused.
    const cli = await importInIsolation('./dist/cli/program.js');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('forbidden import');
  });
});
