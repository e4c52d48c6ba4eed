// `sql` smoke tests and health checks against the real servers, one suite over both engines: the
// statement runs logged in as the NEW login (the row it writes names it), and a failing check in
// production puts the previous login back as current and locks the new one. Authentication is
// not the point here (the rotator suites prove it), so PostgreSQL's trust rule is fine.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openVersion, versionInStage } from '../src/core/vault/versions.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { requireService, SERVICE_URLS, uniquePrefix } from './helpers/services.js';

const pgService = await requireService('postgres');
const mariaService = await requireService('mariadb');

interface Engine {
  name: string;
  available: boolean;
  /** Creates the database, the privilege-holding role and a `probes` table; returns rotor.yaml's secret entry config. */
  setup(prefix: string): Promise<string>;
  teardown(prefix: string): Promise<void>;
  /** A statement that records who ran it in `probes`. */
  recordWho: string;
  probes(prefix: string): Promise<string[]>;
  /** Whether `user` may still log in (pg: rolcanlogin; mysql: not ACCOUNT LOCK). */
  canLogin(prefix: string, user: string): Promise<boolean>;
}

async function pgQuery<T extends pg.QueryResultRow>(database: string, text: string): Promise<T[]> {
  const url = new URL(SERVICE_URLS.postgres);
  url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function maria<T>(run: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection({ uri: SERVICE_URLS.mariadb });
  try {
    return await run(db);
  } finally {
    await db.end();
  }
}

const ENGINES: Engine[] = [
  {
    name: 'PostgreSQL',
    available: pgService.available,
    async setup(prefix) {
      await pgQuery('test', `CREATE DATABASE ${prefix}`);
      await pgQuery(prefix, `CREATE ROLE ${prefix}_app NOLOGIN`);
      await pgQuery(prefix, `GRANT CONNECT, TEMP ON DATABASE ${prefix} TO ${prefix}_app`);
      await pgQuery(prefix, `CREATE TABLE probes (who text)`);
      await pgQuery(prefix, `ALTER TABLE probes OWNER TO ${prefix}_app`);
      return `    kind: postgres
    config:
      host: 127.0.0.1
      port: ${new URL(SERVICE_URLS.postgres).port || 5432}
      database: ${prefix}
      baseRole: ${prefix}_app
      admin: { env: ADMIN_URL }`;
    },
    async teardown(prefix) {
      await pgQuery(
        'test',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${prefix}' AND pid <> pg_backend_pid()`,
      );
      await pgQuery('test', `DROP DATABASE IF EXISTS ${prefix}`);
      for (const role of [`${prefix}_app_a`, `${prefix}_app_b`, `${prefix}_app`])
        await pgQuery('test', `DROP ROLE IF EXISTS ${role}`);
    },
    recordWho: 'INSERT INTO probes (who) VALUES (session_user)',
    async probes(prefix) {
      return (await pgQuery<{ who: string }>(prefix, 'SELECT who FROM probes')).map((r) => r.who);
    },
    async canLogin(_prefix, user) {
      const rows = await pgQuery<{ rolcanlogin: boolean }>(
        'test',
        `SELECT rolcanlogin FROM pg_roles WHERE rolname = '${user}'`,
      );
      return rows[0]?.rolcanlogin ?? false;
    },
  },
  {
    name: 'MariaDB',
    available: mariaService.available,
    async setup(prefix) {
      await maria(async (db) => {
        await db.query(`CREATE DATABASE \`${prefix}\``);
        await db.query(`CREATE TABLE \`${prefix}\`.probes (who TEXT)`);
        await db.query(`CREATE ROLE \`${prefix}_r\``);
        await db.query(`GRANT SELECT, INSERT ON \`${prefix}\`.* TO \`${prefix}_r\``);
      });
      return `    kind: mysql
    config:
      host: 127.0.0.1
      port: ${new URL(SERVICE_URLS.mariadb).port || 3306}
      database: ${prefix}
      role: ${prefix}_r
      baseUser: ${prefix}
      admin: { env: ADMIN_URL }`;
    },
    async teardown(prefix) {
      await maria(async (db) => {
        for (const u of [`${prefix}_a`, `${prefix}_b`])
          await db.query(`DROP USER IF EXISTS '${u}'@'%'`);
        await db.query(`DROP ROLE IF EXISTS \`${prefix}_r\``);
        await db.query(`DROP DATABASE IF EXISTS \`${prefix}\``);
      });
    },
    recordWho: 'INSERT INTO probes (who) VALUES (SUBSTRING_INDEX(USER(), "@", 1))',
    async probes(prefix) {
      return maria(async (db) => {
        const [rows] = await db.query<mysql.RowDataPacket[]>(
          `SELECT who FROM \`${prefix}\`.probes`,
        );
        return rows.map((r) => String(r.who));
      });
    },
    async canLogin(_prefix, user) {
      return maria(async (db) => {
        const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${user}'@'%'`);
        return !String(Object.values(rows[0]!)[0]).includes('ACCOUNT LOCK');
      });
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const userOf = (url: string) => decodeURIComponent(new URL(url).username);

async function current(
  p: TestProject,
  stage: 'current' | 'previous' = 'current',
): Promise<string | undefined> {
  const rotor = p.rotor();
  try {
    const row = await versionInStage((await rotor.store()).db, 'DATABASE_URL', 'production', stage);
    return row ? openVersion(await rotor.masterKey(), row) : undefined;
  } finally {
    await rotor.close();
  }
}

for (const engine of ENGINES) {
  describe.skipIf(!engine.available)(`sql steps on ${engine.name}`, () => {
    async function project(steps: string): Promise<{ p: TestProject; prefix: string }> {
      const prefix = uniquePrefix('sf');
      cleanups.push(() => engine.teardown(prefix));
      const config = await engine.setup(prefix);
      const p = await createProject({
        policy: `version: 1
environments: [staging, production]
secrets:
  DATABASE_URL:
    cadence: 180d
    grace: 24h
    environments: [production]
${config}
${steps}`,
      });
      p.env.ADMIN_URL = engine.name === 'PostgreSQL' ? SERVICE_URLS.postgres : SERVICE_URLS.mariadb;
      return { p, prefix };
    }

    it('runs a smoke test logged in as the new login', async () => {
      const { p, prefix } = await project(`    smoke:\n      - sql: '${engine.recordWho}'`);
      const rotated = await p.cli(['rotate', 'DATABASE_URL', '--json']);
      expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
      const first = userOf((await current(p))!);
      p.clock.advance(DAY);
      expect((await p.cli(['rotate', 'DATABASE_URL'])).code).toBe(0);
      const second = userOf((await current(p))!);
      expect(second).not.toBe(first);
      expect(await engine.probes(prefix)).toEqual([first, second]);
    });

    it('a failing health check rolls production back: the previous login is current again and the new one locked', async () => {
      const { p } = await project(
        `    health:\n      - sql: 'SELECT * FROM table_that_does_not_exist'\n        environments: [production]`,
      );
      // A first version has nothing to roll back to: it fails with the new login current.
      expect((await p.cli(['rotate', 'DATABASE_URL'])).code).not.toBe(0);
      const before = (await current(p))!;
      p.clock.advance(DAY);
      const rotated = await p.cli(['rotate', 'DATABASE_URL', '--json']);
      expect(rotated.code).not.toBe(0);
      const result = JSON.parse(rotated.stdout).results[0];
      expect(result.error.code).toBe('ERR_ROTOR_STAGE_FAILED');
      expect(result.error.message).toContain('rolled back');
      expect(result.error.message).not.toContain(new URL(before).password);
      expect(await current(p)).toBe(before);
      const other = userOf(before).endsWith('_a')
        ? userOf(before).replace(/_a$/, '_b')
        : userOf(before).replace(/_b$/, '_a');
      expect(await engine.canLogin('', userOf(before))).toBe(true);
      expect(await engine.canLogin('', other)).toBe(false);
      expect((await p.cli(['check'])).code).toBe(2);
    });
  });
}
