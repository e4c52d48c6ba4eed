// What only the `mysql` rotator has, end to end against the real MariaDB on 127.0.0.1:3306 (CI
// starts it; elsewhere these tests skip loudly): mysql_native_password hashes and the DEFAULT ROLE,
// the account host part and TLS requirement, the SHOW GRANTS comparison, per-environment
// composition with an admin URL from another secret, and the dual-password refusal on MariaDB.
// What it shares with the `postgres` rotator (alternate round trip, sessions, emergency, faults,
// kills at every journal point) is in db-rotators.test.ts.
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion, versionInStage } from '../src/core/vault/versions.js';
import { nativePasswordHash } from '../src/rotators/mysql.js';
import {
  actor,
  mysqlEngine as engine,
  openFixture,
  type DbFixture,
  type SecretOptions,
} from './helpers/db-engines.js';

const available = await engine.start();
const ROOT = engine.rootUrl();

async function using(options: SecretOptions, run: (f: DbFixture) => Promise<void>): Promise<void> {
  const f = await openFixture(engine, options);
  try {
    await run(f);
  } finally {
    await f.cleanup();
  }
}

async function showCreateUser(user: string, host = '%'): Promise<string> {
  const [row] = await engine.query(
    ROOT,
    `SHOW CREATE USER ${mysql.escape(user)}@${mysql.escape(host)}`,
  );
  return String(Object.values(row!)[0]);
}

