// The postgres rotator end to end through the engine, against a private PostgreSQL cluster with
// real SCRAM password authentication (the machine's server trusts 127.0.0.1, where any password
// would log in). The cluster is started as the postgres OS user on a spare port and stopped after.
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { requireService, uniquePrefix } from './helpers/services.js';
import { freePort, startCluster, type Cluster } from './helpers/private-postgres.js';

const actor: Actor = { operator: 'alice', requestId: '00000000-0000-4000-8000-000000000004', method: 'manual' };


// The machine's PostgreSQL is the CI service; its binaries start the private cluster.
const service = await requireService('postgres');
let cluster: Cluster | undefined;
if (service.available) {
  try {
    cluster = await startCluster();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    process.stderr.write(`\n⚠️  SKIPPING postgres rotator tests: could not start a private PostgreSQL cluster (${(error as Error).message}). They FAIL under CI=true.\n\n`);
  }
}

afterAll(() => cluster?.stop());

function withDb(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Logs in with `url`; resolves to the SQLSTATE of a refusal, or 'ok'. */
async function login(url: string): Promise<string> {
  try {
    await query(url, 'SELECT 1');
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

interface Fixture {
  p: TestProject;
  db: string;
  base: string;
  adminDb: string;
  engine: ReturnType<typeof createRotationEngine>;
  rotate(options?: { emergency?: boolean; reason?: string }): ReturnType<ReturnType<typeof createRotationEngine>['rotate']>;
  current(): Promise<string | undefined>;
  stages(): Promise<{ id: string; stage: string }[]>;
  audit(): Promise<{ action: string; outcome: string; notes: string }[]>;
  cleanup(): Promise<void>;
}

/** A database, a group role owning a schema's objects, and a Rotor project pointing at them. */
async function fixture(strategy: 'alternate' | 'clone', options: { port?: number; config?: string } = {}): Promise<Fixture> {
  const c = cluster!;
  const prefix = uniquePrefix('pg');
  const db = prefix;
  const base = `${prefix}_app`;
  await query(c.adminUrl, `CREATE DATABASE ${db}`);
  const adminDb = withDb(c.adminUrl, db);
  await query(adminDb, `CREATE ROLE ${base} NOLOGIN`);
  await query(adminDb, `GRANT CONNECT, TEMP ON DATABASE ${db} TO ${base}`);
  await query(adminDb, `GRANT CREATE ON SCHEMA public TO ${base}`);
  await query(adminDb, `CREATE TABLE public.orders (id serial PRIMARY KEY, item text)`);
  await query(adminDb, `ALTER TABLE public.orders OWNER TO ${base}`);
  const p = await createProject({
    policy: `version: 1
environments: [staging, production]
secrets:
  DATABASE_URL:
    kind: postgres
    cadence: 90d
    grace: 24h
    environments: [production]
    config:
      host: 127.0.0.1
      port: ${options.port ?? c.port}
      database: ${db}
      params: { application_name: shop }
      baseRole: ${base}
      strategy: ${strategy}
      admin: { env: PG_ADMIN_URL }
${options.config ?? ''}`,
  });
  p.env.PG_ADMIN_URL = c.adminUrl;
  const rotor = p.rotor();
  const engine = createRotationEngine({ rotor });
  const rows = async () => {
    const store = await rotor.store();
    return store.db.selectFrom('versions').selectAll().where('secret', '=', 'DATABASE_URL').orderBy(sql`rowid`).execute();
  };
  return {
    p,
    db,
    base,
    adminDb,
    engine,
    rotate: (o = {}) => engine.rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: o.emergency ? 'emergency' : 'manual', ...o }),
    async current() {
      const row = (await rows()).find((r) => r.stage === 'current');
      return row ? openVersion(await rotor.masterKey(), row) : undefined;
    },
    async stages() {
      return (await rows()).map((r) => ({ id: r.id, stage: r.stage }));
    },
    async audit() {
      const store = await rotor.store();
      const entries = await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
      return entries.map((e) => JSON.parse(e.entry));
    },
    async cleanup() {
      await rotor.close();
      await query(c.adminUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [db]);
      await query(c.adminUrl, `DROP DATABASE IF EXISTS ${db}`);
      const roles = await query<{ rolname: string }>(c.adminUrl, `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname = $2`, [prefix, base]);
      for (const { rolname } of roles) await query(c.adminUrl, `DROP ROLE IF EXISTS ${pg.Client.prototype.escapeIdentifier(rolname)}`);
    },
  };
}

/** SQLSTATE class 28: invalid authorization (wrong password, or a role that may not log in). */
const REFUSED = /^28(000|P01)$/;
const userOf = (url: string) => decodeURIComponent(new URL(url).username);
const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

describe.skipIf(!cluster)('postgres rotator (private cluster, scram-sha-256)', () => {
  it('alternate: rotates between <base>_a and <base>_b, refuses wrong and retired passwords, and keeps app-created objects usable', async () => {
    const f = await fixture('alternate');
    try {
      const first = await f.rotate();
      expect(first.ok, JSON.stringify(first.results)).toBe(true);
      const urlA = (await f.current())!;
      expect(userOf(urlA)).toBe(`${f.base}_a`);
      expect(new URL(urlA).searchParams.get('application_name')).toBe('shop');
      expect(new URL(urlA).port).toBe(String(cluster!.port));
      // Authentication is real: a wrong password is refused.
      expect(await login(withPassword(urlA, 'wrong-password'))).toBe('28P01');
      // The server stores a SCRAM verifier Rotor computed, never the plaintext.
      const [auth] = await query<{ rolpassword: string }>(cluster!.adminUrl, 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [`${f.base}_a`]);
      expect(readFileSync(cluster!.log, "utf8")).toContain("PASSWORD 'SCRAM-SHA-256$");
      expect(readFileSync(cluster!.log, 'utf8')).not.toContain(decodeURIComponent(new URL(urlA).password));
      expect(auth!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
      // The app, logged in as _a, runs a migration: the new table belongs to the group role.
      await query(urlA, 'CREATE TABLE public.invoices (id int)');
      await query(urlA, `INSERT INTO public.orders (item) VALUES ('book')`);
      const [owner] = await query<{ owner: string }>(f.adminDb, `SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'invoices'`);
      expect(owner!.owner).toBe(f.base);

      f.p.clock.advance(30 * DAY);
      const second = await f.rotate();
      expect(second.ok, JSON.stringify(second.results)).toBe(true);
      const urlB = (await f.current())!;
      expect(userOf(urlB)).toBe(`${f.base}_b`);
      await query(urlB, 'INSERT INTO public.invoices VALUES (1)');
      expect(await query(urlB, 'SELECT item FROM public.orders')).toEqual([{ item: 'book' }]);
      // The previous credential keeps working through its grace window…
      expect(await login(urlA)).toBe('ok');
      f.p.clock.advance(DAY + 1);
      expect((await f.engine.retire(actor, {})).length).toBe(1);
      // …and is refused once retired.
      expect(await login(urlA)).toMatch(REFUSED);

      f.p.clock.advance(30 * DAY);
      const third = await f.rotate();
      expect(third.ok, JSON.stringify(third.results)).toBe(true);
      const urlA2 = (await f.current())!;
      expect(userOf(urlA2)).toBe(`${f.base}_a`);
      expect(await login(urlA)).toBe('28P01');
      expect(await query(urlA2, 'SELECT count(*)::int AS n FROM public.invoices')).toEqual([{ n: 1 }]);
    } finally {
      await f.cleanup();
    }
  });

  it('clone: a new login role per rotation; retire drops the old role and it can no longer log in', async () => {
    const f = await fixture('clone');
    try {
      expect((await f.rotate()).ok).toBe(true);
      const url1 = (await f.current())!;
      await query(url1, 'CREATE TABLE public.events (id int)');
      f.p.clock.advance(30 * DAY);
      expect((await f.rotate()).ok).toBe(true);
      const url2 = (await f.current())!;
      expect(userOf(url2)).not.toBe(userOf(url1));
      await query(url2, 'INSERT INTO public.events VALUES (7)');
      f.p.clock.advance(DAY + 1);
      expect((await f.engine.retire(actor, {})).length).toBe(1);
      expect(await query(cluster!.adminUrl, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [userOf(url1)])).toEqual([]);
      expect(await login(url1)).toBe('28P01');
      expect(await query(url2, 'SELECT id FROM public.events')).toEqual([{ id: 7 }]);
    } finally {
      await f.cleanup();
    }
  });

  it('refuses to promote a login role whose privileges differ from the old one, naming the difference', async () => {
    const f = await fixture('alternate');
    try {
      expect((await f.rotate()).ok).toBe(true);
      const before = (await f.current())!;
      await query(f.adminDb, 'CREATE TABLE public.audit_trail (id int)');
      await query(f.adminDb, `GRANT SELECT ON public.audit_trail TO ${f.base}_a`);
      const result = await f.rotate();
      expect(result.ok).toBe(false);
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_GRANTS_DIFFER');
      expect(result.results[0]!.error!.message).toMatch(/Missing: .*table public\.audit_trail SELECT/);
      expect(await f.current()).toBe(before);
      expect(await login(before)).toBe('ok');
      // The refused role was disabled again.
      expect(await query(f.adminDb, 'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [`${f.base}_b`])).toEqual([{ rolcanlogin: false }]);
      expect((await f.audit()).some((e) => e.action === 'rotate.failure' && e.notes.includes('ERR_ROTOR_DB_GRANTS_DIFFER'))).toBe(true);
    } finally {
      await f.cleanup();
    }
  });

  it('postpones a retire while the old role has live sessions, and retires once they are gone', async () => {
    const f = await fixture('clone');
    try {
      await f.rotate();
      const old = (await f.current())!;
      await f.rotate();
      const session = new pg.Client({ connectionString: old });
      await session.connect();
      f.p.clock.advance(DAY + 1);
      expect((await f.engine.retire(actor, {})).map((r) => r.postponed)).toEqual([true]);
      expect((await f.stages()).map((s) => s.stage)).toEqual(['previous', 'current']);
      const postponed = (await f.audit()).find((e) => e.action === 'retire.postponed');
      expect(postponed?.notes).toContain('live session');
      expect((await session.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await session.end();
      expect((await f.engine.retire(actor, {})).length).toBe(1);
      expect(await login(old)).toBe('28P01');
    } finally {
      await f.cleanup();
    }
  });

  it('alternate: does not reuse the previous login role while it still has live sessions', async () => {
    const f = await fixture('alternate');
    try {
      await f.rotate();
      const previous = (await f.current())!;
      await f.rotate();
      const current = (await f.current())!;
      const session = new pg.Client({ connectionString: previous });
      await session.connect();
      const result = await f.rotate();
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
      expect(result.results[0]!.error!.message).toContain(`"${userOf(previous)}"`);
      expect(await f.current()).toBe(current);
      expect(await login(previous)).toBe('ok');
      expect(await login(current)).toBe('ok');
      await session.end();
      expect((await f.rotate()).ok).toBe(true);
      expect(userOf((await f.current())!)).toBe(userOf(previous));
      // Rotations a few milliseconds apart still tell current from idle: never the current one.
      expect((await f.rotate()).ok).toBe(true);
      expect(userOf((await f.current())!)).toBe(userOf(current));
      expect((await f.rotate()).ok).toBe(true);
      expect(userOf((await f.current())!)).toBe(userOf(previous));
    } finally {
      await f.cleanup();
    }
  });

  it('clone: does not retire the previous login role early while it still has live sessions', async () => {
    const f = await fixture('clone');
    try {
      await f.rotate();
      const previous = (await f.current())!;
      await f.rotate();
      const current = (await f.current())!;
      const session = new pg.Client({ connectionString: previous });
      await session.connect();
      const result = await f.rotate();
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_ROLE_IN_USE');
      expect(result.results[0]!.error!.message).toContain(`"${userOf(previous)}", which this rotation would retire early`);
      expect(await f.current()).toBe(current);
      expect(await login(previous)).toBe('ok');
      await session.end();
      expect((await f.rotate()).ok).toBe(true);
      expect(await login(previous)).toMatch(REFUSED);
      expect(await login(current)).toBe('ok');
    } finally {
      await f.cleanup();
    }
  });

  it('emergency: the new credential is current, the old login disabled and its sessions terminated at once', async () => {
    const f = await fixture('alternate');
    try {
      await f.rotate();
      const old = (await f.current())!;
      const session = new pg.Client({ connectionString: old });
      session.on('error', () => {});
      await session.connect();
      const result = await f.rotate({ emergency: true, reason: 'leaked in a log' });
      expect(result.ok, JSON.stringify(result.results)).toBe(true);
      const now = (await f.current())!;
      expect(userOf(now)).not.toBe(userOf(old));
      expect(await login(now)).toBe('ok');
      await expect(session.query('SELECT 1')).rejects.toThrow();
      expect(await login(old)).toMatch(REFUSED);
      await session.end().catch(() => {});
    } finally {
      await f.cleanup();
    }
  });

  for (const strategy of ['alternate', 'clone'] as const) {
    it(`${strategy}: works end to end with the least-privilege admin the README documents`, async () => {
      const f = await fixture(strategy);
      try {
        await query(f.adminDb, `CREATE ROLE ${f.base}_adm LOGIN CREATEROLE PASSWORD 'adm-pass-123'`);
        await query(f.adminDb, `GRANT ${f.base} TO ${f.base}_adm WITH ADMIN OPTION`);
        await query(f.adminDb, `GRANT pg_signal_backend TO ${f.base}_adm`);
        const u = new URL(cluster!.adminUrl);
        u.username = `${f.base}_adm`;
        u.password = 'adm-pass-123';
        f.p.env.PG_ADMIN_URL = u.toString();
        const firstRun = await f.rotate();
        expect(firstRun.ok, JSON.stringify(firstRun.results)).toBe(true);
        const first = (await f.current())!;
        await query(first, 'CREATE TABLE public.notes (id int)');
        const second = await f.rotate();
        expect(second.ok, JSON.stringify(second.results)).toBe(true);
        const live = new pg.Client({ connectionString: first });
        live.on('error', () => {});
        await live.connect();
        f.p.clock.advance(DAY + 1);
        expect((await f.engine.retire(actor, {})).map((r) => r.postponed)).toEqual([true]);
        const forced = await f.engine.retire(actor, { force: true });
        expect(forced.length).toBe(1);
        await expect(live.query('SELECT 1')).rejects.toThrow();
        await live.end().catch(() => {});
        expect(await login(first)).toMatch(REFUSED);
        expect(await query((await f.current())!, 'SELECT count(*)::int AS n FROM public.notes')).toEqual([{ n: 0 }]);
      } finally {
        await f.cleanup();
      }
    });
  }

  const faults: { name: string; admin: (f: Fixture) => Promise<string>; code: string; message: RegExp }[] = [
    { name: 'a wrong admin password', admin: async () => withPassword(cluster!.adminUrl, 'not-the-password'), code: 'ERR_ROTOR_DB_AUTH_FAILED', message: /password authentication failed/ },
    {
      name: 'an admin without CREATEROLE',
      admin: async (f) => {
        await query(f.adminDb, `CREATE ROLE ${f.base}_weak LOGIN PASSWORD 'weak-pass-123'`);
        const u = new URL(cluster!.adminUrl);
        u.username = `${f.base}_weak`;
        u.password = 'weak-pass-123';
        return u.toString();
      },
      code: 'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      message: /lacks CREATEROLE/,
    },
    {
      name: 'an unreachable server',
      admin: async () => {
        const u = new URL(cluster!.adminUrl);
        u.port = String(await freePort());
        return u.toString();
      },
      code: 'ERR_ROTOR_DB_UNREACHABLE',
      message: /cannot be reached/,
    },
  ];
  for (const fault of faults) {
    it(`${fault.name}: a clear error, nothing changed, the current credential untouched and working`, async () => {
      const f = await fixture('alternate');
      try {
        expect((await f.rotate()).ok).toBe(true);
        const before = (await f.current())!;
        const admin = await fault.admin(f);
        const rolesBefore = await query(f.adminDb, 'SELECT rolname, rolcanlogin FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1', [f.base]);
        f.p.env.PG_ADMIN_URL = admin;
        const result = await f.rotate();
        expect(result.ok).toBe(false);
        expect(result.results[0]!.error!.code).toBe(fault.code);
        expect(result.results[0]!.error!.message).toMatch(fault.message);
        expect(result.results[0]!.error!.message).not.toContain(new URL(cluster!.adminUrl).password);
        expect(await f.current()).toBe(before);
        expect(await login(before)).toBe('ok');
        expect(await query(f.adminDb, 'SELECT rolname, rolcanlogin FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1', [f.base])).toEqual(rolesBefore);
        expect((await f.audit()).some((e) => e.action === 'rotate.failure' && e.notes.includes(fault.code))).toBe(true);
        expect((await f.p.cli(['check'])).code).toBe(2);
      } finally {
        await f.cleanup();
      }
    });
  }

  for (const strategy of ['alternate', 'clone'] as const) {
    it(`${strategy}: a rotation killed between apply and verify is rolled back by resume, leaving no usable orphan role`, async () => {
      const f = await fixture(strategy);
      try {
        expect((await f.rotate()).ok).toBe(true);
        const current = (await f.current())!;
        const logins = () => query<{ rolname: string }>(f.adminDb, 'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) AND rolcanlogin ORDER BY 1', [f.base]);
        const before = await logins();
        let reached!: () => void;
        const atVerify = new Promise<void>((resolve) => (reached = resolve));
        const dying = f.p.rotor();
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
        expect((await logins()).length).toBe(before.length + 1);
        const rotor = f.p.rotor();
        try {
          await (await rotor.store()).db.deleteFrom('locks').execute(); // the dead process's lock
          const outcomes = await createRotationEngine({ rotor }).resume(actor);
          expect(outcomes.map((o) => o.action)).toEqual(['rolled-back']);
        } finally {
          await rotor.close();
        }
        expect(await logins()).toEqual(before);
        if (strategy === 'clone') {
          expect(await query(f.adminDb, 'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1', [f.base])).toEqual([{ rolname: f.base }, { rolname: userOf(current) }]);
        }
        expect(await f.current()).toBe(current);
        expect(await login(current)).toBe('ok');
        expect((await f.audit()).some((e) => e.action === 'rotate.rollback' && e.outcome === 'failure')).toBe(true);
      } finally {
        await f.cleanup();
      }
    });
  }

  it('a connection cut between apply and verify fails the rotation and disables the idle role again', async () => {
    // The app-side URL goes through this TCP proxy; after apply it swallows traffic.
    const sockets = new Set<Socket>();
    let blackhole = false;
    const proxy = createServer((client) => {
      sockets.add(client);
      client.on('error', () => {});
      if (blackhole) return; // accept, never answer
      const upstream = new Socket();
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.connect(cluster!.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const f = await fixture('alternate', { port: (proxy.address() as { port: number }).port, config: '      connectTimeoutMs: 1000\n' });
    try {
      expect((await f.rotate()).ok).toBe(true);
      const current = (await f.current())!;
      const result = await createRotationEngine({
        rotor: f.p.rotor(),
        hooks: {
          afterJournal: (point) => {
            if (point !== 'verify:started') return;
            blackhole = true;
            for (const s of sockets) s.destroy();
          },
        },
      }).rotate(actor, { secret: 'DATABASE_URL', environments: ['production'], method: 'manual' });
      expect(result.results[0]!.outcome).toBe('failed');
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_UNREACHABLE');
      expect(result.results[0]!.error!.message).toContain(`logging in with the new credential at 127.0.0.1:${(proxy.address() as { port: number }).port} as ${f.base}_b`);
      blackhole = false;
      expect(await query(f.adminDb, 'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [`${f.base}_b`])).toEqual([{ rolcanlogin: false }]);
      expect(await f.current()).toBe(current);
      expect(await login(current)).toBe('ok');
      expect((await f.p.cli(['check'])).code).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await f.cleanup();
    }
  });

  it('a statement timeout on the admin connection fails with a clear error and changes nothing', async () => {
    const f = await fixture('alternate', { config: '      statementTimeoutMs: 500\n' });
    const blocker = new pg.Client({ connectionString: f.adminDb });
    try {
      expect((await f.rotate()).ok).toBe(true);
      const current = (await f.current())!;
      // An uncommitted CREATE ROLE of the same name: Rotor's CREATE ROLE waits on it.
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`CREATE ROLE ${f.base}_b`);
      const result = await f.rotate();
      await blocker.query('ROLLBACK');
      expect(result.results[0]!.error!.code).toBe('ERR_ROTOR_DB_QUERY_FAILED');
      expect(result.results[0]!.error!.message).toMatch(/statement timeout \(SQLSTATE 57014\)/);
      expect(await query(f.adminDb, 'SELECT rolname FROM pg_roles WHERE rolname = $1', [`${f.base}_b`])).toEqual([]);
      expect(await f.current()).toBe(current);
      expect(await login(current)).toBe('ok');
      expect((await f.p.cli(['check'])).code).toBe(2);
    } finally {
      await blocker.end().catch(() => {});
      await f.cleanup();
    }
  });
});
