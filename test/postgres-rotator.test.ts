// What only the `postgres` rotator has, end to end against a private PostgreSQL cluster with real
// SCRAM password authentication: the clone strategy, the group role that owns what the app
// creates, SCRAM verifiers, and the refusal of a login role whose privileges differ. What it
// shares with the `mysql` rotator (alternate round trip, sessions, emergency, faults, kills at
// every journal point) is in db-rotators.test.ts.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  openFixture,
  postgresEngine as engine,
  userOf,
  type DbFixture,
  type SecretOptions,
} from './helpers/db-engines.js';
import { DAY } from './helpers/project.js';

const available = await engine.start();
afterAll(() => engine.stop());

async function using(options: SecretOptions, run: (f: DbFixture) => Promise<void>): Promise<void> {
  const f = await openFixture(engine, options);
  try {
    await run(f);
  } finally {
    await f.cleanup();
  }
}

async function rotateOk(f: DbFixture): Promise<string> {
  const result = await f.rotate();
  expect(result.ok, JSON.stringify(result.results)).toBe(true);
  return (await f.current())!;
}

/** The server log of the private cluster (every DDL statement is logged). */
const serverLog = () => readFileSync(engine.serverLog(), 'utf8');

describe.skipIf(!available)('postgres rotator (private cluster, scram-sha-256)', () => {
  it('alternate: the server holds only the SCRAM verifier Rotor computed, and what the app creates stays usable after rotations', () =>
    using({}, async (f) => {
      const { a, b, group } = f.s;
      const urlA = await rotateOk(f);
      // The server stores a SCRAM verifier Rotor computed, never the plaintext.
      const [auth] = await engine.query<{ rolpassword: string }>(
        engine.rootUrl(),
        'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
        [a],
      );
      expect(serverLog()).toContain("PASSWORD 'SCRAM-SHA-256$");
      expect(serverLog()).not.toContain(decodeURIComponent(new URL(urlA).password));
      expect(auth!.rolpassword).toMatch(
        /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/,
      );
      // The app, logged in as _a, runs a migration: the new table belongs to the group role.
      await engine.query(urlA, 'CREATE TABLE public.invoices (id int)');
      await engine.query(urlA, `INSERT INTO public.orders (item) VALUES ('book')`);
      const [owner] = await engine.query<{ owner: string }>(
        f.s.adminUrl,
        `SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'invoices'`,
      );
      expect(owner!.owner).toBe(group);

      f.p.clock.advance(30 * DAY);
      const urlB = await rotateOk(f);
      expect(userOf(urlB)).toBe(b);
      await engine.query(urlB, 'INSERT INTO public.invoices VALUES (1)');
      expect(await engine.query(urlB, 'SELECT item FROM public.orders')).toEqual([
        { item: 'book' },
      ]);
      f.p.clock.advance(DAY + 1);
      expect((await f.retire()).length).toBe(1);

      f.p.clock.advance(30 * DAY);
      const urlA2 = await rotateOk(f);
      expect(userOf(urlA2)).toBe(a);
      expect(await engine.query(urlA2, 'SELECT count(*)::int AS n FROM public.invoices')).toEqual([
        { n: 1 },
      ]);
    }));

  it('carries role settings and the connection limit of the login being replaced to the new one; a role attribute it cannot copy refuses, naming it', () =>
    using({}, async (f) => {
      const { a, b } = f.s;
      const urlA = await rotateOk(f);
      await engine.query(engine.rootUrl(), `ALTER ROLE ${a} SET statement_timeout = '7s'`);
      await engine.query(
        engine.rootUrl(),
        `ALTER ROLE ${a} IN DATABASE ${f.s.database} SET search_path = "$user", public`,
      );
      await engine.query(engine.rootUrl(), `ALTER ROLE ${a} CONNECTION LIMIT 9`);
      f.p.clock.advance(DAY);
      const urlB = await rotateOk(f);
      expect(userOf(urlB)).toBe(b);
      expect(
        await engine.query(
          urlB,
          `SELECT current_setting('statement_timeout') AS t, current_setting('search_path') AS p, current_user AS acting`,
        ),
      ).toEqual([{ t: '7s', p: '"$user", public', acting: f.s.group }]);
      expect(
        await engine.query(
          engine.rootUrl(),
          'SELECT rolconnlimit FROM pg_roles WHERE rolname = $1',
          [b],
        ),
      ).toEqual([{ rolconnlimit: 9 }]);
      // CREATEDB on the current login is not something a group role passes on: refused, named.
      await engine.query(engine.rootUrl(), `ALTER ROLE ${b} CREATEDB`);
      f.p.clock.advance(2 * DAY);
      await f.retire();
      const refused = (await f.rotate()).results[0]!;
      expect(refused.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
      expect(refused.error?.message).toContain('Missing: role attribute CREATEDB');
      expect(await f.current()).toBe(urlB);
      expect(await engine.loginCode(urlA)).toMatch(engine.codes.retired);
    }));

  it('clone: a new login role per rotation; retire drops the old role and it can no longer log in', () =>
    using({ strategy: 'clone' }, async (f) => {
      const url1 = await rotateOk(f);
      await engine.query(url1, 'CREATE TABLE public.events (id int)');
      f.p.clock.advance(30 * DAY);
      const url2 = await rotateOk(f);
      expect(userOf(url2)).not.toBe(userOf(url1));
      await engine.query(url2, 'INSERT INTO public.events VALUES (7)');
      f.p.clock.advance(DAY + 1);
      expect((await f.retire()).length).toBe(1);
      expect(
        await engine.query(engine.rootUrl(), 'SELECT 1 FROM pg_roles WHERE rolname = $1', [
          userOf(url1),
        ]),
      ).toEqual([]);
      expect(await engine.loginCode(url1)).toBe('28P01');
      expect(await engine.query(url2, 'SELECT id FROM public.events')).toEqual([{ id: 7 }]);
    }));

  it('refuses to promote a login role whose privileges differ from the old one, naming the difference', () =>
    using({}, async (f) => {
      const before = await rotateOk(f);
      await engine.query(f.s.adminUrl, 'CREATE TABLE public.audit_trail (id int)');
      await engine.query(f.s.adminUrl, `GRANT SELECT ON public.audit_trail TO ${f.s.a}`);
      const result = await f.rotate();
      expect(result.ok).toBe(false);
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
      expect(result.results[0]!.error!.message).toMatch(
        /Missing: .*table public\.audit_trail SELECT/,
      );
      expect(await f.current()).toBe(before);
      expect(await engine.loginCode(before)).toBe('ok');
      // The refused role was disabled again.
      expect(
        await engine.query(f.s.adminUrl, 'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [
          f.s.b,
        ]),
      ).toEqual([{ rolcanlogin: false }]);
      expect(
        (await f.audit()).some(
          (e) => e.action === 'rotate.failure' && e.notes.includes('ERR_ROTOR_DB_GRANTS_DIFFER'),
        ),
      ).toBe(true);
    }));

  it('clone: a retire postponed by live sessions drops the old role once they are gone', () =>
    using({ strategy: 'clone' }, async (f) => {
      const old = await rotateOk(f);
      await rotateOk(f);
      const session = await engine.openSession(old);
      f.p.clock.advance(DAY + 1);
      expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
      expect((await f.stages()).map((s) => s.stage)).toEqual(['previous', 'current']);
      const postponed = (await f.audit()).find((e) => e.action === 'retire.postponed');
      expect(postponed?.notes).toContain('live session');
      expect(await session.query()).toMatchObject({ rows: [{ one: 1 }] });
      await session.close();
      expect((await f.retire()).length).toBe(1);
      expect(await engine.loginCode(old)).toBe('28P01');
      expect(
        await engine.query(engine.rootUrl(), 'SELECT 1 FROM pg_roles WHERE rolname = $1', [
          userOf(old),
        ]),
      ).toEqual([]);
    }));

  it('clone: does not retire the previous login role early while it still has live sessions', () =>
    using({ strategy: 'clone' }, async (f) => {
      const previous = await rotateOk(f);
      const current = await rotateOk(f);
      const session = await engine.openSession(previous);
      const result = await f.rotate();
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
      expect(result.results[0]!.error!.message).toContain(
        `"${userOf(previous)}", which this rotation would retire early`,
      );
      expect(await f.current()).toBe(current);
      expect(await engine.loginCode(previous)).toBe('ok');
      await session.close();
      await rotateOk(f);
      expect(await engine.loginCode(previous)).toMatch(engine.codes.retired);
      expect(await engine.loginCode(current)).toBe('ok');
    }));

  it('clone: works end to end with the least-privilege admin the README documents', () =>
    using({ strategy: 'clone' }, async (f) => {
      f.p.env[engine.adminEnv] = await engine.leastPrivilegeAdmin(f.s);
      const first = await rotateOk(f);
      await engine.query(first, 'CREATE TABLE public.notes (id int)');
      await rotateOk(f);
      const live = await engine.openSession(first);
      try {
        f.p.clock.advance(DAY + 1);
        expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
        // --force terminates the sessions, then REASSIGN/DROP OWNED and DROP ROLE as a CREATEROLE admin.
        expect(await f.retire({ force: true })).toHaveLength(1);
        await expect(live.query()).rejects.toThrow();
      } finally {
        await live.close();
      }
      expect(await engine.loginCode(first)).toMatch(engine.codes.retired);
      expect(
        await engine.query((await f.current())!, 'SELECT count(*)::int AS n FROM public.notes'),
      ).toEqual([{ n: 0 }]);
    }));

  it("alternate: a team's imported DATABASE_URL is superseded by the first rotation, and retire disables that login, proven by a refused login", () =>
    using({}, async (f) => {
      const legacy = `${f.s.prefix}_legacy`;
      await engine.query(
        engine.rootUrl(),
        `CREATE ROLE ${legacy} LOGIN PASSWORD 'legacy-pass-123' IN ROLE ${f.s.group}`,
      );
      try {
        const legacyUrl = `postgres://${legacy}:legacy-pass-123@127.0.0.1:${engine.port()}/${f.s.database}`;
        const imported = await f.p.cli(
          ['import', 'DATABASE_URL', '--env', 'production', '--rotated-at', '2025-12-01'],
          { stdin: legacyUrl },
        );
        expect(imported.code, imported.stderr).toBe(0);
        const bad = await f.p.cli(['import', 'DATABASE_URL', '--env', 'production'], {
          stdin: 'mysql://x:y@h/db',
        });
        expect(bad.stderr).toMatch(/expected a postgres:\/\/ URL|already/);
        const url = await rotateOk(f);
        expect(userOf(url)).toBe(f.s.a);
        f.p.clock.advance(DAY + 1);
        expect((await f.retire()).length).toBe(1);
        // The imported login is retired like Rotor's own: NOLOGIN, password removed, and proven.
        expect(await engine.loginCode(legacyUrl)).toMatch(engine.codes.retired);
        expect(
          await engine.query(
            engine.rootUrl(),
            'SELECT rolcanlogin, rolpassword IS NULL AS nopw FROM pg_authid WHERE rolname = $1',
            [legacy],
          ),
        ).toEqual([{ rolcanlogin: false, nopw: true }]);
        expect(await engine.loginCode(url)).toBe('ok');
        const audit = await f.audit();
        expect(audit.find((e) => e.action === 'retire')).toMatchObject({
          outcome: 'success',
          details: { verified: 'refused' },
        });
        expect(audit.find((e) => e.action === 'retire.verified')).toMatchObject({
          outcome: 'success',
          notes: expect.stringMatching(/refused .*SQLSTATE 28(000|P01)/),
        });
      } finally {
        await engine.query(engine.rootUrl(), `DROP ROLE IF EXISTS ${legacy}`);
      }
    }));

  it('clone: a rotation killed between apply and verify is rolled back by resume, dropping the new role', () =>
    using({ strategy: 'clone' }, async (f) => {
      const current = await rotateOk(f);
      const crash = await f.crashAt('verify:started');
      expect(crash.signal, crash.output).toBe('SIGKILL');
      expect((await engine.accounts(f.s.prefix)).filter((r) => r.login)).toHaveLength(2);
      expect(await f.resume()).toEqual(['rolled-back']);
      expect(await engine.accounts(f.s.prefix)).toEqual([
        { name: f.s.group, login: false },
        { name: userOf(current), login: true },
      ]);
      expect(await f.current()).toBe(current);
      expect(await engine.loginCode(current)).toBe('ok');
      expect(
        (await f.audit()).some((e) => e.action === 'rotate.rollback' && e.outcome === 'failure'),
      ).toBe(true);
    }));
});