describe.skipIf(!available)('mysql rotator on MariaDB', () => {
  it('the server holds only the mysql_native_password hash Rotor computed, with an expiry, and the role as DEFAULT ROLE', () =>
    using({}, async (f) => {
      const { a, b, group } = f.s;
      expect((await f.rotate()).ok).toBe(true);
      expect((await f.rotate()).ok).toBe(true);
      const current = (await f.current())!;
      for (const user of [a, b]) {
        const created = await showCreateUser(user);
        expect(created).toContain('PASSWORD EXPIRE INTERVAL');
        expect(created).toMatch(/IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'/);
        const grants = (await engine.query(ROOT, `SHOW GRANTS FOR '${user}'@'%'`)).map((g) =>
          String(Object.values(g)[0]),
        );
        expect(grants).toContain(`SET DEFAULT ROLE \`${group}\` FOR \`${user}\`@\`%\``);
      }
      expect(await showCreateUser(b)).toContain(
        nativePasswordHash(decodeURIComponent(new URL(current).password)),
      );
    }));

  it('keeps the account host part and an existing REQUIRE SSL (so, on this server without TLS, verify refuses the rotation)', () =>
    using({ extra: '      userHost: 127.0.0.1\n' }, async (f) => {
      expect((await f.rotate()).ok).toBe(true);
      expect(await engine.whoami((await f.current())!)).toBe(f.s.a);
      expect(await showCreateUser(f.s.a, '127.0.0.1')).toContain(`@\`127.0.0.1\``);
      expect(
        await engine.query(ROOT, `SELECT Host FROM mysql.global_priv WHERE User = ?`, [f.s.a]),
      ).toEqual([{ Host: '127.0.0.1' }]);
      // An existing REQUIRE SSL on either account is kept: a rotation must not weaken it.
      await engine.query(ROOT, `ALTER USER '${f.s.a}'@'127.0.0.1' REQUIRE SSL`);
      const result = await f.rotate();
      expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_VERIFY_FAILED');
      const refused = await showCreateUser(f.s.b, '127.0.0.1');
      expect(refused).toContain('REQUIRE SSL');
      expect(refused).toContain('ACCOUNT LOCK');
    }));

  it('refuses promotion when the two users do not hold the same privileges, printing the difference', () =>
    using({}, async (f) => {
      const { a, b, database } = f.s;
      await f.rotate();
      const current = (await f.stage('current'))!;
      await engine.query(ROOT, `GRANT DROP ON \`${database}\`.* TO '${a}'@'%'`);
      const result = (await f.rotate()).results[0]!;
      expect(result.outcome).toBe('failed');
      expect(result.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
      // Per privilege, against the login being replaced (the current one, a).
      expect(result.error?.message).toContain(`missing (held by ${a}): DROP ON \`${database}\`.*`);
      // The current credential is untouched and still works; the idle user is locked again.
      expect(await f.stage('current')).toEqual(current);
      expect(await engine.whoami(current.value)).toBe(a);
      expect(await showCreateUser(b)).toContain('ACCOUNT LOCK');
    }));

  it('composes DATABASE_URL per environment, with an admin URL read from another Rotor secret', () =>
    using({}, async (f) => {
      const { a, prefix: name } = f.s;
      const p = f.p;
      p.writePolicy(`version: 1
environments: [staging, production]
secrets:
  MYSQL_ADMIN_URL: { kind: manual, cadence: 365d }
  DATABASE_URL:
    kind: mysql
    cadence: 180d
    config:
      host: 127.0.0.1
      database: ${name}
      params: { charset: utf8mb4 }
      role: ${f.s.group}
      baseUser: ${name}
      admin: { env: ROTOR_TEST_MYSQL_ADMIN }
      environments:
        staging: { host: localhost, params: { charset: latin1 }, admin: { secret: MYSQL_ADMIN_URL }, baseUser: ${name}s }
`);
      expect((await p.cli(['apply'])).code).toBe(0);
      const rotor = p.rotor();
      try {
        const engineRun = createRotationEngine({ rotor });
        const missing = await engineRun.rotate(actor, {
          secret: 'DATABASE_URL',
          environments: ['staging'],
          method: 'manual',
        });
        expect(missing.results[0]!.error?.code).toBe('ERR_ROTOR_DB_ADMIN_MISSING');
        expect(missing.results[0]!.error?.message).toContain(
          'read from secret MYSQL_ADMIN_URL, which is not set',
        );
        expect(
          (
            await engineRun.rotate(actor, {
              secret: 'MYSQL_ADMIN_URL',
              environments: ['staging'],
              method: 'manual',
              input: ROOT,
            })
          ).ok,
        ).toBe(true);
        delete p.env.ROTOR_TEST_MYSQL_ADMIN; // staging must not need it
        expect(
          (
            await engineRun.rotate(actor, {
              secret: 'DATABASE_URL',
              environments: ['staging'],
              method: 'manual',
            })
          ).ok,
        ).toBe(true);
        const store = await rotor.store();
        const value = async (environment: string) =>
          openVersion(
            await rotor.masterKey(),
            (await versionInStage(store.db, 'DATABASE_URL', environment, 'current'))!,
          );
        const staging = await value('staging');
        expect(staging).toMatch(
          new RegExp(`^mysql://${name}s_a:[^@]+@localhost:3306/${name}\\?charset=latin1$`),
        );
        p.env.ROTOR_TEST_MYSQL_ADMIN = ROOT;
        expect(
          (
            await engineRun.rotate(actor, {
              secret: 'DATABASE_URL',
              environments: ['production'],
              method: 'manual',
            })
          ).ok,
        ).toBe(true);
        const production = await value('production');
        expect(await engine.whoami(production)).toBe(a);
        expect(await engine.whoami(staging)).toBe(`${name}s_a`); // production's rotation left staging's user alone
        expect(production).toMatch(/@127\.0\.0\.1:3306\/.*\?charset=utf8mb4$/);
      } finally {
        await rotor.close();
      }
    }));

  it('refuses the untested dual-password strategy without experimental: true, and on MariaDB with a clear error', () =>
    using({ strategy: 'dual-password' }, async (f) => {
      const untested = (await f.rotate()).results[0]!;
      expect(untested.outcome).toBe('failed');
      expect(untested.error?.code).toBe('ERR_ROTOR_ROTATOR_CONFIG');
      expect(untested.error?.message).toMatch(
        /dual-password is untested .* set experimental: true/,
      );
      expect(await engine.accounts(f.s.prefix)).toEqual([]);
      // rotor schema says so too, where editors show it.
      const schema = JSON.parse((await f.p.cli(['schema'])).stdout) as {
        properties: {
          secrets: {
            additionalProperties: {
              allOf: {
                if: unknown;
                then: {
                  properties: { config: { properties: Record<string, { description?: string }> } };
                };
              }[];
            };
          };
        };
      };
      const mysqlConfig = schema.properties.secrets.additionalProperties.allOf.find((k) =>
        JSON.stringify(k.if).includes('"mysql"'),
      )!.then.properties.config.properties;
      expect(mysqlConfig.strategy!.description).toMatch(
        /dual-password: MySQL 8\.0\.14\+ only, UNTESTED .* needs experimental: true/,
      );
      expect(mysqlConfig.experimental!.description).toMatch(/untested/);
    }).then(() =>
      using({ strategy: 'dual-password', extra: '      experimental: true\n' }, async (f) => {
        const result = (await f.rotate()).results[0]!;
        expect(result.outcome).toBe('failed');
        expect(result.error?.code).toBe('ERR_ROTOR_ROTATOR_CONFIG');
        expect(result.error?.message).toMatch(
          /dual-password needs MySQL 8\.0\.14 or later .* runs MariaDB 10\./,
        );
      }),
    ));
});
