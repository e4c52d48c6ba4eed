// The `twilio` rotator end to end through the engine, against a local, stateful fake of the
// Twilio REST subset it calls (test/fakes/twilio-fake.ts: Basic auth, the secondary/promote auth
// token semantics, API keys, Standard-key refusals). No Twilio account is reached.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/core/audit/audit-log.js';
import { isRotorError } from '../src/core/errors.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion, parseMeta } from '../src/core/vault/versions.js';
import { twilioRotator } from '../src/rotators/twilio.js';
import { FakeTwilio } from './fakes/twilio-fake.js';
import { auditEntries } from './helpers/audit-entries.js';
import { loggedRotor } from './helpers/logged-rotor.js';
import { createProject, type TestProject } from './helpers/project.js';
import { crashRotationAt, expectNoValues } from './helpers/provider-crash.js';

const fake = new FakeTwilio();
let endpoint = '';
beforeAll(async () => {
  endpoint = await fake.start();
});
afterAll(() => fake.stop());

const actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000c7',
  method: 'manual' as const,
};
const HOUR = 3_600_000;
/** An auth token as Twilio (and the fake) makes it: 32 hex digits. */
const AUTH_TOKEN = /^[0-9a-f]{32}$/;

/** GET with Basic auth, as an app would call Twilio: the status only. */
async function statusWith(username: string, password: string, path: string): Promise<number> {
  const response = await fetch(new URL(path, endpoint), {
    headers: {
      authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
    },
  });
  await response.text();
  return response.status;
}

