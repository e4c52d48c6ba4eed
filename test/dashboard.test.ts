import { afterEach, describe, expect, it } from 'vitest';
import {
  hotp,
  matchTotp,
  base32Decode,
  base32Encode,
  otpauthUri,
  totpCode,
} from '../src/core/operators/totp.js';
import { hashPassword, verifyPassword } from '../src/core/operators/password-hash.js';
import { escapeHtml } from '../src/server/dashboard/html.js';
import { foldLine, icsText } from '../src/server/dashboard/ics-feed.js';
import { buildApp } from '../src/server/app.js';
import { recordHeartbeats } from '../src/core/consumers/record-heartbeat.js';
import { acquireLock, lockName } from '../src/core/rotation/lock.js';
import { generateMasterKey } from '../src/core/crypto/envelope.js';
import { openTotpSecret } from '../src/core/operators/operator-record.js';
import { rewrapOperatorSecrets } from '../src/core/operators/rewrap-operator-secrets.js';
import { createDashboardPlugin, CSRF_MESSAGE } from '../src/server/dashboard/dashboard-plugin.js';
import { createProject } from './helpers/project.js';
import {
  cookieValue,
  createDashboardFixture,
  csrfOf,
  form,
  FORM,
  HOSTILE_NOTES,
  HOSTILE_OWNER,
  PASSWORD,
  setCookies,
  signIn,
  type DashboardFixture,
} from './dashboard-fixture.js';

let fixture: DashboardFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function setup(options: Parameters<typeof createDashboardFixture>[0] = {}) {
  fixture = await createDashboardFixture(options);
  return fixture;
}

async function auditRows(f: DashboardFixture) {
  const store = await f.rotor.store();
  return (
    await store.db.selectFrom('audit_events').select(['seq', 'entry']).orderBy('seq').execute()
  ).map((r) => ({ seq: r.seq, ...JSON.parse(r.entry) }));
}

async function snapshot(f: DashboardFixture) {
  const store = await f.rotor.store();
  const audit = await store.db.selectFrom('audit_events').select('seq').execute();
  const versions = await store.db
    .selectFrom('versions')
    .select(['id', 'stage'])
    .orderBy('id')
    .execute();
  const rotations = await store.db.selectFrom('rotations').select('id').execute();
  return { audit: audit.length, versions: JSON.stringify(versions), rotations: rotations.length };
}

describe('TOTP (RFC 6238) and argon2id', () => {
  it('matches the RFC 4226 HOTP test vectors and the RFC 6238 SHA-1 vector', () => {
    const key = Buffer.from('12345678901234567890');
    expect([0, 1, 2, 9].map((c) => hotp(key, c))).toEqual(['755224', '287082', '359152', '520489']);
    // RFC 6238 Appendix B, T = 59 s: 94287082 (8 digits) → 287082 with 6.
    expect(totpCode(key, 59_000)).toBe('287082');
    expect(base32Decode(base32Encode(key)).equals(key)).toBe(true);
    expect(otpauthUri('Rotor', 'alice', key)).toMatch(
      /^otpauth:\/\/totp\/Rotor:alice\?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Rotor/,
    );
  });

  it('accepts a code one step either side and refuses a replayed step', () => {
    const key = Buffer.from('12345678901234567890');
    const now = 1_000_000_000_000;
    // The match is the step the code was made for: the one before now's.
    expect(matchTotp(key, totpCode(key, now - 30_000), now, null)).toBe(
      Math.floor(now / 30_000) - 1,
    );
    expect(matchTotp(key, totpCode(key, now - 90_000), now, null)).toBeUndefined();
    const step = matchTotp(key, totpCode(key, now), now, null)!;
    expect(matchTotp(key, totpCode(key, now), now, step)).toBeUndefined();
  });

  it('hashes passwords with argon2id and verifies them', async () => {
    const stored = await hashPassword('a long enough password');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword('a long enough password', stored)).toBe(true);
    expect(await verifyPassword('a long enough passwore', stored)).toBe(false);
    expect(await verifyPassword('x', 'not a hash')).toBe(false);
  });
});

