// One rotator test suite over both SQL engines (issue 4): what the `postgres` and `mysql`
// rotators share is tested here, once, against the real servers with real password
// authentication; what only one engine has stays in postgres-rotator.test.ts and
// mysql-rotator.test.ts. Every fault case ends the same way: a clear error, the current
// credential untouched and logging in, no orphaned login left after `rotor resume`, the failure
// in the audit log and `rotor check` CRITICAL (exit code 2). Each test has its own database,
// roles and users, so the tests of one engine run concurrently.
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import {
  createCutProxy,
  ENGINES,
  freePort,
  openFixture,
  userOf,
  withPassword,
  type DbEngine,
  type DbFixture,
  type SecretOptions,
} from './helpers/db-engines.js';
import { DAY } from './helpers/project.js';

const available = new Map<string, boolean>();
for (const engine of ENGINES) available.set(engine.name, await engine.start());
afterAll(async () => {
  for (const engine of ENGINES) await engine.stop();
});

type Version = { id: string; value: string };

/** A rotation that must succeed; resolves the new current version. */
async function rotateOk(
  expect: ExpectStatic,
  f: DbFixture,
  options: { emergency?: boolean } = {},
): Promise<Version> {
  const result = await f.rotate(options);
  expect(result.ok, JSON.stringify(result.results)).toBe(true);
  return (await f.stage('current'))!;
}