interface Fixture {
  p: TestProject;
  name: string;
  logs: string[];
  rotate(o?: {
    emergency?: boolean;
  }): ReturnType<ReturnType<typeof createRotationEngine>['rotate']>;
  retire(o?: {
    now?: boolean;
    reason?: string;
  }): ReturnType<ReturnType<typeof createRotationEngine>['retire']>;
  value(stage: 'current' | 'previous'): Promise<string | undefined>;
  rows(): Promise<Array<{ id: string; stage: string; meta: Record<string, unknown> }>>;
  audit(): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

async function fixture(config: string, name: string, extra = ''): Promise<Fixture> {
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  ${name}:
    kind: twilio
    cadence: 180d
    grace: 1h
    config:
${config}
      apiBase: "${endpoint}"
      propagation: { attempts: 2, delayMs: 5 }
${extra}`,
  });
  const { rotor, logs } = loggedRotor(p);
  const engine = createRotationEngine({ rotor });
  const rows = async () => {
    const store = await rotor.store();
    return store.db
      .selectFrom('versions')
      .selectAll()
      .where('secret', '=', name)
      .orderBy(sql`rowid`)
      .execute();
  };
  return {
    p,
    name,
    logs,
    rotate: (o = {}) =>
      engine.rotate(actor, {
        secret: name,
        method: o.emergency ? 'emergency' : 'manual',
        ...(o.emergency ? { emergency: true, reason: 'token pasted in a chat' } : {}),
      }),
    retire: (o = {}) => engine.retire(actor, { secret: name, ...o }),
    async value(stage) {
      const row = (await rows()).find((r) => r.stage === stage);
      return row ? openVersion(await rotor.masterKey(), row) : undefined;
    },
    async rows() {
      return (await rows()).map((r) => ({ id: r.id, stage: r.stage, meta: parseMeta(r) }));
    },
    audit: () => auditEntries(rotor),
    close: () => rotor.close(),
  };
}

async function tokenFixture(options: { admin?: 'main' | 'standard' } = {}) {
  const account = fake.addAccount();
  const f = await fixture(
    `      credential: auth-token
      accountSid: ${account.sid}
      accountsBase: "${endpoint}"
${options.admin ? `      admin: { env: TWILIO_MAIN_KEY }\n` : ''}`,
    'TWILIO_AUTH_TOKEN',
  );
  if (options.admin) {
    const key = fake.addKey(account.sid, options.admin);
    f.p.env.TWILIO_MAIN_KEY = `${key.sid}:${key.secret}`;
  }
  const imported = await f.p.cli(['import', 'TWILIO_AUTH_TOKEN', '--env', 'production'], {
    stdin: account.primary,
  });
  expect(imported.code, imported.stderr).toBe(0);
  return { account, f };
}

async function keyFixture() {
  const account = fake.addAccount();
  const f = await fixture(
    `      credential: api-key
      accountSid: ${account.sid}
      admin: { env: TWILIO_ADMIN }
      variables: { sid: TWILIO_API_KEY, secret: TWILIO_API_SECRET }
`,
    'TWILIO_API',
  );
  f.p.env.TWILIO_ADMIN = account.primary;
  return { account, f };
}

const ACCOUNT_JSON = (sid: string) => `/2010-04-01/Accounts/${sid}.json`;
const NUMBERS = (sid: string) => `/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json`;

/** Runs one rotation in a child process that SIGKILLs itself right after the engine's `point`. */
const crashAt = (f: Fixture, point: string, pass = '') => crashRotationAt(f.p, point, f.name, pass);

/** The rollback row `rotor resume` wrote for the rotation it rolled back. */
async function rollbackRow(f: Fixture): Promise<AuditEntry> {
  const row = (await f.audit()).find((e) => e.action === 'rotate.rollback');
  expect(row, 'a rotate.rollback audit row').toMatchObject({
    secret: f.name,
    outcome: 'failure',
    details: { error: expect.stringMatching(/^ERR_ROTOR_/) },
  });
  return row!;
}

describe('the local Twilio fake refuses what Twilio refuses', () => {
  it('wrong credentials, a Standard key on /Accounts and /Keys, a promote without a secondary, a promoted-away primary, a deleted key', async () => {
    const account = fake.addAccount();
    expect(await statusWith(account.sid, account.primary, ACCOUNT_JSON(account.sid))).toBe(200);
    expect(await statusWith(account.sid, 'f'.repeat(32), ACCOUNT_JSON(account.sid))).toBe(401);
    const standard = fake.addKey(account.sid, 'standard');
    expect(await statusWith(standard.sid, standard.secret, NUMBERS(account.sid))).toBe(200);
    expect(await statusWith(standard.sid, standard.secret, ACCOUNT_JSON(account.sid))).toBe(401);
    expect(
      await statusWith(
        standard.sid,
        standard.secret,
        `/2010-04-01/Accounts/${account.sid}/Keys.json`,
      ),
    ).toBe(401);
    const refused = await fetch(new URL(ACCOUNT_JSON(account.sid), endpoint), {
      headers: {
        authorization: `Basic ${Buffer.from(`${standard.sid}:${standard.secret}`).toString('base64')}`,
      },
    });
    expect(await refused.json()).toMatchObject({ code: 20003, status: 401 });
    const auth = {
      authorization: `Basic ${Buffer.from(`${account.sid}:${account.primary}`).toString('base64')}`,
    };
    const promote = await fetch(new URL('/v1/AuthTokens/Promote', endpoint), {
      method: 'POST',
      headers: auth,
    });
    expect(promote.status).toBe(404);
    expect(await promote.json()).toMatchObject({ code: 20404 });
    const made = (await (
      await fetch(new URL('/v1/AuthTokens/Secondary', endpoint), { method: 'POST', headers: auth })
    ).json()) as { secondary_auth_token: string };
    expect(
      await statusWith(account.sid, made.secondary_auth_token, ACCOUNT_JSON(account.sid)),
    ).toBe(200);
    expect(await statusWith(account.sid, account.primary, ACCOUNT_JSON(account.sid))).toBe(200);
    const old = account.primary;
    expect(
      (await fetch(new URL('/v1/AuthTokens/Promote', endpoint), { method: 'POST', headers: auth }))
        .status,
    ).toBe(200);
    expect(await statusWith(account.sid, old, ACCOUNT_JSON(account.sid))).toBe(401);
    expect(
      await statusWith(account.sid, made.secondary_auth_token, ACCOUNT_JSON(account.sid)),
    ).toBe(200);
    const del = await fetch(
      new URL(`/2010-04-01/Accounts/${account.sid}/Keys/${standard.sid}.json`, endpoint),
      {
        method: 'DELETE',
        headers: {
          authorization: `Basic ${Buffer.from(`${account.sid}:${made.secondary_auth_token}`).toString('base64')}`,
        },
      },
    );
    expect(del.status).toBe(204);
    expect(await statusWith(standard.sid, standard.secret, NUMBERS(account.sid))).toBe(401);
  });
});

describe(
  'twilio auth token: the grace window runs before Twilio promotes',
  { timeout: 60_000 },
  () => {
    it('rotate makes a secondary that apps get while the old primary still works; retire is Twilio promote, and the old token is refused', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      const result = await f.rotate();
      expect(result.ok, JSON.stringify(result.results)).toBe(true);
      const current = (await f.value('current'))!;
      expect(current).toBe(account.secondary);
      // In the grace window: Twilio has not promoted; both tokens work.
      expect(account.primary).toBe(first);
      expect(await statusWith(account.sid, first, ACCOUNT_JSON(account.sid))).toBe(200);
      expect(await statusWith(account.sid, current, ACCOUNT_JSON(account.sid))).toBe(200);
      const pending = (await f.rows()).find((r) => r.stage === 'current')!;
      expect(pending.meta.twilioPromote).toMatch(/at retire, after the grace window/);
      expect(
        fake.calls.some((c) => c.principal === account.sid && c.path === '/v1/AuthTokens/Promote'),
      ).toBe(false);

      expect(await f.retire()).toEqual([]); // grace not over: nothing retired, Twilio untouched
      expect(account.primary).toBe(first);

      f.p.clock.advance(2 * HOUR);
      const retired = await f.retire();
      expect(retired).toHaveLength(1);
      expect(account.primary).toBe(current);
      expect(account.secondary).toBeUndefined();
      expect(await statusWith(account.sid, first, ACCOUNT_JSON(account.sid))).toBe(401);
      const audit = await f.audit();
      const proof = audit.find((e) => e.action === 'retire.verified')!;
      expect(proof.outcome).toBe('success');
      expect(proof.notes).toMatch(
        /Twilio promoted the new token at this retire \(POST \/v1\/AuthTokens\/Promote\); Twilio answered HTTP 401/,
      );
      expectNoValues([JSON.stringify(audit), ...f.logs], [first, current]);

      // The next rotation starts from the promoted token.
      expect((await f.rotate()).ok).toBe(true);
      expect(await f.value('previous')).toBe(current);
      await f.close();
    });

    it('the CLI rotates and retires without printing a token, and status shows the grace window', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      const rotated = await f.p.cli(['rotate', 'TWILIO_AUTH_TOKEN', '--env', 'production']);
      expect(rotated.code, rotated.stderr).toBe(0);
      const secondary = account.secondary!;
      expect(await f.value('current')).toBe(secondary);
      const status = await f.p.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('"in-grace"');
      const table = await f.p.cli(['status']);
      expect(table.stdout).toContain(
        "note: TWILIO_AUTH_TOKEN (twilio): an auth token's old primary keeps working through the grace window and dies at retire, when Rotor calls Twilio's promote (not at rotate)",
      );
      f.p.clock.advance(2 * HOUR);
      const retired = await f.p.cli(['retire', 'TWILIO_AUTH_TOKEN', '--env', 'production']);
      expect(retired.code, retired.stderr).toBe(0);
      expect(account.primary).toBe(secondary);
      expectNoValues(
        [
          rotated.stdout,
          rotated.stderr,
          status.stdout,
          table.stdout,
          retired.stdout,
          retired.stderr,
        ],
        [first, secondary],
      );
      await f.close();
    });

    it('a rotation while the last one is still in its grace window is refused and changes nothing at Twilio', async () => {
      const { account, f } = await tokenFixture();
      expect((await f.rotate()).ok).toBe(true);
      const secondary = account.secondary;
      const again = await f.rotate();
      expect(again.ok).toBe(false);
      expect(again.results[0]!.error?.code).toBe('ERR_ROTOR_ROTATION_IN_PROGRESS');
      expect(again.results[0]!.error?.message).toMatch(/retire the previous version first/);
      expect(account.secondary).toBe(secondary);
      expect(await f.value('current')).toBe(secondary);
      await f.close();
    });

    it('an emergency promotes at Twilio at once: the old primary is refused with no grace', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      const result = await f.rotate({ emergency: true });
      expect(result.ok, JSON.stringify(result.results)).toBe(true);
      expect(result.results[0]!.emergencyActions?.join(' ')).toMatch(
        /POST \/v1\/AuthTokens\/Promote/,
      );
      expect(account.primary).toBe(await f.value('current'));
      expect(await statusWith(account.sid, first, ACCOUNT_JSON(account.sid))).toBe(401);
      expect(
        (await f.audit()).some((e) => e.action === 'retire.verified' && e.outcome === 'success'),
      ).toBe(true);
      await f.close();
    });

    it('a secondary Twilio will not accept is not promoted; the primary is untouched and the next create deletes the leftover first', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      fake.refuseSecondary = true;
      try {
        const result = await f.rotate();
        expect(result.ok).toBe(false);
        expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_VERIFY_FAILED');
        expect(result.results[0]!.error?.message).toMatch(
          /Twilio refused the new secondary auth token/,
        );
      } finally {
        fake.refuseSecondary = false;
      }
      expect(account.primary).toBe(first);
      expect(await f.value('current')).toBe(first);
      // Twilio refused it, so Rotor cannot tell it is the secondary: it is left for the next create.
      const leftover = account.secondary;
      expect(leftover).toMatch(AUTH_TOKEN);
      expect(leftover).not.toBe(first);
      const before = fake.calls.length;
      expect((await f.rotate()).ok).toBe(true);
      const calls = fake.calls
        .slice(before)
        .filter((c) => c.principal === account.sid)
        .map((c) => `${c.method} ${c.path} ${c.status}`);
      expect(calls.indexOf('DELETE /v1/AuthTokens/Secondary 204')).toBeGreaterThan(-1);
      expect(calls.indexOf('DELETE /v1/AuthTokens/Secondary 204')).toBeLessThan(
        calls.indexOf('POST /v1/AuthTokens/Secondary 201'),
      );
      expect(await statusWith(account.sid, leftover!, ACCOUNT_JSON(account.sid))).toBe(401);
      await f.close();
    });

    it('a deploy hook that fails after promote rolls back to the primary and deletes the secondary', async () => {
      const account = fake.addAccount();
      const f = await fixture(
        `      credential: auth-token
      accountSid: ${account.sid}
      accountsBase: "${endpoint}"
`,
        'TWILIO_AUTH_TOKEN',
        `    deploy:
      - command: ["${process.execPath}", "-e", "process.exit(3)"]
`,
      );
      expect(
        (
          await f.p.cli(['import', 'TWILIO_AUTH_TOKEN', '--env', 'production'], {
            stdin: account.primary,
          })
        ).code,
      ).toBe(0);
      const first = account.primary;
      const result = await f.rotate();
      expect(result.ok).toBe(false);
      expect(account.primary).toBe(first);
      expect(account.secondary).toBeUndefined();
      expect(await f.value('current')).toBe(first);
      await f.close();
    });

    it('a previous version Twilio already promoted away (a retire killed after Twilio promote) is superseded without deleting the new secondary', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      expect((await f.rotate()).ok).toBe(true);
      const s1 = (await f.value('current'))!;
      // What a process killed inside retire, after Twilio's promote, leaves: Twilio promoted, but
      // Rotor still lists the old primary as the previous version.
      const auth = {
        authorization: `Basic ${Buffer.from(`${account.sid}:${s1}`).toString('base64')}`,
      };
      expect(
        (
          await fetch(new URL('/v1/AuthTokens/Promote', endpoint), {
            method: 'POST',
            headers: auth,
          })
        ).status,
      ).toBe(200);
      expect(await f.value('previous')).toBe(first);
      const result = await f.rotate();
      expect(result.ok, JSON.stringify(result.results)).toBe(true);
      const s2 = (await f.value('current'))!;
      expect(account.secondary).toBe(s2);
      expect(await statusWith(account.sid, s2, ACCOUNT_JSON(account.sid))).toBe(200);
      expect(await f.value('previous')).toBe(s1);
      expect(account.primary).toBe(s1);
      await f.close();
    });

    it('a stray secondary nobody holds (a create whose answer was lost) is deleted before the new one is made', async () => {
      const { account, f } = await tokenFixture();
      const auth = {
        authorization: `Basic ${Buffer.from(`${account.sid}:${account.primary}`).toString('base64')}`,
      };
      const stray = (
        (await (
          await fetch(new URL('/v1/AuthTokens/Secondary', endpoint), {
            method: 'POST',
            headers: auth,
          })
        ).json()) as { secondary_auth_token: string }
      ).secondary_auth_token;
      const before = fake.calls.length;
      expect((await f.rotate()).ok).toBe(true);
      const calls = fake.calls.slice(before).map((c) => `${c.method} ${c.path} ${c.status}`);
      expect(calls.indexOf('DELETE /v1/AuthTokens/Secondary 204')).toBeLessThan(
        calls.indexOf('POST /v1/AuthTokens/Secondary 201'),
      );
      expect(await statusWith(account.sid, stray, ACCOUNT_JSON(account.sid))).toBe(401);
      await f.close();
    });

    it('a process killed before verify is rolled back by resume (secondary deleted); one killed after verify is promoted', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      const crash = (point: string) => crashAt(f, point);
      await crash('apply:started');
      expect(account.secondary).toMatch(AUTH_TOKEN);
      const rolledBack = await f.p.cli(['resume', '--json']);
      expect(rolledBack.stdout).toContain('rolled-back');
      expect(account.secondary).toBeUndefined();
      expect(account.primary).toBe(first);
      expect(await f.value('current')).toBe(first);

      await crash('verify:done');
      const resumed = await f.p.cli(['resume', '--json']);
      expect(resumed.stdout).toContain('completed');
      expect(await f.value('current')).toBe(account.secondary);
      expect(account.primary).toBe(first);
      expectNoValues(
        [rolledBack.stdout, rolledBack.stderr, resumed.stdout, resumed.stderr],
        [first, account.secondary],
      );
      await f.close();
    }, 180_000);

    it('a process killed inside create, after Twilio made the secondary and before Rotor stored it: resume deletes the secondary and audits it; the primary still works', async () => {
      const { account, f } = await tokenFixture();
      const first = account.primary;
      await crashAt(f, 'create:done');
      const made = account.secondary;
      expect(made).toMatch(AUTH_TOKEN);
      expect(await statusWith(account.sid, made!, ACCOUNT_JSON(account.sid))).toBe(200);
      expect((await f.rows()).map((r) => r.stage)).toEqual(['current']);
      const resumed = await f.p.cli(['resume', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain('rolled-back');
      expect(account.secondary).toBeUndefined();
      expect(await statusWith(account.sid, made!, ACCOUNT_JSON(account.sid))).toBe(401);
      expect(await statusWith(account.sid, first, ACCOUNT_JSON(account.sid))).toBe(200);
      expect(await f.value('current')).toBe(first);
      const row = await rollbackRow(f);
      expect(row.notes).toContain("deleted the account's secondary auth token");
      expect(row.details).toMatchObject({ abandoned: 1, version: null });
      const start = (await f.audit()).find((e) => e.action === 'rotate.start')!;
      expect(row.details.planned).toBe(start.details.version);
      expectNoValues(
        [resumed.stdout, resumed.stderr, JSON.stringify(await f.audit())],
        [first, made],
      );
      // The next rotation works as if nothing had happened.
      expect((await f.rotate()).ok).toBe(true);
      await f.close();
    }, 180_000);

    it('429 and 503 with Retry-After are retried; a 401 names Twilio and the operation, without the token', async () => {
      const { account, f } = await tokenFixture();
      fake.failNext(1, 429, '0');
      fake.failNext(1, 503, '0');
      expect((await f.rotate()).ok).toBe(true);
      f.p.clock.advance(2 * HOUR);
      await f.retire();

      fake.failNext(3, 503, '0');
      const down = await f.rotate();
      expect(down.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_UNAVAILABLE');
      expect(down.results[0]!.error?.message).toMatch(
        /Twilio GET \/2010-04-01\/Accounts\/\{AccountSid\}\.json failed after 3 attempt/,
      );

      const token = account.primary;
      account.primary = 'e'.repeat(32); // changed in the Console behind Rotor's back
      const refused = await f.rotate();
      expect(refused.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
      expect(refused.results[0]!.error?.message).toMatch(
        /Twilio GET .* refused the admin credential \(HTTP 401: Authenticate\)/,
      );
      expectNoValues(
        [JSON.stringify(refused), JSON.stringify(await f.audit()), ...f.logs],
        [token, account.primary],
      );
      await f.close();
    });

    it('a Main key as admin manages the tokens; a Standard key is refused with the operation named', async () => {
      const { account, f } = await tokenFixture({ admin: 'main' });
      const first = account.primary;
      expect((await f.rotate()).ok).toBe(true);
      f.p.clock.advance(2 * HOUR);
      await f.retire();
      expect(account.primary).toBe(await f.value('current'));
      expect(await statusWith(account.sid, first, ACCOUNT_JSON(account.sid))).toBe(401);
      const mainSid = f.p.env.TWILIO_MAIN_KEY!.split(':')[0]!;
      expect(
        fake.calls.some((c) => c.principal === mainSid && c.path === '/v1/AuthTokens/Promote'),
      ).toBe(true);
      await f.close();

      // The token changed in the Console behind Rotor's back: said as such, nothing made.
      const { account: moved, f: h } = await tokenFixture({ admin: 'main' });
      moved.primary = 'c'.repeat(32);
      const refused = await h.rotate();
      expect(refused.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
      expect(refused.results[0]!.error?.message).toMatch(
        /changed outside Rotor.*rotor import TWILIO_AUTH_TOKEN --env production/,
      );
      expect(moved.secondary).toBeUndefined();
      await h.close();

      const { account: other, f: g } = await tokenFixture({ admin: 'standard' });
      const result = await g.rotate();
      expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
      expect(result.results[0]!.error?.message).toMatch(
        /Twilio GET \/2010-04-01\/Accounts\/\{AccountSid\}\.json refused the admin credential/,
      );
      expect(other.secondary).toBeUndefined();
      await g.close();
    });

    it('an accountSid map without this environment fails with a config error and makes nothing', async () => {
      const account = fake.addAccount();
      const f = await fixture(
        `      credential: auth-token\n      accountSid: { staging: ${account.sid} }\n      accountsBase: "${endpoint}"\n`,
        'TWILIO_AUTH_TOKEN',
      );
      const imported = await f.p.cli(['import', 'TWILIO_AUTH_TOKEN', '--env', 'production'], {
        stdin: account.primary,
      });
      expect(imported.code).not.toBe(0);
      expect(imported.stderr).toContain('ERR_ROTOR_ROTATOR_CONFIG');
      expect(imported.stderr).not.toContain(account.primary);
      const before = fake.calls.length;
      const result = await f.rotate();
      expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_ROTATOR_CONFIG');
      expect(result.results[0]!.error?.message).toMatch(
        /config\.accountSid names no account for environment production/,
      );
      expect(fake.calls.length).toBe(before);
      expect(account.secondary).toBeUndefined();
      await f.close();
    });

    it('without a current token or an admin key, rotate says to import the token first and changes nothing', async () => {
      const account = fake.addAccount();
      const f = await fixture(
        `      credential: auth-token\n      accountSid: ${account.sid}\n      accountsBase: "${endpoint}"\n`,
        'TWILIO_AUTH_TOKEN',
      );
      const result = await f.rotate();
      expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_ADMIN_MISSING');
      expect(result.results[0]!.error?.message).toMatch(
        /rotor import TWILIO_AUTH_TOKEN --env production/,
      );
      expect(account.secondary).toBeUndefined();
      await f.close();
    });
  },
);

describe('twilio API keys', { timeout: 60_000 }, () => {
  it('a new Standard key is verified on a resource it may read, delivered as two variables, and deleted and refused at retire', async () => {
    const { account, f } = await keyFixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = JSON.parse((await f.value('current'))!) as { sid: string; secret: string };
    // The version tag: base64url SHA-256 of the version id, so abandon can find the key again.
    const v1 = (await f.rows()).find((r) => r.stage === 'current')!.id;
    const tag = createHash('sha256').update(v1).digest('base64url').slice(0, 12);
    expect(fake.keys.get(k1.sid)?.friendlyName).toMatch(
      new RegExp(`^rotor [0-9a-f]{10} after none v${tag} TWILIO_API$`),
    );
    expect(
      fake.calls.some(
        (c) => c.principal === k1.sid && c.path === NUMBERS(account.sid) && c.status === 200,
      ),
    ).toBe(true);
    expect(
      fake.calls.some(
        (c) =>
          c.principal === k1.sid &&
          (c.path.includes('/Keys') || c.path === ACCOUNT_JSON(account.sid)),
      ),
    ).toBe(false);

    expect((await f.rotate()).ok).toBe(true);
    const k2 = JSON.parse((await f.value('current'))!) as { sid: string; secret: string };
    expect(fake.keys.get(k2.sid)?.friendlyName).toContain(`after ${k1.sid}`);
    expect(await statusWith(k1.sid, k1.secret, NUMBERS(account.sid))).toBe(200); // grace
    const exported = await f.p.cli(['export', '--env', 'production', '--format', 'dotenv'], {
      env: { TWILIO_ADMIN: account.primary },
    });
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`TWILIO_API_KEY='${k2.sid}'`);
    expect(exported.stdout).toContain(`TWILIO_API_SECRET='${k2.secret}'`);
    expect(exported.stdout).toContain(`TWILIO_API_KEY_PREVIOUS='${k1.sid}'`);
    f.p.clock.advance(2 * HOUR);
    expect(await f.retire()).toHaveLength(1);
    expect(fake.keys.has(k1.sid)).toBe(false);
    expect(await statusWith(k1.sid, k1.secret, NUMBERS(account.sid))).toBe(401);
    const proof = (await f.audit()).find((e) => e.action === 'retire.verified')!;
    expect(proof.outcome).toBe('success');
    expectNoValues(
      [JSON.stringify(await f.audit()), ...f.logs],
      [k1.secret, k2.secret, account.primary],
    );
    await f.close();
  });

  it('a key left by a rotation whose create answer was lost is deleted by the next create; the key in its grace window is kept', async () => {
    const { account, f } = await keyFixture();
    expect((await f.rotate()).ok).toBe(true);
    expect((await f.rotate()).ok).toBe(true);
    const [k1, k2] = [(await f.value('previous'))!, (await f.value('current'))!].map(
      (v) => JSON.parse(v) as { sid: string },
    );
    // What a process killed inside create leaves: a key named for this secret that nobody holds.
    const rotor = f.p.rotor();
    const orphan = await twilioRotator.create({
      secret: 'TWILIO_API',
      environment: 'production',
      versionId: '11111111-1111-4111-8111-111111111111',
      config: rotor.secret('TWILIO_API').config as never,
      clock: f.p.clock,
      emergency: false,
      env: f.p.env,
      readSecret: async () => f.value('current'),
    });
    await rotor.close();
    const orphanSid = String(orphan.meta.keySid);
    expect(fake.keys.has(orphanSid)).toBe(true);
    const other = fake.addKey(account.sid, 'standard', 'a key a person made');
    expect((await f.rotate()).ok).toBe(true);
    expect(fake.keys.has(orphanSid)).toBe(false);
    expect(fake.keys.has(other.sid)).toBe(true);
    expect(fake.keys.has(k2!.sid)).toBe(true);
    // k1 was the previous version, superseded by this rotation: retired and deleted by the engine.
    expect(fake.keys.has(k1!.sid)).toBe(false);
    await f.close();
  });

  it('a process killed before verify has its key deleted by resume; one killed after verify is promoted', async () => {
    const { account, f } = await keyFixture();
    const crash = (point: string) => crashAt(f, point, 'TWILIO_ADMIN');
    await crash('verify:started');
    expect(fake.keysOf(account.sid)).toHaveLength(1);
    const rolledBack = await f.p.cli(['resume', '--json'], {
      env: { TWILIO_ADMIN: account.primary },
    });
    expect(rolledBack.stdout).toContain('rolled-back');
    expect(fake.keysOf(account.sid)).toHaveLength(0);

    await crash('verify:done');
    const resumed = await f.p.cli(['resume', '--json'], { env: { TWILIO_ADMIN: account.primary } });
    expect(resumed.stdout).toContain('completed');
    const cur = JSON.parse((await f.value('current'))!) as { sid: string };
    expect(fake.keysOf(account.sid).map((k) => k.sid)).toEqual([cur.sid]);
    await f.close();
  }, 180_000);

  it('a process killed inside create has the key it made deleted by resume (found by its name for that version); other keys stay and the current key still works', async () => {
    const { account, f } = await keyFixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = JSON.parse((await f.value('current'))!) as { sid: string; secret: string };
    const person = fake.addKey(account.sid, 'standard', 'a key a person made');
    // A successor of k1 made for another version (another crashed attempt): not this rotation's.
    const other = fake.addKey(account.sid, 'standard', 'placeholder');
    await crashAt(f, 'create:done', 'TWILIO_ADMIN');
    const made = fake
      .keysOf(account.sid)
      .filter((k) => ![k1.sid, person.sid, other.sid].includes(k.sid));
    expect(made).toHaveLength(1);
    other.friendlyName = made[0]!.friendlyName.replace(/ v\S+/, ' vXXXXX');
    const resumed = await f.p.cli(['resume', '--json'], { env: { TWILIO_ADMIN: account.primary } });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('rolled-back');
    expect(fake.keys.has(made[0]!.sid)).toBe(false);
    expect(
      fake
        .keysOf(account.sid)
        .map((k) => k.sid)
        .sort(),
    ).toEqual([k1.sid, person.sid, other.sid].sort());
    expect(await statusWith(k1.sid, k1.secret, NUMBERS(account.sid))).toBe(200);
    const row = await rollbackRow(f);
    expect(row.notes).toContain(`deleted Twilio API key ${made[0]!.sid} named for version`);
    expect(row.details).toMatchObject({ abandoned: 1 });
    expectNoValues(
      [resumed.stdout, resumed.stderr, JSON.stringify(await f.audit())],
      [k1.secret, account.primary],
    );
    await f.close();
  }, 180_000);

  it('an emergency deletes the previous key at once', async () => {
    const { account, f } = await keyFixture();
    expect((await f.rotate()).ok).toBe(true);
    const k1 = JSON.parse((await f.value('current'))!) as { sid: string; secret: string };
    const result = await f.rotate({ emergency: true });
    expect(result.ok, JSON.stringify(result.results)).toBe(true);
    expect(fake.keys.has(k1.sid)).toBe(false);
    expect(await statusWith(k1.sid, k1.secret, NUMBERS(account.sid))).toBe(401);
    await f.close();
  });

  it('a 401 from the admin credential names Twilio and the operation; nothing is made', async () => {
    const { account, f } = await keyFixture();
    f.p.env.TWILIO_ADMIN = 'd'.repeat(32);
    const result = await f.rotate();
    expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_PROVIDER_AUTH_FAILED');
    expect(result.results[0]!.error?.message).toMatch(
      /TWILIO_API\/production: Twilio GET \/2010-04-01\/Accounts\/\{AccountSid\}\/Keys\.json refused the admin credential/,
    );
    expect(result.results[0]!.error?.message).not.toContain('d'.repeat(32));
    expect(fake.keysOf(account.sid)).toHaveLength(0);
    await f.close();
  });

  it('config refuses a verify path a Standard key may not read (20003) and an admin written inline', () => {
    const base = {
      credential: 'api-key',
      accountSid: `AC${'0'.repeat(32)}`,
      admin: { env: 'TWILIO_ADMIN' },
    };
    for (const verifyPath of [
      '/2010-04-01/Accounts/{AccountSid}.json',
      `/2010-04-01/Accounts/{AccountSid}/Keys.json`,
      '/v1/Keys',
    ]) {
      const parsed = twilioRotator.configSchema.safeParse({ ...base, verifyPath });
      expect(parsed.success, verifyPath).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toContain('20003');
    }
    expect(twilioRotator.configSchema.safeParse({ ...base, admin: { value: 'abc' } }).success).toBe(
      false,
    );
    expect(twilioRotator.configSchema.safeParse({ ...base, accountSid: 'AC123' }).success).toBe(
      false,
    );
    expect(twilioRotator.configSchema.safeParse(base).success).toBe(true);
  });

  it('import refuses a malformed key or token without quoting it', async () => {
    const { f } = await keyFixture();
    const bad = await f.p.cli(['import', 'TWILIO_API', '--env', 'production'], {
      stdin: 'SKnotakey:hunter2hunter2hunter2',
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    expect(bad.stderr).not.toContain('hunter2');
    await f.close();
    const { f: t } = await tokenFixture();
    const err = await twilioRotator.validateImport!(
      {
        secret: 'T',
        environment: 'production',
        versionId: 'v',
        config: t.p.rotor().secret('TWILIO_AUTH_TOKEN').config as never,
        clock: t.p.clock,
        emergency: false,
      },
      'NOT-A-TOKEN-zzzz',
    ).catch((e: unknown) => e);
    expect(isRotorError(err, 'ERR_ROTOR_VALUE_INVALID')).toBe(true);
    expect((err as Error).message).not.toContain('NOT-A-TOKEN');
    await t.close();
  });
});