describe('rotor operator', () => {
  it('adds an operator from stdin, prints the otpauth URI once, lists and disables it, all audited', async () => {
    const p = await createProject();
    const add = await p.cli(['operator', 'add', 'bob'], { stdin: `${PASSWORD}\n` });
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/otpauth:\/\/totp\/Rotor:bob\?secret=[A-Z2-7]{32}&issuer=Rotor/);
    expect(add.stdout).not.toContain(PASSWORD);
    const list = await p.cli(['operator', 'list', '--json']);
    expect(JSON.parse(list.stdout).operators).toEqual([
      { name: 'bob', createdBy: 'tester', createdAt: '2026-01-01T00:00:00.000Z', disabledAt: null },
    ]);
    expect(list.stdout).not.toMatch(/argon2|secret/i);
    expect((await p.cli(['operator', 'add', 'bob'], { stdin: `${PASSWORD}\n` })).stderr).toContain(
      'ERR_ROTOR_OPERATOR_EXISTS',
    );
    expect((await p.cli(['operator', 'disable', 'bob'])).code).toBe(0);
    const audit = await p.cli(['audit', 'list', '--json']);
    const actions = JSON.parse(audit.stdout).events.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['operator.create', 'operator.disable']));
  });

  it("re-wraps operators' TOTP secrets under a new master key (rewrapOperatorSecrets): they open with the new key only", async () => {
    const f = await setup();
    const store = await f.rotor.store();
    const old = await f.rotor.masterKey();
    const next = generateMasterKey();
    expect(await store.writeTransaction((trx) => rewrapOperatorSecrets(trx, old, next))).toBe(1);
    const row = await store.db
      .selectFrom('operators')
      .selectAll()
      .where('name', '=', 'alice')
      .executeTakeFirstOrThrow();
    expect(row.totp_master_key_id).toBe(next.id);
    expect(openTotpSecret(next, row).equals(f.totpSecret)).toBe(true);
    expect(() => openTotpSecret(old, row)).toThrow(/ERR_ROTOR_CRYPTO_DECRYPT_FAILED|cannot unwrap/);
  });

  it('refuses a short password, a bad name and a password on argv, creating nothing', async () => {
    const p = await createProject();
    const short = await p.cli(['operator', 'add', 'bob'], { stdin: 'short\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('ERR_ROTOR_OPERATOR_PASSWORD_WEAK');
    const bad = await p.cli(['operator', 'add', '../evil'], { stdin: `${PASSWORD}\n` });
    expect(bad.stderr).toContain('ERR_ROTOR_OPERATOR_NAME_INVALID');
    const argv = await p.cli(['operator', 'add', 'bob', `--value=${PASSWORD}`]);
    expect(argv.stderr).toContain('ERR_ROTOR_VALUE_ON_ARGV');
    expect(argv.stderr).not.toContain(PASSWORD);
    expect(JSON.parse((await p.cli(['operator', 'list', '--json'])).stdout).operators).toEqual([]);
  });
});