/** Waits until the server has ended `user`'s sessions (a client's close is asynchronous there). */
async function sessionsGone(engine: DbEngine, user: string): Promise<void> {
  for (let i = 0; i < 100 && (await engine.sessions(user)) > 0; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

async function canLogIn(f: DbFixture, user: string): Promise<boolean | undefined> {
  return (await f.engine.accounts(f.s.prefix)).find((a) => a.name === user)?.login;
}

/** Exactly the users of the current and previous versions may log in: no orphan. */
async function expectNoOrphans(expect: ExpectStatic, f: DbFixture): Promise<void> {
  const live = new Set<string>();
  for (const stage of ['current', 'previous'] as const) {
    const v = await f.stage(stage);
    if (v) live.add(userOf(v.value));
  }
  const accounts = await f.engine.accounts(f.s.prefix);
  for (const user of [f.s.a, f.s.b]) {
    expect({ user, login: accounts.find((a) => a.name === user)?.login ?? false }).toEqual({
      user,
      login: live.has(user),
    });
  }
}

type Account = { name: string; login: boolean };

/** After a failed rotation: nothing changed, the failure is audited and monitoring says CRITICAL. */
async function expectUntouched(
  expect: ExpectStatic,
  f: DbFixture,
  { before, code, accounts }: { before: Version; code: string; accounts?: Account[] },
): Promise<void> {
  expect(await f.stage('current')).toEqual(before);
  expect(await f.engine.whoami(before.value)).toBe(userOf(before.value));
  expect(
    (await f.audit()).some((e) => e.action === 'rotate.failure' && e.notes.includes(code)),
  ).toBe(true);
  expect(await f.check()).toBe(2);
  expect(await f.resume()).toEqual([]);
  if (accounts) expect(await f.engine.accounts(f.s.prefix)).toEqual(accounts);
  await expectNoOrphans(expect, f);
}

// Both engines at once: each test is isolated in its own database, roles and users.
describe('SQL rotators', { concurrent: true, timeout: 60_000 }, () => {
  for (const engine of ENGINES) {
    describe.skipIf(!available.get(engine.name))(`${engine.name} rotator (shared suite)`, () => {
      async function using(
        options: SecretOptions,
        run: (f: DbFixture) => Promise<void>,
      ): Promise<void> {
        const f = await openFixture(engine, options);
        try {
          await run(f);
        } finally {
          await f.cleanup();
        }
      }

      it('alternate: rotates between <base>_a and <base>_b; the server refuses a wrong password, a retired credential and a superseded one', ({
        expect,
      }) =>
        using({}, async (f) => {
          const { a, b } = f.s;
          const first = await rotateOk(expect, f);
          expect(first.value).toMatch(engine.expect.url(f.s, a));
          expect(await engine.whoami(first.value)).toBe(a);
          expect(await engine.loginCode(withPassword(first.value, 'wrong-password'))).toBe(
            engine.codes.wrongPassword,
          );

          f.p.clock.advance(30 * DAY);
          const second = await rotateOk(expect, f);
          expect(second.value).toMatch(engine.expect.url(f.s, b));
          expect(await engine.whoami(second.value)).toBe(b);
          expect(await engine.whoami(first.value)).toBe(a); // the previous credential, in its grace window

          f.p.clock.advance(DAY + 1);
          expect((await f.retire()).map((r) => r.versionId)).toEqual([first.id]);
          expect(await engine.loginCode(first.value)).toMatch(engine.codes.retired);
          expect(await canLogIn(f, a)).toBe(false);

          f.p.clock.advance(30 * DAY);
          const third = await rotateOk(expect, f);
          expect(await engine.whoami(third.value)).toBe(a);
          expect(await engine.loginCode(first.value)).toBe(engine.codes.wrongPassword);
          expect(await engine.whoami(second.value)).toBe(b);

          // Back to back, milliseconds apart: the idle user is still told from the current one.
          const fourth = await rotateOk(expect, f);
          expect(await engine.whoami(fourth.value)).toBe(b);
          expect(await engine.loginCode(second.value)).toBe(engine.codes.wrongPassword);
          expect(await engine.whoami(third.value)).toBe(a);
          await expectNoOrphans(expect, f);
        }));

      it('postpones a retire while the old credential has live sessions, and --force ends them', ({
        expect,
      }) =>
        using({}, async (f) => {
          const { a, b } = f.s;
          const first = await rotateOk(expect, f);
          const second = await rotateOk(expect, f);
          const live = await engine.openSession(first.value);
          try {
            expect(await engine.sessions(a)).toBe(1);
            f.p.clock.advance(DAY + 1);
            expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
            expect((await f.stages()).map((s) => s.stage)).toEqual(['previous', 'current']);
            expect((await f.stage('previous'))!.id).toBe(first.id);
            await live.query(); // the app's session was not cut off
            expect(await engine.whoami(first.value)).toBe(a);
            const postponed = (await f.audit()).filter((e) => e.action === 'retire.postponed');
            expect(postponed).toHaveLength(1);
            expect(postponed[0]!.notes).toContain(a);
            expect(postponed[0]!.notes).toContain('still has 1 live session(s)');

            expect((await f.retire({ force: true })).map((r) => r.versionId)).toEqual([first.id]);
            await expect(live.query()).rejects.toThrow(engine.expect.sessionEnded);
            expect(await engine.loginCode(first.value)).toMatch(engine.codes.retired);
            expect(await canLogIn(f, a)).toBe(false);
            expect(await engine.whoami(second.value)).toBe(b);
            await expectNoOrphans(expect, f);
          } finally {
            await live.close();
          }
        }));

      it('alternate: refuses to reuse the idle user while the previous credential on it has live sessions, changing nothing', ({
        expect,
      }) =>
        using({}, async (f) => {
          const { a, b } = f.s;
          const first = await rotateOk(expect, f);
          const second = await rotateOk(expect, f);
          const live = await engine.openSession(first.value);
          try {
            const result = await f.rotate();
            expect(result.results[0]!.outcome).toBe('failed');
            expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
            expect(result.results[0]!.error?.message).toContain(engine.expect.roleInUse(a));
            expect(await f.stage('current')).toEqual(second);
            expect((await f.stage('previous'))!.id).toBe(first.id);
            expect(await engine.whoami(first.value)).toBe(a);
            expect(await engine.whoami(second.value)).toBe(b);
            await live.query();
          } finally {
            await live.close();
          }
          // Once the sessions are gone, rotations go on alternating, even milliseconds apart.
          await sessionsGone(engine, a);
          expect(userOf((await rotateOk(expect, f)).value)).toBe(a);
          expect(userOf((await rotateOk(expect, f)).value)).toBe(b);
          expect(userOf((await rotateOk(expect, f)).value)).toBe(a);
          await expectNoOrphans(expect, f);
        }));

      it('emergency: the new credential is current at once, the old one refused and its sessions ended', ({
        expect,
      }) =>
        using({}, async (f) => {
          const { a, b } = f.s;
          const first = await rotateOk(expect, f);
          const live = await engine.openSession(first.value);
          try {
            const result = await f.rotate({ emergency: true });
            expect(result.ok, JSON.stringify(result.results)).toBe(true);
            expect(result.results[0]!.retiredVersionIds).toEqual([first.id]);
            expect(result.results[0]!.emergencyActions?.join(' ')).toMatch(
              engine.expect.emergencyAction,
            );
            await expect(live.query()).rejects.toThrow(engine.expect.sessionEnded);
            expect(await engine.loginCode(first.value)).toMatch(engine.codes.retired);
            expect(await canLogIn(f, a)).toBe(false);
            const now = (await f.stage('current'))!;
            expect(userOf(now.value)).toBe(b);
            expect(await engine.whoami(now.value)).toBe(b);
            expect(await f.stage('previous')).toBeUndefined();
            expect(
              (await f.audit()).some(
                (e) => e.action === 'rotate.emergency' && e.notes.includes('leaked in a log'),
              ),
            ).toBe(true);
            await expectNoOrphans(expect, f);
          } finally {
            await live.close();
          }
        }));

      it('works end to end with the least-privilege admin the README documents', ({ expect }) =>
        using({}, async (f) => {
          const { a, b } = f.s;
          f.p.env[engine.adminEnv] = await engine.leastPrivilegeAdmin(f.s);
          const first = await rotateOk(expect, f);
          const second = await rotateOk(expect, f);
          expect(await engine.whoami(second.value)).toBe(b);
          const live = await engine.openSession(first.value);
          try {
            f.p.clock.advance(DAY + 1);
            expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
            expect(await f.retire({ force: true })).toHaveLength(1);
            await expect(live.query()).rejects.toThrow(engine.expect.sessionEnded);
            expect(await engine.loginCode(first.value)).toMatch(engine.codes.retired);
            expect(await canLogIn(f, a)).toBe(false);
            expect(await engine.whoami(second.value)).toBe(b);
          } finally {
            await live.close();
          }
        }));

      const adminFaults = [
        {
          name: 'a wrong admin password',
          admin: async () => withPassword(engine.rootUrl(), 'not-the-password'),
          code: 'ERR_ROTOR_DB_AUTH_FAILED',
          message: engine.expect.wrongAdminPassword,
          namesVariable: true,
        },
        {
          name: 'an admin lacking the privilege to create users',
          admin: (f: DbFixture) => engine.weakAdmin(f.s),
          ...engine.expect.weakAdmin,
          namesVariable: false,
        },
        {
          name: 'an unreachable server',
          admin: async () => {
            const u = new URL(engine.rootUrl());
            u.port = String(await freePort());
            return u.toString();
          },
          code: 'ERR_ROTOR_DB_UNREACHABLE',
          message: engine.expect.unreachable,
          namesVariable: true,
        },
      ];
      for (const fault of adminFaults) {
        it(`${fault.name}: a clear error, nothing changed, the current credential untouched and working`, ({
          expect,
        }) =>
          using({}, async (f) => {
            const before = await rotateOk(expect, f);
            const admin = await fault.admin(f);
            const accounts = await engine.accounts(f.s.prefix);
            f.p.env[engine.adminEnv] = admin;
            const result = await f.rotate();
            expect(result.ok).toBe(false);
            expect(result.results[0]!.outcome).toBe('failed');
            expect(result.results[0]!.error?.code).toBe(fault.code);
            expect(result.results[0]!.error?.message).toMatch(fault.message);
            if (fault.namesVariable)
              expect(result.results[0]!.error?.message).toContain(engine.adminEnv);
            for (const password of [
              new URL(admin).password,
              new URL(engine.rootUrl()).password,
            ].filter(Boolean)) {
              expect(result.results[0]!.error?.message).not.toContain(password);
            }
            await expectUntouched(expect, f, { before, code: fault.code, accounts });
          }));
      }

      it('a statement held up by a lock is cut off after statementTimeoutMs: a clear error, nothing left behind', ({
        expect,
      }) =>
        using({ extra: engine.statementTimeout }, async (f) => {
          const before = await rotateOk(expect, f);
          const accounts = await engine.accounts(f.s.prefix);
          const release = await engine.holdAdminStatements(f.s);
          let result;
          try {
            result = await f.rotate();
          } finally {
            await release();
          }
          expect(result.results[0]!.outcome).toBe('failed');
          expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_DB_QUERY_FAILED');
          expect(result.results[0]!.error?.message).toMatch(engine.expect.statementTimeout);
          await expectUntouched(expect, f, { before, code: 'ERR_ROTOR_DB_QUERY_FAILED', accounts });
          // Nothing was left half-made: the next rotation succeeds.
          expect(await engine.whoami((await rotateOk(expect, f)).value)).toBe(f.s.b);
        }));

      it('a connection cut between apply and verify fails the rotation and disables the idle user again', async ({
        expect,
      }) => {
        // The app-side URL goes through this proxy; right after apply it drops and swallows traffic.
        const proxy = await createCutProxy(engine.port());
        try {
          await using({ port: proxy.port, extra: '      connectTimeoutMs: 1000\n' }, async (f) => {
            const before = await rotateOk(expect, f);
            const result = await f.rotate({
              hooks: {
                afterJournal: (point) => (point === 'verify:started' ? proxy.cut() : undefined),
              },
            });
            proxy.restore();
            const expected = engine.expect.verifyCut(f.s, proxy.port);
            expect(result.results[0]!.outcome).toBe('failed');
            expect(result.results[0]!.error?.code).toBe(expected.code);
            expect(result.results[0]!.error?.message).toContain(expected.message);
            expect(await canLogIn(f, f.s.b)).toBe(false);
            await expectUntouched(expect, f, { before, code: expected.code });
          });
        } finally {
          await proxy.close();
        }
      });

      // Killed with SIGKILL right after each journal point: before verify:done resume rolls back,
      // after it resume finishes the rotation. `prior` rotations come first (two, so that a
      // previous version is superseded inside promote: the retire:done point).
      const kills: {
        point: string;
        mode: 'normal' | 'emergency';
        prior: number;
        expected: 'rolled-back' | 'completed';
      }[] = [
        { point: 'create:started', mode: 'normal', prior: 1, expected: 'rolled-back' },
        { point: 'apply:started', mode: 'normal', prior: 1, expected: 'rolled-back' },
        { point: 'verify:started', mode: 'normal', prior: 1, expected: 'rolled-back' },
        { point: 'verify:done', mode: 'normal', prior: 1, expected: 'completed' },
        { point: 'retire:done', mode: 'normal', prior: 2, expected: 'completed' },
        { point: 'promote:done', mode: 'normal', prior: 1, expected: 'completed' },
        { point: 'promote:done', mode: 'emergency', prior: 1, expected: 'completed' },
        { point: 'retire:done', mode: 'emergency', prior: 1, expected: 'completed' },
      ];
      for (const kill of kills) {
        it(`${kill.mode === 'emergency' ? 'an emergency rotation' : 'a rotation'} killed after ${kill.point}${kill.prior > 1 ? ' (superseding a previous version)' : ''} is ${kill.expected} by resume: working credentials, no orphan`, ({
          expect,
        }) =>
          using({}, async (f) => {
            for (let i = 0; i < kill.prior; i++) await rotateOk(expect, f);
            const before = (await f.stage('current'))!;
            const crash = await f.crashAt(kill.point, kill.mode);
            expect(crash.signal, crash.output).toBe('SIGKILL');
            // What the crash left is usable: one current credential that logs in.
            const crashed = (await f.stage('current'))!;
            expect(await engine.whoami(crashed.value)).toBe(userOf(crashed.value));
            // Killed after apply: the idle user already logs in with the new password.
            if (kill.point === 'verify:started') expect(await canLogIn(f, f.s.b)).toBe(true);

            expect(await f.resume()).toEqual([kill.expected]);
            const after = (await f.stage('current'))!;
            if (kill.expected === 'rolled-back') {
              expect(after).toEqual(before);
              expect(await engine.whoami(before.value)).toBe(userOf(before.value));
              expect(
                (await f.audit()).some(
                  (e) => e.action === 'rotate.rollback' && e.outcome === 'failure',
                ),
              ).toBe(true);
              expect(await f.check()).toBe(2);
            } else {
              expect(after.id).not.toBe(before.id);
              expect(userOf(after.value)).not.toBe(userOf(before.value));
              expect(await engine.whoami(after.value)).toBe(userOf(after.value));
              if (kill.mode === 'emergency') {
                expect(await f.stage('previous')).toBeUndefined();
                expect(await engine.loginCode(before.value)).toMatch(engine.codes.retired);
                expect((await f.audit()).some((e) => e.action === 'rotate.emergency')).toBe(true);
              } else {
                expect((await f.stage('previous'))!.id).toBe(before.id);
                expect(await engine.whoami(before.value)).toBe(userOf(before.value)); // in its grace window
                expect((await f.audit()).some((e) => e.action === 'rotate.success')).toBe(true);
              }
              expect(await f.check()).not.toBe(2);
            }
            await expectNoOrphans(expect, f);
            // The dead process's lock does not block the next rotation.
            await rotateOk(expect, f);
            await expectNoOrphans(expect, f);
          }));
      }
    });
  }
});
