// Issue 9 over both SQL engines, against the real servers (the private scram-sha-256 PostgreSQL
// cluster and MariaDB): a team's original login is retired like Rotor's own and the server's
// refusal is proven in the audit; `keepOriginalLogin` says "kept, still valid" and warns; the
// first rotation compares privileges with the login the current version records (the imported
// one) and refuses, per privilege, changing nothing; a retire held up by an idle session turns
// WARNING, then CRITICAL after drain.within, naming the session; `drain.then: terminate` ends it.
import { afterAll, describe, expect, it } from 'vitest';
import {
  createCutProxy,
  ENGINES,
  openFixture,
  postgresEngine,
  userOf,
  type DbEngine,
  type DbFixture,
  type SecretOptions,
} from './helpers/db-engines.js';
import { createProject, DAY } from './helpers/project.js';
import { requireService, uniquePrefix } from './helpers/services.js';

const available = new Map<string, boolean>();
for (const engine of ENGINES) available.set(engine.name, await engine.start());
afterAll(async () => {
  for (const engine of ENGINES) await engine.stop();
});

const HOUR = DAY / 24;

/** The team's existing login, holding the app's privileges the way each engine does it. */
async function legacyLogin(f: DbFixture): Promise<{ user: string; url: string }> {
  const user = `${f.s.prefix}_legacy`;
  const root = f.engine.rootUrl();
  if (f.engine.name === 'postgres') {
    await f.engine.query(
      root,
      `CREATE ROLE ${user} LOGIN PASSWORD 'legacy-pass-123' IN ROLE ${f.s.group}`,
    );
    return {
      user,
      url: `postgres://${user}:legacy-pass-123@127.0.0.1:${f.engine.port()}/${f.s.database}`,
    };
  }
  await f.engine.query(root, `CREATE USER '${user}'@'%' IDENTIFIED BY 'legacy-pass-123'`);
  await f.engine.query(root, `GRANT \`${f.s.group}\` TO '${user}'@'%'`);
  await f.engine.query(root, `SET DEFAULT ROLE \`${f.s.group}\` FOR '${user}'@'%'`);
  return {
    user,
    url: `mysql://${user}:legacy-pass-123@127.0.0.1:${f.engine.port()}/${f.s.database}`,
  };
}

/** A table outside the app's grants, and the statement granting SELECT on it straight to `user`. */
async function flagsTable(
  f: DbFixture,
): Promise<{ grantTo(user: string, role?: boolean): Promise<void>; privilege: RegExp }> {
  const db = f.s.adminUrl;
  if (f.engine.name === 'postgres') {
    await f.engine.query(db, 'CREATE TABLE public.flags (id int)');
    return {
      grantTo: async (user) =>
        void (await f.engine.query(db, `GRANT SELECT ON public.flags TO ${user}`)),
      privilege: /table public\.flags SELECT/,
    };
  }
  await f.engine.query(db, `CREATE TABLE \`${f.s.database}\`.flags (id INT)`);
  return {
    grantTo: async (user, role) =>
      void (await f.engine.query(
        db,
        `GRANT SELECT ON \`${f.s.database}\`.flags TO ${role ? `\`${user}\`` : `'${user}'@'%'`}`,
      )),
    privilege: new RegExp(`SELECT ON \`${f.s.database}\`\\.\`flags\``),
  };
}

async function importLegacy(f: DbFixture, url: string): Promise<void> {
  const imported = await f.p.cli(
    ['import', 'DATABASE_URL', '--env', 'production', '--rotated-at', '2025-12-01'],
    { stdin: url },
  );
  expect(imported.code, imported.stderr).toBe(0);
}

async function statusAlerts(f: DbFixture): Promise<{ problem: string; detail: string }[]> {
  const out = await f.p.cli(['status', '--json']);
  expect(out.code, out.stderr).toBe(0);
  const rows = (
    JSON.parse(out.stdout) as {
      rows: { secret: string; alerts?: { problem: string; detail: string }[] }[];
    }
  ).rows;
  return rows.find((r) => r.secret === 'DATABASE_URL')?.alerts ?? [];
}

async function rotateOk(f: DbFixture): Promise<string> {
  const result = await f.rotate();
  expect(result.ok, JSON.stringify(result.results)).toBe(true);
  return (await f.current())!;
}