describe('dashboard sign-in', () => {
  it('signs in with password and TOTP: session cookie HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP; audited with the request id', async () => {
    const f = await setup();
    const { cookie, res } = await signIn(f);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard/');
    const session = setCookies(res).find((c) => c.startsWith('rotor_session='))!;
    expect(session).toMatch(/; Path=\//);
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; SameSite=Strict/);
    expect(session).not.toMatch(/Secure/);
    const page = await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('signed in as <b id="operator-name">alice</b>');
    const login = (await auditRows(f)).filter((r) => r.action === 'operator.login');
    expect(login).toEqual([
      expect.objectContaining({
        operator: 'alice',
        outcome: 'success',
        requestId: res.headers['x-request-id'],
      }),
    ]);
    // The store keeps only hashes of the cookie and the CSRF token.
    const store = await f.rotor.store();
    const rows = await store.db.selectFrom('web_sessions').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).not.toBe(cookie.split('=')[1]);
    expect(rows[0]!.csrf_hash).not.toBe(csrfOf(page.body));
  });

  it('sets Secure on the session cookie when the request came over TLS', async () => {
    const f = await setup({ trustProxy: true });
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/login',
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(setCookies(page)[0]).toMatch(/; Secure/);
    const res = await f.app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: {
        ...FORM,
        'x-forwarded-proto': 'https',
        cookie: `rotor_login=${cookieValue(page, 'rotor_login')}`,
      },
      payload: form({
        csrf: csrfOf(page.body),
        name: 'alice',
        password: PASSWORD,
        code: f.nextCode(),
      }),
    });
    expect(res.statusCode).toBe(303);
    expect(setCookies(res).find((c) => c.startsWith('rotor_session='))).toMatch(
      /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/,
    );
  });

  it('answers a wrong password, a wrong TOTP code and an unknown name with the same generic error and no session', async () => {
    const f = await setup();
    const answers = [
      await signIn(f, { password: 'wrong password!!' }),
      await signIn(f, { code: '000000' }),
      await signIn(f, { name: 'mallory' }),
    ];
    for (const { cookie, res } of answers) {
      expect(res.statusCode).toBe(401);
      expect(cookie).toBe('');
      expect(res.body).toContain('Sign-in failed: check the name, the password and the code.');
    }
    const failures = (await auditRows(f)).filter((r) => r.action === 'operator.login');
    expect(failures.map((r) => [r.outcome, r.details.reason])).toEqual([
      ['failure', 'password'],
      ['failure', 'totp'],
      ['failure', 'unknown-operator'],
    ]);
  });

  it('refuses a TOTP code that was already used', async () => {
    const f = await setup();
    const code = f.nextCode();
    expect((await signIn(f, { code })).res.statusCode).toBe(303);
    expect((await signIn(f, { code })).res.statusCode).toBe(401);
  });

  it('rate-limits failed sign-ins per name and address (429), then lets the operator in after the window', async () => {
    const f = await setup({ loginLimit: { maxFailures: 3, windowMs: 600_000 } });
    for (let i = 0; i < 3; i++)
      expect((await signIn(f, { password: 'wrong password!!' })).res.statusCode).toBe(401);
    const limited = await signIn(f);
    expect(limited.res.statusCode).toBe(429);
    // Whole seconds until the 10-minute window of the first failure ends.
    expect(limited.res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(Number(limited.res.headers['retry-after'])).toBeLessThanOrEqual(600);
    f.project.clock.advance(600_000);
    expect((await signIn(f)).res.statusCode).toBe(303);
  });

  it('refuses a login POST without the pre-login CSRF value (403)', async () => {
    const f = await setup();
    const res = await f.app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: FORM,
      payload: form({ name: 'alice', password: PASSWORD, code: f.nextCode() }),
    });
    expect(res.statusCode).toBe(403);
    expect(cookieValue(res, 'rotor_session')).toBeUndefined();
  });

  it('redirects pages to the sign-in page without a session; logout ends the session', async () => {
    const f = await setup();
    const anon = await f.app.inject({ method: 'GET', url: '/dashboard/' });
    expect(anon.statusCode).toBe(303);
    expect(anon.headers.location).toBe('/dashboard/login');
    const { cookie } = await signIn(f);
    const page = await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } });
    const out = await f.app.inject({
      method: 'POST',
      url: '/dashboard/logout',
      headers: { ...FORM, cookie },
      payload: form({ csrf: csrfOf(page.body) }),
    });
    expect(out.statusCode).toBe(303);
    expect(setCookies(out)[0]).toMatch(/^rotor_session=; .*Max-Age=0/);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } })).statusCode,
    ).toBe(303);
    expect((await auditRows(f)).at(-1)).toMatchObject({
      action: 'operator.logout',
      operator: 'alice',
      requestId: out.headers['x-request-id'],
    });
  });

  it('ends a session after an hour idle and after 12 hours in any case', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    f.project.clock.advance(59 * 60_000);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } })).statusCode,
    ).toBe(200);
    f.project.clock.advance(61 * 60_000);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } })).statusCode,
    ).toBe(303);
    const second = await signIn(f);
    for (let i = 0; i < 14; i++) {
      f.project.clock.advance(55 * 60_000);
      expect(
        (
          await f.app.inject({
            method: 'GET',
            url: '/dashboard/',
            headers: { cookie: second.cookie },
          })
        ).statusCode,
      ).toBe(i < 13 ? 200 : 303); // 13 × 55 min < 12 h < 14 × 55 min
    }
  });

  it('ends the sessions of a disabled operator at once', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    expect((await f.project.cli(['operator', 'disable', 'alice'])).code).toBe(0);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } })).statusCode,
    ).toBe(303);
    expect((await signIn(f)).res.statusCode).toBe(401);
  });
});

