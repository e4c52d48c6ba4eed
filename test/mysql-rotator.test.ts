// The `mysql` rotator end to end through the engine, against the real MariaDB on 127.0.0.1:3306
// (CI starts it; elsewhere these tests skip loudly). Authentication there is real: every user
// the tests create needs its password, so "logs in with the new password" proves something, and
// a wrong password or a retired (locked) user is refused. Each test makes its own database,
// role and users and drops them.
import { createServer, Socket as NetSocket, type Socket } from 'node:net';
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion, versionInStage } from '../src/core/vault/versions.js';
import { nativePasswordHash } from '../src/rotators/mysql.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { requireService, SERVICE_URLS, uniquePrefix } from './helpers/services.js';

const maria = await requireService('mariadb');
const ADMIN = SERVICE_URLS.mariadb;
const actor: Actor = { operator: 'alice', requestId: '00000000-0000-4000-8000-000000000042', method: 'manual' };

interface Fixture {
  p: TestProject;
  name: string;
  a: string;
  b: string;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function admin<T>(run: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection({ uri: ADMIN });
  try {
    return await run(db);
  } finally {
    await db.end();
  }
}

/** A database with one table, a role holding the app's privileges, and a project using them. */
async function setup(extra: { config?: string; port?: number } = {}): Promise<Fixture> {
  const name = uniquePrefix('my');
  const fixture = { name, a: `${name}_a`, b: `${name}_b` };
  await admin(async (db) => {
    await db.query(`CREATE DATABASE \`${name}\``);
    await db.query(`CREATE TABLE \`${name}\`.items (id INT PRIMARY KEY, label TEXT)`);
    await db.query(`CREATE ROLE \`${name}_r\``);
    await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${name}\`.* TO \`${name}_r\``);
  });
  cleanups.push(() =>
    admin(async (db) => {
      for (const u of [fixture.a, fixture.b, `${name}_adm`]) await db.query(`DROP USER IF EXISTS '${u}'@'%'`);
      await db.query(`DROP ROLE IF EXISTS \`${name}_r\``);
      await db.query(`DROP DATABASE IF EXISTS \`${name}\``);
    }),
  );
  const p = await createProject({
    policy: `version: 1
environments: [production]
secrets:
  DATABASE_URL:
    kind: mysql
    cadence: 180d
    grace: 24h
    config:
      host: 127.0.0.1
      port: ${extra.port ?? 3306}
      database: ${name}
      params: { charset: utf8mb4 }
      role: ${name}_r
      baseUser: ${name}
      admin: { env: ROTOR_TEST_MYSQL_ADMIN }
${extra.config ?? ''}`,
  });
  p.env.ROTOR_TEST_MYSQL_ADMIN = ADMIN;
  return { p, ...fixture };
}

async function stageValue(p: TestProject, stage: 'current' | 'previous'): Promise<{ id: string; value: string } | undefined> {
  const rotor = p.rotor();
  try {
    const row = await versionInStage((await rotor.store()).db, 'DATABASE_URL', 'production', stage);
    return row ? { id: row.id, value: openVersion(await rotor.masterKey(), row) } : undefined;
  } finally {
    await rotor.close();
  }
}

async function rotate(p: TestProject, options: { emergency?: boolean } = {}) {
  const rotor = p.rotor();
  try {
    const result = await createRotationEngine({ rotor }).rotate(actor, {
      secret: 'DATABASE_URL',
      environments: ['production'],
      method: options.emergency ? 'emergency' : 'manual',
      ...(options.emergency ? { emergency: true, reason: 'leaked in a log' } : {}),
    });
    return result.results[0]!;
  } finally {
    await rotor.close();
  }
}

async function accountLocked(user: string): Promise<boolean> {
  return admin(async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${user}'@'%'`);
    return String(Object.values(rows[0]!)[0]).includes('ACCOUNT LOCK');
  });
}

async function retire(p: TestProject, options: { force?: boolean } = {}) {
  const rotor = p.rotor();
  try {
    return await createRotationEngine({ rotor }).retire(actor, { ...options });
  } finally {
    await rotor.close();
  }
}

/** Logs in with a DATABASE_URL and reads the table; resolves the user, or rejects with the server's error. */
async function login(url: string): Promise<string> {
  const db = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  try {
    await db.query('SELECT COUNT(*) FROM items');
    const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    return String(rows[0]!.u).split('@')[0]!;
  } finally {
    await db.end().catch(() => {});
  }
}