describe('retire proof, original logins, drain', { concurrent: true, timeout: 90_000 }, () => {
  for (const engine of ENGINES) {
    describe.skipIf(!available.get(engine.name))(engine.name, () => {
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

      it('import → rotate ×3 → retire: the original login is refused afterwards, and every refusal is in the audit', () =>
        using({}, async (f) => {
          const legacy = await legacyLogin(f);
          await importLegacy(f, legacy.url);
          expect(await engine.loginCode(legacy.url)).toBe('ok');
          await rotateOk(f);
          f.p.clock.advance(DAY + 1);
          const cli = await f.p.cli(['retire']);
          expect(cli.code, cli.stderr).toBe(0);
          expect(cli.stdout).toMatch(
            /^retired DATABASE_URL\/production version \S+; a fresh login with the retired credential was refused/m,
          );
          expect(await engine.loginCode(legacy.url)).toMatch(retiredCode(engine));
          f.p.clock.advance(DAY);
          await rotateOk(f);
          f.p.clock.advance(2 * DAY);
          await rotateOk(f);
          f.p.clock.advance(2 * DAY);
          await f.retire();
          expect(await engine.loginCode(legacy.url)).toMatch(retiredCode(engine));
          expect(await engine.loginCode((await f.current())!)).toBe('ok');
          const audit = await f.audit();
          const retires = audit.filter((e) => e.action === 'retire');
          expect(retires.length).toBe(3);
          for (const r of retires)
            expect(r).toMatchObject({ outcome: 'success', details: { verified: 'refused' } });
          const proofs = audit.filter((e) => e.action === 'retire.verified');
          expect(proofs.map((p) => p.outcome)).toEqual(['success', 'success', 'success']);
          expect(proofs[0]!.notes).toContain(legacy.user);
          expect(JSON.stringify(audit)).not.toContain('legacy-pass-123');
          expect(await statusAlerts(f)).toEqual([]);
          expect(await f.check()).toBe(0);
        }));

      it('keepOriginalLogin: true keeps the imported login valid, says "kept, still valid" in the audit, and status/check warn', () =>
        using({ extra: '      keepOriginalLogin: true\n' }, async (f) => {
          const legacy = await legacyLogin(f);
          await importLegacy(f, legacy.url);
          await rotateOk(f);
          f.p.clock.advance(DAY + 1);
          const cli = await f.p.cli(['retire']);
          expect(cli.code, cli.stderr).toBe(0);
          expect(cli.stdout).toMatch(
            /^kept DATABASE_URL\/production version \S+: kept, still valid: (login role|user) /m,
          );
          expect(await engine.loginCode(legacy.url)).toBe('ok');
          const audit = await f.audit();
          const retire = audit.find((e) => e.action === 'retire')!;
          expect(retire.notes).toMatch(/kept, still valid: .*keepOriginalLogin: true/);
          expect(retire.outcome).toBe('info');
          expect(retire.details.verified).toBe('kept');
          // No row claims a revocation or a proof that did not happen.
          expect(audit.filter((e) => e.action === 'retire.verified')).toEqual([]);
          expect(await statusAlerts(f)).toEqual([
            expect.objectContaining({
              problem: 'outside-rotation',
              detail: expect.stringContaining(legacy.user),
            }),
          ]);
          const check = await f.p.cli(['check']);
          expect(check.code).toBe(1);
          expect(check.stdout).toMatch(/WARNING - 1 credential outside rotation/);
          expect(check.stdout).toContain(
            `WARNING: DATABASE_URL/production credential outside rotation: kept, still valid`,
          );
          const status = await f.p.cli(['status']);
          expect(status.stdout).toContain(
            'WARNING: DATABASE_URL/production credential outside rotation',
          );
        }));

      it('a privilege granted to the imported login before the first rotation: promotion refused per privilege, nothing changed', () =>
        using({}, async (f) => {
          const legacy = await legacyLogin(f);
          await importLegacy(f, legacy.url);
          const flags = await flagsTable(f);
          await flags.grantTo(legacy.user);
          const before = await f.stages();
          const accounts = await engine.accounts(f.s.prefix);
          const result = (await f.rotate()).results[0]!;
          expect(result.outcome).toBe('failed');
          expect(result.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
          expect(result.error?.message).toContain(legacy.user);
          expect(result.error?.message).toMatch(flags.privilege);
          // Nothing changed: the imported version is current, its login works, the new login cannot log in.
          expect((await f.stages()).filter((v) => v.stage === 'current')).toEqual(
            before.filter((v) => v.stage === 'current'),
          );
          expect(await engine.loginCode(legacy.url)).toBe('ok');
          expect(
            (await engine.accounts(f.s.prefix)).filter((a) => a.login).map((a) => a.name),
          ).toEqual(accounts.filter((a) => a.login).map((a) => a.name));
          // Granted to the role/group instead, the rotation goes through.
          await flags.grantTo(f.s.group, true);
          const url = await rotateOk(f);
          expect([f.s.a, f.s.b]).toContain(userOf(url));
        }));

      it('a privilege granted straight to the current login mid-tenure refuses the next promotion', () =>
        using({}, async (f) => {
          const first = await rotateOk(f);
          const flags = await flagsTable(f);
          await flags.grantTo(userOf(first));
          const result = (await f.rotate()).results[0]!;
          expect(result.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
          expect(result.error?.message).toMatch(flags.privilege);
          expect(await f.current()).toBe(first);
        }));

      it('an idle session on a retired login: WARNING naming it, CRITICAL after drain.within, and the next alternate rotation refuses with the same list', () =>
        using({}, async (f) => {
          const first = await rotateOk(f);
          await rotateOk(f);
          const idle = await engine.openSession(first);
          try {
            f.p.clock.advance(DAY + 1);
            expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
            const warn = await f.p.cli(['check']);
            expect(warn.code).toBe(1);
            expect(warn.stdout).toMatch(/retire postponed/);
            expect(warn.stdout).toContain('from 127.0.0.1');
            if (engine.name === 'postgres') expect(warn.stdout).toContain('application "shop"');
            f.p.clock.advance(DAY);
            const critical = await f.p.cli(['check']);
            expect(critical.code).toBe(2);
            expect(critical.stdout).toMatch(
              /CRITICAL: DATABASE_URL\/production version .* is still valid: .*drain\.within: application "[^"]+" from 127\.0\.0\.1/,
            );
            const refused = (await f.rotate()).results[0]!;
            expect(refused.error?.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
            expect(refused.error?.message).toContain('from 127.0.0.1');
            await idle.query(); // still connected: nothing was cut
          } finally {
            await idle.close();
          }
        }));

      it('drain: { within: 1h, then: terminate } ends the sessions after the window, retires, and proves it', () =>
        using({ extra: '      drain: { within: 1h, then: terminate }\n' }, async (f) => {
          const first = await rotateOk(f);
          await rotateOk(f);
          const idle = await engine.openSession(first);
          try {
            f.p.clock.advance(DAY + 1);
            expect((await f.retire()).map((r) => r.postponed)).toEqual([true]);
            expect((await f.audit()).find((e) => e.action === 'retire.postponed')!.notes).toMatch(
              /CRITICAL 1h after the grace window .*terminated \(drain\.then: terminate\)/,
            );
            f.p.clock.advance(HOUR);
            expect((await f.retire()).map((r) => r.postponed ?? false)).toEqual([false]);
            await expect(idle.query()).rejects.toThrow();
            const retire = (await f.audit()).filter((e) => e.action === 'retire').at(-1)!;
            expect(retire.notes).toMatch(
              /drain\.then terminate: ended 1 session\(s\) still on .* 1h after the grace window/,
            );
            expect(retire.details.verified).toBe('refused');
            expect(await engine.loginCode(first)).toMatch(retiredCode(engine));
            expect(await f.check()).toBe(0);
          } finally {
            await idle.close();
          }
        }));
    });
  }
});

function retiredCode(engine: DbEngine): RegExp {
  // MariaDB refuses a locked account with 4151; a wrong password with 1045.
  return engine.name === 'mysql' ? /^(1045|4151)$/ : engine.codes.retired;
}

const trust = await requireService('postgres');

// The machine's PostgreSQL trusts 127.0.0.1: any password logs in for a role that may log in.
// A retired alternate credential whose role was reused by a newer version therefore still logs
// in there, and Rotor must say so (CRITICAL), not "retire success".
describe.skipIf(!trust.available)(
  'a server that does not check passwords (machine PostgreSQL, trust auth)',
  () => {
    it('a retired credential that still logs in is a failure in the audit and CRITICAL in status/check', async () => {
      const prefix = uniquePrefix('pgtrust');
      const group = `${prefix}_app`;
      const root = trust.url;
      const admin = (() => {
        const u = new URL(root);
        u.pathname = `/${prefix}`;
        return u.toString();
      })();
      await postgresEngine.query(root, `CREATE DATABASE ${prefix}`);
      try {
        await postgresEngine.query(root, `CREATE ROLE ${group} NOLOGIN`);
        await postgresEngine.query(root, `GRANT CONNECT ON DATABASE ${prefix} TO ${group}`);
        const p = await createProject({
          policy: `version: 1
environments: [production]
secrets:
  DATABASE_URL:
    kind: postgres
    cadence: 90d
    grace: 24h
    config:
      host: 127.0.0.1
      port: ${new URL(root).port || 5432}
      database: ${prefix}
      baseRole: ${group}
      admin: { env: PG_ADMIN_URL }
`,
        });
        p.env.PG_ADMIN_URL = admin;
        for (let i = 0; i < 3; i++) {
          const r = await p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
          expect(r.code, r.stdout + r.stderr).toBe(0);
        }
        const store = await p.rotor().store();
        const audit = (
          await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute()
        ).map((r) => JSON.parse(r.entry));
        await store.close();
        const retire = audit.find((e) => e.action === 'retire');
        expect(retire).toMatchObject({ outcome: 'failure', details: { verified: 'accepted' } });
        expect(retire.notes).toMatch(
          /CRITICAL: the retired credential still logs in \(PostgreSQL accepted a login as ".*_a" with the retired password/,
        );
        expect(audit.find((e) => e.action === 'retire.verified')).toMatchObject({
          outcome: 'failure',
        });
        const check = await p.cli(['check']);
        expect(check.code).toBe(2);
        expect(check.stdout).toMatch(
          /CRITICAL: DATABASE_URL\/production retired version .* still logs in/,
        );
      } finally {
        const q = (text: string) => postgresEngine.query(root, text);
        await q(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${prefix}'`,
        );
        await q(`DROP DATABASE IF EXISTS ${prefix}`);
        for (const r of ['_a', '_b', '']) await q(`DROP ROLE IF EXISTS ${group}${r}`);
      }
    });
  },
);

// The proof logs in where the app does (DATABASE_URL's host and port); retire itself runs on the
// admin connection. With the app's path cut, the revocation happened but could not be proven.
describe(
  'a retire whose proof cannot reach the server',
  { concurrent: true, timeout: 90_000 },
  () => {
    for (const engine of ENGINES) {
      it.skipIf(!available.get(engine.name))(
        `${engine.name}: says "revocation not proven" (WARNING), never "refused"`,
        async () => {
          const proxy = await createCutProxy(engine.port());
          const f = await openFixture(engine, { port: proxy.port });
          try {
            await rotateOk(f);
            await rotateOk(f);
            proxy.cut();
            f.p.clock.advance(DAY + 1);
            expect((await f.retire()).map((r) => r.postponed ?? false)).toEqual([false]);
            const audit = await f.audit();
            expect(audit.find((e) => e.action === 'retire')).toMatchObject({
              outcome: 'info',
              details: { verified: 'unproven' },
            });
            expect(audit.find((e) => e.action === 'retire.verified')).toMatchObject({
              outcome: 'info',
              notes: expect.stringMatching(/revocation not proven: the server could not be asked/),
            });
            const check = await f.p.cli(['check']);
            expect(check.code).toBe(1);
            expect(check.stdout).toMatch(
              /WARNING: DATABASE_URL\/production retired version .*revocation not proven/,
            );
          } finally {
            await f.cleanup();
            await proxy.close();
          }
        },
      );
    }
  },
);

describe.skipIf(!available.get('mysql'))(
  'mysql: the first rotation after adopt compares effective privileges',
  { timeout: 90_000 },
  () => {
    it('a grant to the role only is extra against the imported user (which holds its grants directly): refused, named; granted to both, it goes through', async () => {
      const engine = ENGINES.find((e) => e.name === 'mysql')!;
      const f = await openFixture(engine);
      try {
        const user = `${f.s.prefix}_legacy`;
        const root = engine.rootUrl();
        await engine.query(root, `CREATE USER '${user}'@'%' IDENTIFIED BY 'legacy-pass-123'`);
        await engine.query(
          root,
          `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${f.s.database}\`.* TO '${user}'@'%'`,
        );
        await importLegacy(
          f,
          `mysql://${user}:legacy-pass-123@127.0.0.1:${engine.port()}/${f.s.database}`,
        );
        const flags = await flagsTable(f);
        await flags.grantTo(f.s.group, true);
        const refused = (await f.rotate()).results[0]!;
        expect(refused.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
        expect(refused.error?.message).toMatch(
          new RegExp(`extra \\(only ${f.s.a}\\): SELECT ON \`${f.s.database}\`\\.\`flags\``),
        );
        await flags.grantTo(user);
        await rotateOk(f);
      } finally {
        await f.cleanup();
      }
    });
  },
);
