// Rate limits that fit a deployment, and `--trust-proxy`: probes are never limited, the
// dashboard answers a limit with a 429 page, the message names a token only when there is one,
// per-token and per-address limits are separate, and behind a real reverse-proxy hop on loopback
// (a small node:http proxy that connects from 127.0.0.2, clients connect from 127.0.0.3 and up)
// client addresses, Secure cookies and same-origin checks come from the trusted proxy's headers,
// never from a client's own X-Forwarded-* headers.
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CSRF_MESSAGE } from '../src/server/dashboard/dashboard-plugin.js';
import { createServerFixture, type ServerFixture } from './server-fixture.js';
import { createProject } from './helpers/project.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request from a chosen loopback address, with any Host and headers. */
function send(
  port: number,
  options: {
    from: string;
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        localAddress: options.from,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers ?? {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A reverse proxy like nginx's usual set-up: appends the client to X-Forwarded-For, says https, keeps Host. */
async function startProxy(upstreamPort: number): Promise<Server> {
  const proxy = createServer((req, res) => {
    const client = req.socket.remoteAddress!;
    const forwarded = req.headers['x-forwarded-for']
      ? `${String(req.headers['x-forwarded-for'])}, ${client}`
      : client;
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: upstreamPort,
        localAddress: '127.0.0.2',
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          'x-forwarded-for': forwarded,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': req.headers.host ?? '',
        },
      },
      (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.listen(0, '127.0.0.1');
  await new Promise((r) => proxy.once('listening', r));
  return proxy;
}

const portOf = (server: { address(): AddressInfo | string | null }) =>
  (server.address() as AddressInfo).port;

describe('behind a trusted reverse proxy (--trust-proxy 127.0.0.2)', () => {
  let f: ServerFixture;
  let proxy: Server;
  let direct: number;
  let via: number;
  beforeAll(async () => {
    f = await createServerFixture({
      trustProxy: ['127.0.0.2'],
      rateLimit: { max: 4, perAddress: 3, timeWindowMs: 60_000 },
    });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    direct = portOf(f.app.server);
    proxy = await startProxy(direct);
    via = portOf(proxy);
  }, 60_000);
  afterAll(async () => {
    proxy?.close();
    await f?.close();
  });

  test('each client behind the proxy has its own address budget; probes are never limited', async () => {
    for (let i = 0; i < 3; i++)
      expect((await send(via, { from: '127.0.0.3', path: '/v1/openapi.json' })).status).toBe(200);
    const limited = await send(via, { from: '127.0.0.3', path: '/v1/openapi.json' });
    expect(limited.status).toBe(429);
    const error = (JSON.parse(limited.body) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ERR_ROTOR_API_RATE_LIMITED');
    expect(error.message).toMatch(/from address 127\.0\.0\.3/);
    expect(error.message).not.toMatch(/token "/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another client behind the same proxy is not held back by the first.
    expect((await send(via, { from: '127.0.0.4', path: '/v1/openapi.json' })).status).toBe(200);
    // Health and readiness probes pass, however many, from the limited client.
    for (let i = 0; i < 10; i++) {
      expect((await send(via, { from: '127.0.0.3', path: '/healthz' })).status).toBe(200);
      expect((await send(via, { from: '127.0.0.3', path: '/readyz' })).status).toBe(200);
    }
  });

  test('a client connecting directly cannot choose its address with X-Forwarded-For', async () => {
    for (let i = 0; i < 3; i++)
      await send(direct, {
        from: '127.0.0.5',
        path: '/v1/openapi.json',
        headers: { 'x-forwarded-for': `198.51.100.${i}` },
      });
    const limited = await send(direct, {
      from: '127.0.0.5',
      path: '/v1/openapi.json',
      headers: { 'x-forwarded-for': '198.51.100.99' },
    });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatch(/from address 127\.0\.0\.5/);
  });

  test('the session cookie is Secure through the https proxy, not for a direct request claiming https', async () => {
    const proxied = await send(via, {
      from: '127.0.0.6',
      path: '/dashboard/login',
      headers: { host: 'rotor.example.com' },
    });
    expect(proxied.status).toBe(200);
    expect(String(proxied.headers['set-cookie'])).toMatch(/rotor_login=[^;]+;.*Secure/);
    const spoofed = await send(direct, {
      from: '127.0.0.7',
      path: '/dashboard/login',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(spoofed.status).toBe(200);
    expect(String(spoofed.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  test("same-origin checks use the proxy's public host; a direct request with that Origin is cross-site", async () => {
    const page = await send(via, {
      from: '127.0.0.8',
      path: '/dashboard/login',
      headers: { host: 'rotor.example.com' },
    });
    const csrf = /rotor_login=([^;]+)/.exec(String(page.headers['set-cookie']))![1]!;
    const form = (origin: string, host?: string) => ({
      method: 'POST',
      path: '/dashboard/login',
      headers: {
        ...(host ? { host } : {}),
        origin,
        cookie: `rotor_login=${csrf}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        csrf,
        name: 'nobody',
        password: 'wrong password here',
        code: '000000',
      }).toString(),
    });
    const proxied = await send(via, {
      from: '127.0.0.8',
      ...form('https://rotor.example.com', 'rotor.example.com'),
    });
    expect(proxied.body).not.toContain(CSRF_MESSAGE.slice(0, 40));
    expect(proxied.status).not.toBe(403);
    const directPost = await send(direct, {
      from: '127.0.0.9',
      ...form('https://rotor.example.com'),
    });
    expect(directPost.status).toBe(403);
  });

  test('a token has its own budget; the message names the token; refused tokens count for their address', async () => {
    const auth = { authorization: `Bearer ${f.tokens.auditor}` };
    for (let i = 0; i < 4; i++)
      expect(
        (await send(via, { from: '127.0.0.10', path: '/v1/whoami', headers: auth })).status,
      ).toBe(200);
    const limited = await send(via, { from: '127.0.0.10', path: '/v1/whoami', headers: auth });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatch(/for token \\"auditor-1\\"/);
    // Wrong tokens: 401 until the address's budget is spent, then 429.
    const bad = {
      authorization: 'Bearer rtr_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    };
    for (let i = 0; i < 3; i++)
      expect(
        (await send(via, { from: '127.0.0.11', path: '/v1/whoami', headers: bad })).status,
      ).toBe(401);
    expect((await send(via, { from: '127.0.0.11', path: '/v1/whoami', headers: bad })).status).toBe(
      429,
    );
  });

  test('the dashboard answers a limit with a 429 HTML page that names no token', async () => {
    for (let i = 0; i < 3; i++) await send(via, { from: '127.0.0.12', path: '/dashboard/login' });
    const limited = await send(via, { from: '127.0.0.12', path: '/dashboard/login' });
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatch(/Too many requests/);
    expect(limited.body).not.toMatch(/token/i);
  });
});

describe('without --trust-proxy', () => {
  test("every client behind a proxy shares the proxy's address, and X-Forwarded-Proto is ignored", async () => {
    const f = await createServerFixture({
      rateLimit: { max: 100, perAddress: 2, timeWindowMs: 60_000 },
    });
    let proxy: Server | undefined;
    try {
      await f.app.listen({ host: '127.0.0.1', port: 0 });
      proxy = await startProxy(portOf(f.app.server));
      const via = portOf(proxy);
      const login = await send(via, { from: '127.0.0.3', path: '/dashboard/login' });
      expect(String(login.headers['set-cookie'])).not.toMatch(/Secure/);
      await send(via, { from: '127.0.0.3', path: '/v1/openapi.json' });
      const other = await send(via, { from: '127.0.0.4', path: '/v1/openapi.json' });
      expect(other.status).toBe(429);
      expect(other.body).toMatch(/from address 127\.0\.0\.2/);
    } finally {
      proxy?.close();
      await f.close();
    }
  }, 60_000);
});

describe('rotor serve flags', () => {
  test.each([
    [['--trust-proxy', '10.0.0.0/33'], /invalid --trust-proxy entry "10\.0\.0\.0\/33"/],
    [['--trust-proxy', '10.0.0.1,example.com'], /invalid --trust-proxy entry "example\.com"/],
    [['--trust-proxy', ''], /invalid --trust-proxy entry ""/],
    [['--rate-limit', '-5'], /invalid --rate-limit "-5"/],
    [['--rate-limit-address', '1e3'], /invalid --rate-limit-address "1e3"/],
  ])(
    'serve %j is refused before anything listens',
    async (args, message) => {
      const project = await createProject();
      const result = await project.cli(['serve', '--port', '0', ...args]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/ERR_ROTOR_CLI_USAGE|invalid/);
      expect(result.stdout).not.toMatch(/listening/);
    },
    60_000,
  );
});