describe('dashboard CSRF', () => {
  it('answers a POST without the CSRF token with 403 and a clear message, and changes nothing', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const before = await snapshot(f);
    const res = await f.app.inject({
      method: 'POST',
      url: '/dashboard/secrets/SESSION_SECRET/rotate',
      headers: { ...FORM, cookie },
      payload: form({ reason: 'csrf attempt' }),
    });
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain(CSRF_MESSAGE.replace(/'/g, '&#39;'));
    expect(await snapshot(f)).toEqual(before);
  });

  it('refuses a wrong token, a cross-site Origin and a POST without a session (403), changing nothing', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SESSION_SECRET',
      headers: { cookie },
    });
    const csrf = csrfOf(page.body);
    const before = await snapshot(f);
    const url = '/dashboard/secrets/SESSION_SECRET/emergency';
    const payload = form({ csrf, reason: 'x', confirm: 'SESSION_SECRET' });
    const attempts = [
      {
        headers: { ...FORM, cookie },
        payload: form({ csrf: `${csrf.slice(0, -2)}xx`, reason: 'x', confirm: 'SESSION_SECRET' }),
      },
      { headers: { ...FORM, cookie, origin: 'https://evil.example' }, payload },
      { headers: { ...FORM, cookie, 'sec-fetch-site': 'cross-site' }, payload },
      { headers: FORM, payload },
    ];
    for (const a of attempts)
      expect((await f.app.inject({ method: 'POST', url, ...a })).statusCode).toBe(403);
    expect(await snapshot(f)).toEqual(before);
  });
});