/** A retired user: its old URL is refused, and the account is locked (with a random password). */
async function expectRetired(url: string, user: string): Promise<void> {
  await expect(login(url)).rejects.toMatchObject({ errno: 1045 });
  await admin(async (db) => {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${user}'@'%'`);
    expect(String(Object.values(rows[0]!)[0])).toContain('ACCOUNT LOCK');
  });
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

async function auditActions(p: TestProject): Promise<{ action: string; outcome: string; notes: string }[]> {
  const rotor = p.rotor();
  const rows = await (await rotor.store()).db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
  await rotor.close();
  return rows.map((r) => JSON.parse(r.entry));
}

describe.skipIf(!maria.available)('mysql rotator on MariaDB', () => {
  it('alternates between <base>_a and <base>_b, and the server refuses a wrong password and a retired user', async () => {
    const { p, a, b, name } = await setup();
    expect((await rotate(p)).outcome).toBe('succeeded');
    const first = (await stageValue(p, 'current'))!;
    expect(first.value).toMatch(new RegExp(`^mysql://${a}:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:3306/${name}\\?charset=utf8mb4$`));
    expect(await login(first.value)).toBe(a);
    await expect(login(withPassword(first.value, 'wrong-password'))).rejects.toMatchObject({ errno: 1045 });

    expect((await rotate(p)).outcome).toBe('succeeded');
    const second = (await stageValue(p, 'current'))!;
    expect(await login(second.value)).toBe(b);
    expect(await login(first.value)).toBe(a); // grace: the previous user still works

    p.clock.advance(DAY + 1);
    expect((await retire(p)).map((r) => r.versionId)).toEqual([first.id]);
    await expectRetired(first.value, a);

    expect((await rotate(p)).outcome).toBe('succeeded');
    const third = (await stageValue(p, 'current'))!;
    expect(await login(third.value)).toBe(a);
    await expect(login(first.value)).rejects.toMatchObject({ errno: 1045 });
    expect(await login(second.value)).toBe(b);

    expect((await rotate(p)).outcome).toBe('succeeded');
    const fourth = (await stageValue(p, 'current'))!;
    expect(await login(fourth.value)).toBe(b);
    await expect(login(second.value)).rejects.toMatchObject({ errno: 1045 });
    expect(await login(third.value)).toBe(a);

    // The server holds only the hash Rotor computed, and the users keep the role as default role.
    await admin(async (db) => {
      const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${b}'@'%'`);
      const created = String(Object.values(rows[0]!)[0]);
      expect(created).toContain(nativePasswordHash(decodeURIComponent(new URL(fourth.value).password)));
      expect(created).toContain('PASSWORD EXPIRE INTERVAL');
      const [grants] = await db.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR '${b}'@'%'`);
      expect(grants.map((g) => String(Object.values(g)[0]))).toContain(`SET DEFAULT ROLE \`${name}_r\` FOR \`${b}\`@\`%\``);
    });
  });

  it('refuses promotion when the two users do not hold the same privileges, printing the difference', async () => {
    const { p, a, b, name } = await setup();
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    await admin((db) => db.query(`GRANT DROP ON \`${name}\`.* TO '${a}'@'%'`));
    const result = await rotate(p);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
    expect(result.error?.message).toContain(`only ${a}: GRANT DROP ON \`${name}\`.* TO <user>`);
    // The current credential is untouched and still works; the idle user is locked again.
    expect((await stageValue(p, 'current'))!).toEqual(current);
    expect(await login(current.value)).toBe(a);
    await admin(async (db) => {
      const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${b}'@'%'`);
      expect(String(Object.values(rows[0]!)[0])).toContain('ACCOUNT LOCK');
    });
  });

  it('postpones retire while the old user has live sessions, and --force kills them', async () => {
    const { p, a } = await setup();
    await rotate(p);
    const first = (await stageValue(p, 'current'))!;
    await rotate(p);
    const live = await mysql.createConnection({ uri: first.value });
    try {
      p.clock.advance(DAY + 1);
      expect((await retire(p)).map((r) => r.postponed)).toEqual([true]);
      expect((await stageValue(p, 'previous'))!.id).toBe(first.id);
      await live.query('SELECT 1'); // the app's session was not cut off
      expect(await login(first.value)).toBe(a);
      const postponed = (await auditActions(p)).filter((e) => e.action === 'retire.postponed');
      expect(postponed).toHaveLength(1);
      expect(postponed[0]!.notes).toContain(`${a} still has 1 live session(s)`);

      expect((await retire(p, { force: true })).map((r) => r.versionId)).toEqual([first.id]);
      await expect(live.query('SELECT 1')).rejects.toBeTruthy();
      await expectRetired(first.value, a);
    } finally {
      live.destroy();
    }
  });

  it('refuses to reuse the idle user while the previous credential on it still has live sessions, changing nothing', async () => {
    const { p, a, b } = await setup();
    await rotate(p);
    const first = (await stageValue(p, 'current'))!;
    await rotate(p);
    const second = (await stageValue(p, 'current'))!;
    const live = await mysql.createConnection({ uri: first.value });
    try {
      const result = await rotate(p);
      expect(result.outcome).toBe('failed');
      expect(result.error?.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
      expect(result.error?.message).toContain(`${a}, the user this rotation would reuse, still has 1 live session(s)`);
      expect(await stageValue(p, 'current')).toEqual(second);
      expect((await stageValue(p, 'previous'))!.id).toBe(first.id);
      expect(await login(first.value)).toBe(a);
      expect(await login(second.value)).toBe(b);
    } finally {
      live.destroy();
    }
  });

  it('an emergency rotation makes the new user current, locks the old one and kills its sessions at once', async () => {
    const { p, a, b } = await setup();
    await rotate(p);
    const first = (await stageValue(p, 'current'))!;
    const live = await mysql.createConnection({ uri: first.value });
    try {
      const result = await rotate(p, { emergency: true });
      expect(result.outcome).toBe('succeeded');
      expect(result.retiredVersionIds).toEqual([first.id]);
      expect(result.emergencyActions?.join(' ')).toContain('locked');
      await expect(live.query('SELECT 1')).rejects.toBeTruthy();
      await expectRetired(first.value, a);
      expect(await login((await stageValue(p, 'current'))!.value)).toBe(b);
      expect(await stageValue(p, 'previous')).toBeUndefined();
    } finally {
      live.destroy();
    }
    expect(a).not.toBe(b);
  });

  it('a wrong admin password fails with a clear error naming the variable, and leaves the current credential alone', async () => {
    const { p, a } = await setup();
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    p.env.ROTOR_TEST_MYSQL_ADMIN = 'mysql://root:not-the-password@127.0.0.1:3306/test';
    const result = await rotate(p);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ERR_ROTOR_DB_AUTH_FAILED');
    expect(result.error?.message).toContain('$ROTOR_TEST_MYSQL_ADMIN was refused');
    expect(result.error?.message).not.toContain('not-the-password');
    expect(await stageValue(p, 'current')).toEqual(current);
    expect(await login(current.value)).toBe(a);
    const failure = (await auditActions(p)).find((e) => e.action === 'rotate.failure');
    expect(failure?.notes).toContain('ERR_ROTOR_DB_AUTH_FAILED');
    expect((await p.cli(['check'])).code).toBe(2);
  });

  it('an admin without CREATE USER gets an error naming the privilege', async () => {
    const { p, name } = await setup();
    await admin(async (db) => {
      await db.query(`CREATE USER '${name}_adm'@'%' IDENTIFIED BY 'adm-pass'`);
      await db.query(`GRANT SELECT ON \`${name}\`.* TO '${name}_adm'@'%'`);
    });
    p.env.ROTOR_TEST_MYSQL_ADMIN = `mysql://${name}_adm:adm-pass@127.0.0.1:3306/${name}`;
    const result = await rotate(p);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ERR_ROTOR_DB_PRIVILEGE_MISSING');
    expect(result.error?.message).toContain('CREATE USER');
    expect(await stageValue(p, 'current')).toBeUndefined();
  });

  it('works with the least-privilege admin the README documents', async () => {
    const { p, a, b, name } = await setup();
    await admin(async (db) => {
      await db.query(`CREATE USER '${name}_adm'@'%' IDENTIFIED BY 'adm-pass'`);
      await db.query(`GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '${name}_adm'@'%'`);
      await db.query(`GRANT \`${name}_r\` TO '${name}_adm'@'%' WITH ADMIN OPTION`);
      await db.query(`GRANT SELECT, UPDATE ON mysql.* TO '${name}_adm'@'%'`);
    });
    p.env.ROTOR_TEST_MYSQL_ADMIN = `mysql://${name}_adm:adm-pass@127.0.0.1:3306/`;
    expect((await rotate(p)).outcome).toBe('succeeded');
    const first = (await stageValue(p, 'current'))!;
    expect((await rotate(p)).outcome).toBe('succeeded');
    expect(await login((await stageValue(p, 'current'))!.value)).toBe(b);
    const live = await mysql.createConnection({ uri: first.value });
    try {
      p.clock.advance(DAY + 1);
      expect((await retire(p)).map((r) => r.postponed)).toEqual([true]);
      expect(await retire(p, { force: true })).toHaveLength(1);
      await expect(live.query('SELECT 1')).rejects.toBeTruthy();
      await expectRetired(first.value, a);
    } finally {
      live.destroy();
    }
  });

  it('an unreachable server fails with a clear error and changes nothing', async () => {
    const { p, a } = await setup();
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    p.env.ROTOR_TEST_MYSQL_ADMIN = 'mysql://root@127.0.0.1:1/test';
    const result = await rotate(p);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ERR_ROTOR_DB_UNREACHABLE');
    expect(result.error?.message).toContain('not reachable (ECONNREFUSED)');
    expect(await stageValue(p, 'current')).toEqual(current);
    expect(await login(current.value)).toBe(a);
    expect((await p.cli(['check'])).code).toBe(2);
  });

  it('a rotation killed between apply and verify is rolled back by resume: the idle user is locked again, the current one untouched', async () => {
    const { p, a, b } = await setup();
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    let reached!: () => void;
    const atVerify = new Promise<void>((resolve) => (reached = resolve));
    const dying = p.rotor();
    // The process "dies" after apply: it never returns from the journal point.
    void createRotationEngine({
      rotor: dying,
      hooks: {
        afterJournal: (point) => {
          if (point !== 'verify:started') return;
          reached();
          return new Promise<void>(() => {});
        },
      },
    }).rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: 'manual' });
    await atVerify;
    expect(await accountLocked(b)).toBe(false); // apply unlocked it with the new password
    const rotor = p.rotor();
    try {
      await (await rotor.store()).db.deleteFrom('locks').execute(); // the dead process's lock
      const outcomes = await createRotationEngine({ rotor }).resume(actor);
      expect(outcomes.map((o) => o.action)).toEqual(['rolled-back']);
    } finally {
      await rotor.close();
    }
    expect(await accountLocked(b)).toBe(true);
    expect(await stageValue(p, 'current')).toEqual(current);
    expect(await login(current.value)).toBe(a);
    expect((await auditActions(p)).some((e) => e.action === 'rotate.rollback' && e.outcome === 'failure')).toBe(true);
  });

  for (const [point, expected] of [
    ['create:started', 'rolled-back'],
    ['apply:started', 'rolled-back'],
    ['verify:done', 'completed'],
    ['promote:done', 'completed'],
  ] as const) {
    it(`a rotation that dies after ${point} is ${expected} by resume, leaving working credentials and no stray unlocked user`, async () => {
      const { p, a, b } = await setup();
      await rotate(p);
      const first = (await stageValue(p, 'current'))!;
      let reached!: () => void;
      const atPoint = new Promise<void>((resolve) => (reached = resolve));
      void createRotationEngine({
        rotor: p.rotor(),
        hooks: {
          afterJournal: (at) => {
            if (at !== point) return;
            reached();
            return new Promise<void>(() => {});
          },
        },
      }).rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: 'manual' });
      await atPoint;
      const rotor = p.rotor();
      try {
        await (await rotor.store()).db.deleteFrom('locks').execute();
        expect((await createRotationEngine({ rotor }).resume(actor)).map((o) => o.action)).toEqual([expected]);
      } finally {
        await rotor.close();
      }
      const current = (await stageValue(p, 'current'))!;
      if (expected === 'rolled-back') {
        expect(current).toEqual(first);
        expect(await login(first.value)).toBe(a);
        const [rows] = await admin((db) => db.query<mysql.RowDataPacket[]>('SELECT user FROM mysql.user WHERE user = ?', [b]));
        if (rows.length > 0) expect(await accountLocked(b)).toBe(true);
      } else {
        expect(await login(current.value)).toBe(b);
        expect(await login(first.value)).toBe(a); // previous, in its grace window
      }
    });
  }

  it('a connection cut between apply and verify fails the rotation and locks the idle user again', async () => {
    // A TCP proxy the app-side URL goes through; after apply it swallows traffic.
    const sockets = new Set<Socket>();
    let blackhole = false;
    const proxy = createServer((client) => {
      sockets.add(client);
      if (blackhole) return; // accept, never answer
      const upstream = new NetSocket();
      upstream.connect(3306, '127.0.0.1');
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    });
    const port = (proxy.address() as { port: number }).port;
    const { p, a, b } = await setup({ port, config: '      connectTimeoutMs: 1000\n' });
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    const rotor = p.rotor();
    try {
      const result = await createRotationEngine({
        rotor,
        hooks: {
          afterJournal: (point) => {
            if (point !== 'verify:started') return;
            blackhole = true;
            for (const s of sockets) s.destroy();
          },
        },
      }).rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: 'manual' });
      expect(result.results[0]!.outcome).toBe('failed');
      expect(result.results[0]!.error?.code).toBe('ERR_ROTOR_VERIFY_FAILED');
      expect(result.results[0]!.error?.message).toContain(`logging in as ${b} with the new password`);
    } finally {
      await rotor.close();
    }
    blackhole = false;
    expect(await accountLocked(b)).toBe(true);
    expect(await stageValue(p, 'current')).toEqual(current);
    expect(await login(current.value)).toBe(a);
    expect((await p.cli(['check'])).code).toBe(2);
  });

  it('a statement held up by a lock is cut off after statementTimeoutMs with a clear error, leaving nothing behind', async () => {
    const { p, a, b } = await setup({ config: '      statementTimeoutMs: 1000\n' });
    await rotate(p);
    const current = (await stageValue(p, 'current'))!;
    const holder = await mysql.createConnection({ uri: ADMIN });
    try {
      await holder.query('LOCK TABLES mysql.global_priv WRITE');
      const result = await rotate(p);
      expect(result.outcome).toBe('failed');
      expect(result.error?.code).toBe('ERR_ROTOR_DB_QUERY_FAILED');
      expect(result.error?.message).toContain('ran longer than statementTimeoutMs (1000 ms)');
    } finally {
      await holder.query('UNLOCK TABLES');
      await holder.end();
    }
    expect(await stageValue(p, 'current')).toEqual(current);
    expect(await login(current.value)).toBe(a);
    expect((await p.cli(['check'])).code).toBe(2);
    const [users] = await admin((db) => db.query<mysql.RowDataPacket[]>('SELECT user FROM mysql.user WHERE user = ?', [b]));
    expect(users).toEqual([]); // no orphaned user
    expect((await rotate(p)).outcome).toBe('succeeded');
    expect(await login((await stageValue(p, 'current'))!.value)).toBe(b);
  });

  it('composes DATABASE_URL per environment, with an admin URL read from another Rotor secret', async () => {
    const { p, a, name } = await setup();
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
      role: ${name}_r
      baseUser: ${name}
      admin: { env: ROTOR_TEST_MYSQL_ADMIN }
      environments:
        staging: { host: localhost, params: { charset: latin1 }, admin: { secret: MYSQL_ADMIN_URL }, baseUser: ${name}s }
`);
    expect((await p.cli(['apply'])).code).toBe(0);
    cleanups.push(() => admin(async (db) => {
      for (const u of [`${name}s_a`, `${name}s_b`]) await db.query(`DROP USER IF EXISTS '${u}'@'%'`);
    }));
    const rotor = p.rotor();
    try {
      const engine = createRotationEngine({ rotor });
      const missing = await engine.rotate(actor, { secret: 'DATABASE_URL', environments: ['staging'], method: 'manual' });
      expect(missing.results[0]!.error?.code).toBe('ERR_ROTOR_DB_ADMIN_MISSING');
      expect(missing.results[0]!.error?.message).toContain('read from secret MYSQL_ADMIN_URL, which is not set');
      expect((await engine.rotate(actor, { secret: 'MYSQL_ADMIN_URL', environments: ['staging'], method: 'manual', input: ADMIN })).ok).toBe(true);
      delete p.env.ROTOR_TEST_MYSQL_ADMIN; // staging must not need it
      expect((await engine.rotate(actor, { secret: 'DATABASE_URL', environments: ['staging'], method: 'manual' })).ok).toBe(true);
      const store = await rotor.store();
      const staging = openVersion(await rotor.masterKey(), (await versionInStage(store.db, 'DATABASE_URL', 'staging', 'current'))!);
      expect(staging).toMatch(new RegExp(`^mysql://${name}s_a:[^@]+@localhost:3306/${name}\\?charset=latin1$`));
      p.env.ROTOR_TEST_MYSQL_ADMIN = ADMIN;
      expect((await engine.rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: 'manual' })).ok).toBe(true);
      expect(await login((await stageValue(p, 'current'))!.value)).toBe(a);
      expect(await login(staging)).toBe(`${name}s_a`); // production's rotation left staging's user alone
      expect((await stageValue(p, 'current'))!.value).toMatch(/@127\.0\.0\.1:3306\/.*\?charset=utf8mb4$/);
    } finally {
      await rotor.close();
    }
  });

  it('refuses the dual-password strategy on MariaDB with a clear error', async () => {
    const { p } = await setup({ config: '      strategy: dual-password\n' });
    const result = await rotate(p);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('ERR_ROTOR_ROTATOR_CONFIG');
    expect(result.error?.message).toMatch(/dual-password needs MySQL 8\.0\.14 or later .* runs MariaDB 10\./);
  });
});
