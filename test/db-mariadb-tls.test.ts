// MariaDB accounts that REQUIRE SSL (issue 9): the machine's server has no TLS, so this file starts
// a private mariadbd with a test CA and server certificate. A team's user with REQUIRE SSL and a
// resource limit is imported and adopted; every new login Rotor makes carries the same REQUIRE
// and limits, Rotor's verify and retire proof log in over TLS, the original user is locked at
// retire, and what Rotor cannot copy or verify (another host part, a client-certificate
// requirement) refuses the rotation and names it, changing nothing.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateMariadb, type PrivateMariadb } from './helpers/private-mariadb.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { uniquePrefix } from './helpers/services.js';

let server: PrivateMariadb | undefined;
let startError: Error | undefined;
beforeAll(async () => {
  try {
    server = await startPrivateMariadb();
  } catch (error) {
    startError = error as Error;
    if (process.env.CI === 'true') throw error;
    process.stderr.write(
      `\n⚠️  SKIPPING MariaDB TLS tests: could not start a private mariadbd (${startError.message}). They FAIL under CI=true.\n\n`,
    );
  }
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

async function sql<T = mysql.RowDataPacket[]>(
  url: string,
  text: string,
  tls?: boolean,
): Promise<T> {
  const db = await mysql.createConnection({
    uri: url,
    connectTimeout: 5000,
    ...(tls ? { ssl: { ca: server!.ca } } : {}),
  });
  try {
    const [rows] = await db.query(text);
    return rows as T;
  } finally {
    await db.end().catch(() => {});
  }
}

const createUser = async (user: string, host = '%') =>
  String(
    Object.values((await sql(server!.rootUrl, `SHOW CREATE USER '${user}'@'${host}'`))[0]!)[0],
  );

/** 'ok', or the server's errno, logging in with `url` (over TLS when `tls`). */
async function login(url: string, tls: boolean): Promise<string> {
  try {
    await sql(url, 'SELECT COUNT(*) FROM items', tls);
    return 'ok';
  } catch (error) {
    return String((error as { errno?: number }).errno ?? error);
  }
}

interface Shop {
  prefix: string;
  oldUrl: string;
  p: TestProject;
  current(): Promise<string>;
  audit(): Promise<
    { action: string; outcome: string; notes: string; details: Record<string, unknown> }[]
  >;
}

async function shop(options: { userHost?: string; require?: string } = {}): Promise<Shop> {
  const prefix = uniquePrefix('mytls');
  const root = server!.rootUrl;
  const host = options.userHost ?? '%';
  await sql(root, `CREATE DATABASE \`${prefix}\``);
  await sql(root, `CREATE TABLE \`${prefix}\`.items (id INT PRIMARY KEY)`);
  await sql(
    root,
    `CREATE USER '${prefix}_app'@'${host}' IDENTIFIED BY 'old-app-pass' REQUIRE ${options.require ?? 'SSL'} WITH MAX_USER_CONNECTIONS 7`,
  );
  await sql(root, `GRANT SELECT, INSERT ON \`${prefix}\`.* TO '${prefix}_app'@'${host}'`);
  const oldUrl = `mysql://${prefix}_app:old-app-pass@127.0.0.1:${server!.port}/${prefix}`;
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  DATABASE_URL:
    kind: mysql
    cadence: 90d
    grace: 24h
    config:
      host: 127.0.0.1
      port: ${server!.port}
      database: ${prefix}
      role: ${prefix}_rw
      baseUser: ${prefix}
      tlsCa: ${server!.caPath}
      admin: { env: MYSQL_ADMIN_URL }
`,
  });
  p.env.MYSQL_ADMIN_URL = root;
  const imported = await p.cli(['import', 'DATABASE_URL', '--env', 'production'], {
    stdin: oldUrl,
  });
  expect(imported.code, imported.stderr).toBe(0);
  return {
    prefix,
    oldUrl,
    p,
    async current() {
      return (await p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim();
    },
    async audit() {
      const store = await p.rotor().store();
      try {
        return (
          await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute()
        ).map((r) => JSON.parse(r.entry));
      } finally {
        await store.close();
      }
    },
  };
}

describe(
  'mysql rotator with TLS-requiring accounts (private mariadbd with TLS)',
  { timeout: 120_000 },
  () => {
    it('keeps REQUIRE SSL and resource limits on every new login, verifies and proves over TLS, and locks the original user at retire', async () => {
      if (!server) return; // skipped loudly in beforeAll (fails there under CI=true)
      const s = await shop();
      const adopted = await s.p.cli([
        'db',
        'adopt',
        'DATABASE_URL',
        '--env',
        'production',
        '--yes',
      ]);
      expect(adopted.code, adopted.stderr).toBe(0);
      const first = await s.p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      const urlA = await s.current();
      expect(decodeURIComponent(new URL(urlA).username)).toBe(`${s.prefix}_a`);
      const a = await createUser(`${s.prefix}_a`);
      expect(a).toContain(' REQUIRE SSL');
      expect(a).toContain('MAX_USER_CONNECTIONS 7');
      // The new login works over TLS only, as the original did.
      expect(await login(urlA, true)).toBe('ok');
      expect(await login(urlA, false)).toBe('1045');

      s.p.clock.advance(2 * DAY);
      const second = await s.p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
      expect(second.code, second.stdout + second.stderr).toBe(0);
      const b = await createUser(`${s.prefix}_b`);
      expect(b).toContain(' REQUIRE SSL');
      expect(b).toContain('MAX_USER_CONNECTIONS 7');
      // The imported version was superseded: the original user is locked, proven over TLS.
      expect(await createUser(`${s.prefix}_app`)).toContain('ACCOUNT LOCK');
      expect(await login(s.oldUrl, true)).toBe('4151');
      const proof = (await s.audit()).find((e) => e.action === 'retire.verified')!;
      expect(proof).toMatchObject({ outcome: 'success', details: { verified: 'refused' } });
      expect(proof.notes).toMatch(/errno 4151/);
      expect(await login(await s.current(), true)).toBe('ok');
    });

    it('refuses, naming it, a host part or a client-certificate requirement it cannot carry over; nothing changed', async () => {
      if (!server) return; // skipped loudly in beforeAll (fails there under CI=true)
      const hosted = await shop({ userHost: '127.0.0.1' });
      const r1 = await hosted.p.cli(['rotate', 'DATABASE_URL', '--env', 'production', '--json']);
      expect(r1.code).not.toBe(0);
      expect(r1.stdout + r1.stderr).toMatch(/set userHost: '127\.0\.0\.1'/);
      expect(
        await sql(
          server.rootUrl,
          `SELECT User FROM mysql.user WHERE User LIKE '${hosted.prefix}\\_%' ORDER BY User`,
        ),
      ).toEqual([{ User: `${hosted.prefix}_app` }]);

      const x509 = await shop({ require: "ISSUER '/CN=rotor-test-ca'" });
      const r2 = await x509.p.cli(['rotate', 'DATABASE_URL', '--env', 'production', '--json']);
      expect(r2.code).not.toBe(0);
      expect(r2.stdout + r2.stderr).toMatch(
        /REQUIRE ISSUER '\/CN=rotor-test-ca', a client-certificate requirement Rotor cannot verify/,
      );
      expect(
        await sql(
          server.rootUrl,
          `SELECT User FROM mysql.user WHERE User LIKE '${x509.prefix}\\_%' ORDER BY User`,
        ),
      ).toEqual([{ User: `${x509.prefix}_app` }]);
    });
  },
);