describe('dashboard pages', () => {
  it('serves pages under a strict Content-Security-Policy with no inline script, and the two assets', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } });
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).not.toMatch(/<script>|<script [^>]*>[^<]|\son[a-z]+=|style="/);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/assets/dashboard.js' })).headers[
        'content-type'
      ],
    ).toMatch(/^text\/javascript/);
    expect(
      (await f.app.inject({ method: 'GET', url: '/dashboard/assets/dashboard.css' })).headers[
        'content-type'
      ],
    ).toMatch(/^text\/css/);
  });

  it('shows every secret × environment with its state and next due date, and filters by state', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({ method: 'GET', url: '/dashboard/', headers: { cookie } });
    const rows = page.body.match(/<tr><td><a href="\/dashboard\/secrets\//g) ?? [];
    expect(rows).toHaveLength(6); // 3 secrets × 2 environments
    expect(page.body).toContain('<span class="badge s-ok" data-state="ok">ok</span>');
    expect(page.body).toContain(
      '<span class="badge s-unknown" data-state="unknown">unknown</span>',
    );
    expect(page.body).toContain('2026-04-01'); // JWT_ACCESS_SECRET: rotated 2026-01-01, due at 90 d
    const filtered = await f.app.inject({
      method: 'GET',
      url: '/dashboard/?state=unknown',
      headers: { cookie },
    });
    expect(filtered.body.match(/<tr><td><a href="\/dashboard\/secrets\//g)).toHaveLength(2);
  });

  it('escapes a hostile owner and notes everywhere they are shown', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    for (const url of [
      '/dashboard/',
      '/dashboard/secrets/SESSION_SECRET',
      '/dashboard/calendar',
      '/dashboard/?q=%3Cscript%3E',
    ]) {
      const page = await f.app.inject({ method: 'GET', url, headers: { cookie } });
      expect(page.statusCode).toBe(200);
      expect(page.body).not.toContain('<script>alert');
      expect(page.body).not.toContain('<img src=x');
      expect(page.body).toContain(escapeHtml(HOSTILE_OWNER));
    }
    const secret = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SESSION_SECRET',
      headers: { cookie },
    });
    expect(secret.body).toContain(escapeHtml(HOSTILE_NOTES));
    const search = await f.app.inject({
      method: 'GET',
      url: '/dashboard/?q=%22%3E%3Cscript%3Ex%3C%2Fscript%3E',
      headers: { cookie },
    });
    expect(search.body).toContain('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    const missing = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/%3Cscript%3Ealert(1)%3C%2Fscript%3E',
      headers: { cookie },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).not.toContain('<script>alert');
  });

  it('rotates through the form: audit rows carry the operator and the request id, the secret page shows the outcome', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SESSION_SECRET',
      headers: { cookie },
    });
    expect(page.body).toContain('id="rotate-form"');
    const res = await f.app.inject({
      method: 'POST',
      url: '/dashboard/secrets/SESSION_SECRET/rotate',
      headers: { ...FORM, cookie },
      payload: form({
        csrf: csrfOf(page.body),
        environment: 'staging',
        reason: 'quarterly <b>rotation</b>',
      }),
    });
    expect(res.statusCode).toBe(303);
    const requestId = res.headers['x-request-id'] as string;
    expect(res.headers.location).toBe(`/dashboard/secrets/SESSION_SECRET?request=${requestId}`);
    const rows = (await auditRows(f)).filter((r) => r.requestId === requestId);
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['rotate.start', 'rotate.promote']),
    );
    for (const r of rows)
      expect(r).toMatchObject({
        operator: 'alice',
        secret: 'SESSION_SECRET',
        environment: 'staging',
        method: 'manual',
      });
    const store = await f.rotor.store();
    const rotation = await store.db
      .selectFrom('rotations')
      .selectAll()
      .where('request_id', '=', requestId)
      .executeTakeFirstOrThrow();
    expect(rotation).toMatchObject({
      operator: 'alice',
      reason: 'quarterly <b>rotation</b>',
      state: 'succeeded',
    });
    const after = await f.app.inject({
      method: 'GET',
      url: res.headers.location!,
      headers: { cookie },
    });
    expect(after.body).toContain('Rotated in staging');
    expect(after.body).toContain('quarterly &lt;b&gt;rotation&lt;/b&gt;');
    expect(after.body).toContain('<span class="badge st-previous">previous</span>');
  });

  it('emergency-rotates only with the typed confirmation and a reason; without them nothing changes', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/JWT_ACCESS_SECRET',
      headers: { cookie },
    });
    const csrf = csrfOf(page.body);
    const url = '/dashboard/secrets/JWT_ACCESS_SECRET/emergency';
    const before = await snapshot(f);
    const wrong = await f.app.inject({
      method: 'POST',
      url,
      headers: { ...FORM, cookie },
      payload: form({ csrf, reason: 'leaked', confirm: 'JWT_ACCESS' }),
    });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('type the secret&#39;s name (JWT_ACCESS_SECRET) exactly');
    const noReason = await f.app.inject({
      method: 'POST',
      url,
      headers: { ...FORM, cookie },
      payload: form({ csrf, reason: ' ', confirm: 'JWT_ACCESS_SECRET' }),
    });
    expect(noReason.statusCode).toBe(400);
    expect(await snapshot(f)).toEqual(before);
    const ok = await f.app.inject({
      method: 'POST',
      url,
      headers: { ...FORM, cookie },
      payload: form({
        csrf,
        reason: 'key leaked in a log',
        confirm: 'JWT_ACCESS_SECRET',
        environment: 'production',
      }),
    });
    expect(ok.statusCode).toBe(303);
    const rows = (await auditRows(f)).filter((r) => r.requestId === ok.headers['x-request-id']);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toMatchObject({ operator: 'alice', method: 'emergency' });
  });

  it('offers no rotate form for a manual secret and refuses a forged one', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SMTP_PASSWORD',
      headers: { cookie },
    });
    expect(page.body).not.toContain('id="rotate-form"');
    const before = await snapshot(f);
    const res = await f.app.inject({
      method: 'POST',
      url: '/dashboard/secrets/SMTP_PASSWORD/rotate',
      headers: { ...FORM, cookie },
      payload: form({ csrf: csrfOf(page.body), reason: 'x' }),
    });
    expect(res.statusCode).toBe(400);
    expect(await snapshot(f)).toEqual(before);
  });

  it('shows the audit log with its chain status and exports CSV', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/audit',
      headers: { cookie },
    });
    expect(page.body).toContain('id="chain-status" data-ok="true"');
    expect(page.body).toContain('operator.login');
    const csv = await f.app.inject({
      method: 'GET',
      url: '/dashboard/audit.csv?action=operator',
      headers: { cookie },
    });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(
      /attachment; filename="rotor-audit-\d{4}-\d\d-\d\d\.csv"/,
    );
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toBe(
      'seq,at,secret,environment,operator,method,action,outcome,request_id,notes,details,hash',
    );
    expect(lines.slice(1).every((l) => l.includes(',operator.'))).toBe(true);
  });

  it('publishes the calendar as an ICS feed (RFC 5545) for a session or a feed token, and refuses anyone else', async () => {
    const f = await setup();
    expect((await f.app.inject({ method: 'GET', url: '/dashboard/calendar.ics' })).statusCode).toBe(
      401,
    );
    expect(
      (
        await f.app.inject({
          method: 'GET',
          url: '/dashboard/calendar.ics?token=rfeed_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        })
      ).statusCode,
    ).toBe(401);
    const { cookie } = await signIn(f);
    const ics = await f.app.inject({
      method: 'GET',
      url: '/dashboard/calendar.ics',
      headers: { cookie },
    });
    expect(ics.statusCode).toBe(200);
    expect(ics.headers['content-type']).toBe('text/calendar; charset=utf-8');
    const body = ics.body;
    expect(body.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:')).toBe(true);
    expect(body.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(body.replace(/\r\n/g, '')).not.toMatch(/\n/);
    for (const line of body.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    const events = body.split('BEGIN:VEVENT').length - 1;
    expect(events).toBe(4); // JWT_ACCESS_SECRET and SESSION_SECRET in two environments
    expect(body).toContain('UID:JWT_ACCESS_SECRET.production.20260401@rotor');
    expect(body).toContain('DTSTART;VALUE=DATE:20260401\r\nDTEND;VALUE=DATE:20260402');
    expect(body).toContain('SUMMARY:Rotate JWT_ACCESS_SECRET (production)');
    expect(body.replace(/\r\n /g, '')).toContain('Owner: <script>alert("owner")</script>.'); // text, escaped per RFC 5545 where needed
    const cal = await f.app.inject({
      method: 'GET',
      url: '/dashboard/calendar',
      headers: { cookie },
    });
    const made = await f.app.inject({
      method: 'POST',
      url: '/dashboard/calendar/feed-token',
      headers: { ...FORM, cookie },
      payload: form({ csrf: csrfOf(cal.body) }),
    });
    const feedUrl = /id="feed-url">([^<]+)</.exec(made.body)![1]!;
    const viaToken = await f.app.inject({
      method: 'GET',
      url: new URL(feedUrl).pathname + new URL(feedUrl).search,
    });
    expect(viaToken.statusCode).toBe(200);
    expect(viaToken.body).toContain('BEGIN:VEVENT');
  });

  it('escapes ICS text and folds long lines without splitting a character', () => {
    expect(icsText('a,b;c\\d\ne')).toBe('a\\,b\\;c\\\\d\\ne');
    const folded = foldLine(`DESCRIPTION:${'é'.repeat(100)}`);
    for (const line of folded.split('\r\n'))
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    expect(folded.replace(/\r\n /g, '')).toBe(`DESCRIPTION:${'é'.repeat(100)}`);
  });
});

describe('dashboard inside buildApp', () => {
  it('works as a buildApp plugin (one given in plugins replaces the default): sign in, rotate with the request id buildApp answers, odd bodies are 4xx', async () => {
    const f = await setup();
    const app = await buildApp({
      rotor: f.rotor,
      plugins: [createDashboardPlugin({ loginLimit: { maxFailures: 50, windowMs: 60_000 } })],
      requestLogging: false,
    });
    try {
      const g = { ...f, app };
      const { cookie } = await signIn(g);
      expect(cookie).not.toBe('');
      const page = await app.inject({
        method: 'GET',
        url: '/dashboard/secrets/SESSION_SECRET',
        headers: { cookie },
      });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      const res = await app.inject({
        method: 'POST',
        url: '/dashboard/secrets/SESSION_SECRET/rotate',
        headers: { ...FORM, cookie },
        payload: form({ csrf: csrfOf(page.body), reason: 'via buildApp' }),
      });
      expect(res.statusCode).toBe(303);
      const rows = (await auditRows(f)).filter((r) => r.requestId === res.headers['x-request-id']);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r.operator).toBe('alice');
      const json = await app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/json' },
        payload: { name: 1, password: [], code: {} },
      });
      expect(json.statusCode).toBe(403);
      const text = await app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
      });
      expect(text.statusCode).toBe(415);
    } finally {
      await app.close();
    }
  });

  it('is on by default in buildApp (rotor serve) at /dashboard', async () => {
    const f = await setup();
    const app = await buildApp({ rotor: f.rotor, requestLogging: false });
    try {
      const login = await app.inject({ method: 'GET', url: '/dashboard/login' });
      expect(login.statusCode).toBe(200);
      expect(login.headers['content-type']).toBe('text/html; charset=utf-8');
      expect((await app.inject({ method: 'GET', url: '/dashboard/' })).headers.location).toBe(
        '/dashboard/login',
      );
    } finally {
      await app.close();
    }
  });
});

