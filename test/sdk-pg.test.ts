// rotor/pg end to end: 8 clients query through the pool without pause while the engine rotates the
// credential (alternate, retire included) against a private PostgreSQL cluster with real
// scram-sha-256 authentication (the machine's server trusts 127.0.0.1, where any password works).
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createPool, valueFromStore, type PoolSwap } from '../src/sdk/pg.js';
import { createProject, DAY } from './helpers/project.js';
import { requireService, uniquePrefix } from './helpers/services.js';
import { startCluster, type Cluster } from './helpers/private-postgres.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000007',
  method: 'manual',
};

// Under CI=true a missing PostgreSQL (or a cluster that cannot start) fails the file.
const service = await requireService('postgres');
let cluster: Cluster | undefined;
if (service.available) {
  try {
    cluster = await startCluster();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    process.stderr.write(
      `\n⚠️  SKIPPING rotor/pg tests: could not start a private PostgreSQL cluster (${(error as Error).message}). They FAIL under CI=true.\n\n`,
    );
  }
}

afterAll(() => cluster?.stop());

function withDb(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function query(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!cluster)('rotor/pg (private cluster, scram-sha-256)', () => {
  it('8 clients query without pause through 3 alternate rotations with retire: 0 failures, each credential picked up', async () => {
    const c = cluster!;
    const prefix = uniquePrefix('sdkpg');
    const db = prefix;
    const base = `${prefix}_app`;
    await query(c.adminUrl, `CREATE DATABASE ${db}`);
    const adminDb = withDb(c.adminUrl, db);
    await query(adminDb, `CREATE ROLE ${base} NOLOGIN`);
    await query(adminDb, `GRANT CONNECT, TEMP ON DATABASE ${db} TO ${base}`);
    await query(adminDb, `CREATE TABLE public.orders (id serial PRIMARY KEY, item text)`);
    await query(adminDb, `ALTER TABLE public.orders OWNER TO ${base}`);
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
      port: ${c.port}
      database: ${db}
      baseRole: ${base}
      strategy: alternate
      admin: { env: PG_ADMIN_URL }
`,
    });
    p.env.PG_ADMIN_URL = c.adminUrl;
    const rotor = p.rotor();
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
    // Created before the first rotation: the first use waits for a current value.
    const pool = createPool({ source, max: 10 });
    await expect(pool.ready()).rejects.toMatchObject({ code: 'ERR_ROTOR_SECRET_NOT_STORED' });
    const swaps: PoolSwap[] = [];
    pool.on('swap', (s: PoolSwap) => swaps.push(s));
    const errors: unknown[] = [];
    pool.on('error', (e) => errors.push(e));
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const users = new Set<string>();
    try {
      await rotate();
      await pool.ready();
      expect(pool.user).toBe(`${base}_a`);
      // Authentication is real: a wrong password is refused by this cluster.
      await expect(
        query(`postgres://${base}_a:wrong@127.0.0.1:${c.port}/${db}`, 'SELECT 1'),
      ).rejects.toMatchObject({ code: '28P01' });

      const workers = Array.from({ length: 8 }, async (_, i) => {
        while (!stop) {
          try {
            const { rows } = await pool.query<{ u: string }>(
              'SELECT session_user AS u, count(*) FROM public.orders',
            );
            users.add(rows[0]!.u);
            ok += 1;
          } catch (error) {
            failures.push(error);
          }
          // Every other worker also holds a client across two queries, as a transaction would.
          if (i % 2 === 0 && !stop) {
            const client = await pool.connect();
            try {
              await client.query('BEGIN');
              await client.query(`INSERT INTO public.orders (item) VALUES ('w${i}')`);
              await client.query('COMMIT');
              ok += 1;
            } catch (error) {
              failures.push(error);
            } finally {
              client.release();
            }
          }
        }
      });

      const expected = [`${base}_b`, `${base}_a`, `${base}_b`];
      for (let n = 1; n <= 3; n++) {
        await until('queries before the rotation', () => ok > n * 50);
        p.clock.advance(30 * DAY);
        await rotate();
        // The pool notices the rotation by itself and swaps to the new login role…
        await until(`swap ${n}`, () => pool.swaps === n);
        expect(pool.user).toBe(expected[n - 1]);
        const before = ok;
        await until(
          `queries as ${expected[n - 1]}`,
          () => users.has(expected[n - 1]!) && ok > before + 50,
        );
        // …and the old pool drains, so the retire after the grace window is not postponed.
        await until('old pool drained', () => pool.draining === 0);
        p.clock.advance(DAY + 1);
        const retired = await engine.retire(actor, {});
        expect(retired.map((r) => r.postponed)).toEqual([undefined]);
        const after = ok;
        await until('queries after the retire', () => ok > after + 50);
      }
      stop = true;
      await Promise.all(workers);

      expect(failures).toEqual([]);
      expect(errors).toEqual([]);
      expect(swaps.map((s) => s.to)).toEqual(expected);
      expect(users).toEqual(new Set([`${base}_a`, `${base}_b`]));
      expect(ok).toBeGreaterThan(600);
      // The retired role is refused; the pool keeps working with the current one.
      const [last] = await query(
        c.adminUrl,
        `SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`,
        [`${base}_a`],
      );
      expect(last!.rolcanlogin).toBe(false);
      expect((await pool.query<{ u: string }>('SELECT session_user AS u')).rows[0]!.u).toBe(
        `${base}_b`,
      );
    } finally {
      stop = true;
      await pool.end();
      await source.close();
      await rotor.close();
      await query(
        c.adminUrl,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [db],
      );
      await query(c.adminUrl, `DROP DATABASE IF EXISTS ${db}`);
      const roles = await query(
        c.adminUrl,
        `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname = $2`,
        [prefix, base],
      );
      for (const { rolname } of roles)
        await query(
          c.adminUrl,
          `DROP ROLE IF EXISTS ${pg.Client.prototype.escapeIdentifier(rolname as string)}`,
        );
    }
  }, 120_000);
});
