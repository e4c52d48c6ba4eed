// No credential in any log line: a real `rotor serve` (the built CLI) at ROTOR_LOG_LEVEL=trace is
// driven over HTTP through everything that carries a credential (API tokens in the header and,
// wrongly, in the query; the dashboard's sign-in with password, TOTP code and CSRF cookie; the
// session cookie and CSRF token; the calendar feed token in both URL forms; a 404 with a token in
// its query; secret values read, and one sent in a malformed body), then every line it wrote is
// searched for every credential and value. Unit tests pin what redactUrl keeps and what it cuts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOperator } from '../src/core/operators/create-operator.js';
import { base32Decode, totpCode } from '../src/core/operators/totp.js';
import { redactUrl, REDACTED } from '../src/server/log-redaction.js';
import { systemClock } from '../src/core/clock.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { createServerFixture, ADMIN_ACTOR, type ServerFixture } from './server-fixture.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/cli/main.js');
const PASSWORD = 'correct horse battery staple';

describe('redactUrl', () => {
  const feed = `rfeed_${'A'.repeat(43)}`;
  const api = `rtr_0123456789abcdef_${'b'.repeat(43)}`;
  test('cuts token shapes anywhere and credential-named query values, keeps the rest', () => {
    expect(redactUrl(`/dashboard/calendar.ics?token=${feed}`)).toBe(
      `/dashboard/calendar.ics?token=${REDACTED}`,
    );
    expect(redactUrl(`/dashboard/calendar/feed/${feed}.ics`)).toBe(
      `/dashboard/calendar/feed/${REDACTED}.ics`,
    );
    expect(redactUrl(`/v1/whoami?x=${api}`)).toBe(`/v1/whoami?x=${REDACTED}`);
    expect(redactUrl('/v1/x?access_token=abc&env=production')).toBe(
      `/v1/x?access_token=${REDACTED}&env=production`,
    );
    expect(redactUrl('/v1/x?API_KEY=abc&Password=p&csrf=c&code=123456&sig=s')).toBe(
      `/v1/x?API_KEY=${REDACTED}&Password=${REDACTED}&csrf=${REDACTED}&code=${REDACTED}&sig=${REDACTED}`,
    );
    expect(redactUrl('/v1/x?%74oken=abc')).toBe(`/v1/x?%74oken=${REDACTED}`);
    expect(redactUrl('/v1/secrets/SESSION_SECRET/value?env=production&stage=current')).toBe(
      '/v1/secrets/SESSION_SECRET/value?env=production&stage=current',
    );
    expect(redactUrl('/dashboard/audit?secret=JWT_ACCESS_SECRET&limit=50')).toBe(
      `/dashboard/audit?secret=${REDACTED}&limit=50`,
    );
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});

describe('rotor serve at trace level logs no credential', () => {
  let f: ServerFixture;
  let child: ChildProcess;
  let stdout = '';
  let stderr = '';
  let base = '';
  let totpSecret: Buffer;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
    f = await createServerFixture();
    totpSecret = base32Decode(
      (await createOperator(f.rotor, ADMIN_ACTOR, { name: 'logalice', password: PASSWORD }))
        .totpSecret,
    );
    child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--no-scheduler'], {
      cwd: f.project.dir,
      env: {
        PATH: process.env.PATH,
        HOME: f.project.dir,
        ROTOR_OPERATOR: 'tester',
        ROTOR_LOG_LEVEL: 'trace',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/listening on/.test(stdout) && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stdout);
    if (!m) throw new Error(`rotor serve did not start: ${stdout}\n${stderr}`);
    base = m[1]!;
  }, 120_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await f?.close();
  });

  test('every log line is free of tokens, cookies, CSRF tokens, the password and values', async () => {
    const credentials: Record<string, string> = {};
    const values: string[] = [];
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    // API tokens (on the real clock, as the process runs on it): in the header (right), in the
    // query (wrong, but it happens), and a forged one.
    const store = await f.rotor.store();
    const make = async (name: string, role: string) =>
      (
        await createApiToken(store, systemClock, ADMIN_ACTOR, {
          name,
          role,
          ...(role === 'app' ? { secrets: ['SESSION_SECRET'], environments: ['production'] } : {}),
          expiresInMs: 86_400_000,
        })
      ).token;
    const tokens = { app: await make('log-app', 'app'), admin: await make('log-admin', 'admin') };
    credentials.appToken = tokens.app;
    credentials.adminToken = tokens.admin;
    const read = await fetch(`${base}/v1/secrets/SESSION_SECRET/value?env=production`, {
      headers: bearer(tokens.app),
    });
    expect(read.status).toBe(200);
    values.push(((await read.json()) as { value: string }).value);
    expect((await fetch(`${base}/v1/whoami?token=${tokens.admin}`)).status).toBe(401);
    expect(
      (await fetch(`${base}/v1/whoami?access_token=${tokens.app}&api_key=${tokens.admin}`)).status,
    ).toBe(401);
    const forged = `${tokens.admin.slice(0, 21)}${'x'.repeat(43)}`;
    credentials.forgedToken = forged;
    expect((await fetch(`${base}/v1/whoami`, { headers: bearer(forged) })).status).toBe(401);
    expect((await fetch(`${base}/no/such/route?token=${tokens.app}`)).status).toBe(404);
    // A value in a body that fails to parse (a parser error may quote its input).
    const leakedValue = 'Lk9-malformed-body-value-0123456789abcdef';
    credentials.bodyValue = leakedValue;
    await fetch(`${base}/v1/secrets/SMTP_PASSWORD/import`, {
      method: 'POST',
      headers: { ...bearer(tokens.admin), 'content-type': 'application/json' },
      body: `{"value": "${leakedValue}", "environment": `,
    });

    // Dashboard: sign-in (login CSRF cookie, password, TOTP code), then the session and its CSRF token.
    const page = await fetch(`${base}/dashboard/login`);
    credentials.loginCsrf = /rotor_login=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')![1]!;
    const formCsrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const code = totpCode(totpSecret, Date.now());
    credentials.password = PASSWORD;
    const login = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `rotor_login=${credentials.loginCsrf}`,
      },
      body: new URLSearchParams({
        csrf: formCsrf,
        name: 'logalice',
        password: PASSWORD,
        code,
      }).toString(),
    });
    expect(login.status).toBe(303);
    credentials.session = /rotor_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
    const cookie = `rotor_session=${credentials.session}`;
    const calendar = await fetch(`${base}/dashboard/calendar`, { headers: { cookie } });
    credentials.sessionCsrf = /name="csrf" value="([^"]+)"/.exec(await calendar.text())![1]!;
    const made = await fetch(`${base}/dashboard/calendar/feed-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ csrf: credentials.sessionCsrf }).toString(),
    });
    const feedUrl = /id="feed-url">([^<]+)</.exec(await made.text())![1]!;
    // The URL shown is the path form; the old query form still works.
    expect(feedUrl).toMatch(/\/dashboard\/calendar\/feed\/rfeed_[A-Za-z0-9_-]{43}\.ics$/);
    credentials.feedToken = /rfeed_[A-Za-z0-9_-]{43}/.exec(feedUrl)![0];
    expect((await fetch(feedUrl)).status).toBe(200);
    expect(
      (await fetch(`${base}/dashboard/calendar.ics?token=${credentials.feedToken}`)).status,
    ).toBe(200);
    expect(
      (await fetch(`${base}/dashboard/calendar/feed/rfeed_${'z'.repeat(43)}.ics`)).status,
    ).toBe(401);
    // A form posted with the CSRF token in the query by mistake.
    await fetch(`${base}/dashboard/logout?csrf=${credentials.sessionCsrf}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });

    // Every value stored, and the token secrets by themselves.
    values.push(...(await f.values()));
    for (const name of ['appToken', 'adminToken'])
      credentials[`${name}Secret`] = credentials[name]!.slice(21);

    child.kill('SIGTERM');
    await once(child, 'exit');
    const lines = stderr.split('\n').filter(Boolean);
    // It did log at trace level: incoming requests with their URLs.
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes('"url":"/dashboard/calendar/feed/[redacted].ics"'))).toBe(
      true,
    );
    expect(lines.some((l) => l.includes('"url":"/dashboard/calendar.ics?token=[redacted]"'))).toBe(
      true,
    );
    for (const line of lines) {
      for (const [name, secret] of Object.entries(credentials))
        expect(line.includes(secret), `${name} in: ${line}`).toBe(false);
      for (const value of values) expect(line.includes(value), `a value in: ${line}`).toBe(false);
    }
  }, 120_000);
});