describe('dashboard consumers', () => {
  it('shows which live consumers still hold an old version of a secret', async () => {
    const f = await setup();
    const store = await f.rotor.store();
    const current = await store.db
      .selectFrom('versions')
      .select('id')
      .where('secret', '=', 'SESSION_SECRET')
      .where('environment', '=', 'production')
      .where('stage', '=', 'current')
      .executeTakeFirstOrThrow();
    await recordHeartbeats(store, f.project.clock, [
      {
        consumerId: 'web-1',
        app: 'web<script>',
        holds: [{ secret: 'SESSION_SECRET', environment: 'production', version: current.id }],
      },
      {
        consumerId: 'worker-1',
        app: 'worker',
        holds: [{ secret: 'SESSION_SECRET', environment: 'production', version: 'old-version-id' }],
      },
    ]);
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SESSION_SECRET',
      headers: { cookie },
    });
    expect(page.body).toContain(
      'id="consumers-behind">1 live consumer(s) still hold an old version',
    );
    expect(page.body).toMatch(/data-consumer="worker-1">.*old-version-id.*old version/);
    expect(page.body).toMatch(/data-consumer="web-1"><td>web&lt;script&gt;<\/td>.*current/);
  });
});

describe('dashboard rotation refusals', () => {
  it('shows a rotation refused by the engine (lock held) on the secret page with 409, not a 500', async () => {
    const f = await setup();
    const { cookie } = await signIn(f);
    const page = await f.app.inject({
      method: 'GET',
      url: '/dashboard/secrets/SESSION_SECRET',
      headers: { cookie },
    });
    const store = await f.rotor.store();
    const lock = await acquireLock(store, f.project.clock, lockName('SESSION_SECRET', 'staging'));
    try {
      const res = await f.app.inject({
        method: 'POST',
        url: '/dashboard/secrets/SESSION_SECRET/rotate',
        headers: { ...FORM, cookie },
        payload: form({ csrf: csrfOf(page.body), reason: 'busy', environment: 'staging' }),
      });
      expect(res.statusCode).toBe(409);
      expect(res.body).toContain('ERR_ROTOR_LOCK_HELD: SESSION_SECRET:staging is being rotated');
    } finally {
      await lock.release();
    }
  });
});
