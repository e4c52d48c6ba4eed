// rotor/mysql end to end against the real MariaDB on 127.0.0.1:3306 (real authentication: a wrong
// password is refused): 8 clients query through the pool without pause while the engine rotates
// the credential 3 times (alternate, retire included). Under CI=true a missing MariaDB fails.
import mysql from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createPool, valueFromStore, type PoolSwap } from '../src/sdk/mysql.js';
import { createProject, DAY } from './helpers/project.js';
import { requireService, SERVICE_URLS, uniquePrefix } from './helpers/services.js';

const maria = await requireService('mariadb');
const ADMIN = SERVICE_URLS.mariadb;
const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000077',
  method: 'manual',
};

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

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!maria.available)('rotor/mysql (MariaDB)', () => {
  it('8 clients query without pause through 3 alternate rotations with retire: 0 failures, each credential picked up', async () => {
    const name = uniquePrefix('sdkmy');
    await admin(async (db) => {
      await db.query(`CREATE DATABASE \`${name}\``);
      await db.query(
        `CREATE TABLE \`${name}\`.items (id INT AUTO_INCREMENT PRIMARY KEY, label TEXT)`,
      );
      await db.query(`CREATE ROLE \`${name}_r\``);
      await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON \`${name}\`.* TO \`${name}_r\``);
    });
    cleanups.push(() =>
      admin(async (db) => {
        for (const u of [`${name}_a`, `${name}_b`])
          await db.query(`DROP USER IF EXISTS '${u}'@'%'`);
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
      port: 3306
      database: ${name}
      params: { charset: utf8mb4 }
      role: ${name}_r
      baseUser: ${name}
      admin: { env: ROTOR_TEST_MYSQL_ADMIN }
`,
    });
    p.env.ROTOR_TEST_MYSQL_ADMIN = ADMIN;
    const rotor = p.rotor();
    cleanups.push(() => rotor.close());
    const engine = createRotationEngine({ rotor });
    const rotate = async () => {
      const result = await engine.rotate(actor, {
        secret: 'DATABASE_URL',
        environments: ['production'],
        method: 'manual',
      });
      expect(result.ok, JSON.stringify(result.results)).toBe(true);
    };
    const source = valueFromStore({
      dir: p.dir,
      environment: 'production',
      env: p.env,
      pollMs: 20,
    });
    const pool = createPool({ source, connectionLimit: 10 });
    cleanups.push(async () => {
      await pool.end();
      await source.close();
    });
    const swaps: PoolSwap[] = [];
    pool.on('swap', (s: PoolSwap) => swaps.push(s));
    const errors: unknown[] = [];
    pool.on('error', (e) => errors.push(e));
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const users = new Set<string>();

    await expect(pool.ready()).rejects.toMatchObject({ code: 'ERR_ROTOR_SECRET_NOT_STORED' });
    await rotate();
    await pool.ready();
    expect(pool.user).toBe(`${name}_a`);
    await expect(
      mysql.createConnection({ uri: `mysql://${name}_a:wrong@127.0.0.1:3306/${name}` }),
    ).rejects.toMatchObject({ errno: 1045 });

    const workers = Array.from({ length: 8 }, async (_, i) => {
      while (!stop) {
        try {
          const [rows] = await pool.query('SELECT CURRENT_USER() AS u, COUNT(*) AS n FROM items');
          users.add(String(rows[0]!.u).split('@')[0]!);
          ok += 1;
        } catch (error) {
          failures.push(error);
        }
        if (i % 2 === 0 && !stop) {
          const connection = await pool.getConnection();
          try {
            await connection.beginTransaction();
            await connection.query('INSERT INTO items (label) VALUES (?)', [`w${i}`]);
            await connection.commit();
            ok += 1;
          } catch (error) {
            failures.push(error);
          } finally {
            connection.release();
          }
        }
      }
    });

    try {
      const expected = [`${name}_b`, `${name}_a`, `${name}_b`];
      for (let n = 1; n <= 3; n++) {
        await until('queries before the rotation', () => ok > n * 50);
        p.clock.advance(30 * DAY);
        await rotate();
        await until(`swap ${n}`, () => pool.swaps === n);
        expect(pool.user).toBe(expected[n - 1]);
        const before = ok;
        await until(
          `queries as ${expected[n - 1]}`,
          () => users.has(expected[n - 1]!) && ok > before + 50,
        );
        await until('old pool drained', () => pool.draining === 0);
        p.clock.advance(DAY + 1);
        const retired = await engine.retire(actor, {});
        expect(retired.map((r) => r.postponed)).toEqual([undefined]);
        const after = ok;
        await until('queries after the retire', () => ok > after + 50);
      }
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(ok).toBeGreaterThan(400);
    expect(failures).toEqual([]);
    expect(errors).toEqual([]);
    expect(swaps.map((s) => s.to)).toEqual([`${name}_b`, `${name}_a`, `${name}_b`]);
    expect(users).toEqual(new Set([`${name}_a`, `${name}_b`]));
    // The retired user is locked; the pool keeps working with the current one.
    const locked = await admin(async (db) => {
      const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER '${name}_a'@'%'`);
      return String(Object.values(rows[0]!)[0]);
    });
    expect(locked).toContain('ACCOUNT LOCK');
    const [rows] = await pool.query('SELECT CURRENT_USER() AS u');
    expect(String(rows[0]!.u).split('@')[0]).toBe(`${name}_b`);
  }, 120_000);
});
