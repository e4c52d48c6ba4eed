// The two SQL engines the `postgres` and `mysql` rotators target, behind one small driver, so one
// rotator test suite runs over both (`for (const engine of ENGINES) describe(engine.name, …)`)
// and the engine-specific files share the same plumbing:
// - a scratch database per test with the app's privileges (PostgreSQL: a group role owning a
//   table; MariaDB: a role), the rotor.yaml secret entry pointing at it, and its removal;
// - real logins with a DATABASE_URL, live sessions, the login roles/users and whether they may
//   log in, admins that lack a privilege, and a way to hold up the rotator's admin statements;
// - a TCP proxy that can cut traffic, and a child process that SIGKILLs itself at a journal point.
// PostgreSQL runs as a private scram-sha-256 cluster (the machine's server trusts 127.0.0.1, where
// any password logs in); MariaDB is the CI service, whose authentication is real.
import { spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { sql } from 'kysely';
import type { Actor } from '../../src/core/audit/audit-log.js';
import {
  createRotationEngine,
  type EngineHooks,
  type RetiredVersion,
  type RotateResult,
} from '../../src/core/rotation/rotation-engine.js';
import { openVersion } from '../../src/core/vault/versions.js';
import { freePort, startCluster, type Cluster } from './private-postgres.js';
import { createProject, type TestProject } from './project.js';
import { requireService, SERVICE_URLS, uniquePrefix } from './services.js';
import { entryArgs } from './spawned-entries.js';

export { freePort };

export const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000db',
  method: 'manual',
};

type Row = Record<string, unknown>;

/** One test's database, the app's privileges on it, and the names Rotor will manage there. */
export interface Scratch {
  /** Every name this scratch creates starts with it. */
  prefix: string;
  database: string;
  /** The two alternating login roles/users (`<base>_a`, `<base>_b`). */
  a: string;
  b: string;
  /** PostgreSQL: the group role (`baseRole`); MariaDB: the role holding the privileges. */
  group: string;
  /** A superuser/root URL on the scratch database. */
  adminUrl: string;
}

export interface SecretOptions {
  /** The port the application connects to (a proxy's), default the server's. */
  port?: number;
  strategy?: string;
  /** Extra `config:` lines, indented six spaces. */
  extra?: string;
}

export interface Session {
  query(): Promise<unknown>;
  close(): Promise<void>;
}

/** What a fault looks like to the operator: the error code and a message fragment. */
export interface Expected {
  code: string;
  message: string | RegExp;
}

export interface DbEngine {
  /** The rotator kind. */
  name: 'postgres' | 'mysql';
  /** Starts or probes the server; false (after a loud warning) when it is unavailable outside CI. */
  start(): Promise<boolean>;
  stop(): Promise<void>;
  /** The server's port, where the app connects unless a proxy is in between. */
  port(): number;
  /** The superuser/root URL. */
  rootUrl(): string;
  /** The environment variable rotor.yaml names for the admin URL. */
  adminEnv: string;
  scratch(): Promise<Scratch>;
  /** The `config:` of the DATABASE_URL entry, indented six spaces. */
  secretConfig(s: Scratch, options?: SecretOptions): string;
  drop(s: Scratch): Promise<void>;
  query<T extends Row = Row>(url: string, text: string, values?: unknown[]): Promise<T[]>;
  /** Logs in with `url` and reads the app's table; resolves the login user, rejects with the server's error. */
  whoami(url: string): Promise<string>;
  /** 'ok', or the server's refusal: a SQLSTATE (PostgreSQL) or an errno (MariaDB). */
  loginCode(url: string): Promise<string>;
  /** Login roles/users whose name starts with `prefix`, sorted, and whether they may log in. */
  accounts(prefix: string): Promise<{ name: string; login: boolean }[]>;
  /** Live sessions of `user`. */
  sessions(user: string): Promise<number>;
  openSession(url: string): Promise<Session>;
  /** An admin URL for a login that may not create roles/users. */
  weakAdmin(s: Scratch): Promise<string>;
  /** An admin URL with only the privileges the README documents. */
  leastPrivilegeAdmin(s: Scratch): Promise<string>;
  /** Makes the rotator's next admin statement wait (on a lock) until the returned release. */
  holdAdminStatements(s: Scratch): Promise<() => Promise<void>>;
  /** `config:` line that makes admin statements time out quickly. */
  statementTimeout: string;
  codes: {
    /** A login with a wrong password. */
    wrongPassword: string;
    /** A login with a retired credential. */
    retired: RegExp;
  };
  expect: {
    /** The DATABASE_URL Rotor composes for `user`. */
    url(s: Scratch, user: string): RegExp;
    wrongAdminPassword: RegExp;
    weakAdmin: Expected;
    unreachable: RegExp;
    statementTimeout: RegExp;
    /** The connection to the server is cut right after apply (app-side `port`). */
    verifyCut(s: Scratch, port: number): Expected;
    roleInUse(user: string): string;
    emergencyAction: RegExp;
    /** A query on a session the rotator ended (the driver's words depend on when it noticed). */
    sessionEnded: RegExp;
  };
}

const withDb = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

export const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

export const withUser = (url: string, user: string, password: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
};

export const userOf = (url: string) => decodeURIComponent(new URL(url).username);

async function pgQuery<T extends Row = Row>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const pgIdent = (name: string) => pg.Client.prototype.escapeIdentifier(name);

function createPostgres(): DbEngine & { serverLog(): string } {
  let cluster: Cluster | undefined;
  const need = () => {
    if (!cluster) throw new Error('the private PostgreSQL cluster is not running');
    return cluster;
  };
  const engine: DbEngine & { serverLog(): string } = {
    name: 'postgres',
    /** The private cluster's log file (every DDL statement is logged). */
    serverLog: () => need().log,
    async start() {
      if (cluster) return true;
      const service = await requireService('postgres');
      if (!service.available) return false;
      try {
        cluster = await startCluster();
        return true;
      } catch (error) {
        if (process.env.CI === 'true') throw error;
        process.stderr.write(
          `\n⚠️  SKIPPING postgres rotator tests: could not start a private PostgreSQL cluster (${(error as Error).message}). They FAIL under CI=true.\n\n`,
        );
        return false;
      }
    },
    async stop() {
      cluster?.stop();
      cluster = undefined;
    },
    port: () => need().port,
    rootUrl: () => need().adminUrl,
    adminEnv: 'PG_ADMIN_URL',
    async scratch() {
      const root = need().adminUrl;
      const prefix = uniquePrefix('pg');
      const group = `${prefix}_app`;
      await pgQuery(root, `CREATE DATABASE ${prefix}`);
      const adminUrl = withDb(root, prefix);
      await pgQuery(adminUrl, `CREATE ROLE ${group} NOLOGIN`);
      await pgQuery(adminUrl, `GRANT CONNECT, TEMP ON DATABASE ${prefix} TO ${group}`);
      await pgQuery(adminUrl, `GRANT CREATE ON SCHEMA public TO ${group}`);
      await pgQuery(adminUrl, `CREATE TABLE public.orders (id serial PRIMARY KEY, item text)`);
      await pgQuery(adminUrl, `ALTER TABLE public.orders OWNER TO ${group}`);
      return { prefix, database: prefix, a: `${group}_a`, b: `${group}_b`, group, adminUrl };
    },
    secretConfig(s, o = {}) {
      return `      host: 127.0.0.1
      port: ${o.port ?? need().port}
      database: ${s.database}
      params: { application_name: shop }
      baseRole: ${s.group}
      strategy: ${o.strategy ?? 'alternate'}
      admin: { env: PG_ADMIN_URL }
${o.extra ?? ''}`;
    },
    async drop(s) {
      const root = need().adminUrl;
      await pgQuery(
        root,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [s.database],
      );
      await pgQuery(root, `DROP DATABASE IF EXISTS ${s.database}`);
      // Members first, the group role last.
      const roles = await pgQuery<{ rolname: string }>(
        root,
        `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname = $2`,
        [s.prefix, s.group],
      );
      for (const { rolname } of roles)
        await pgQuery(root, `DROP ROLE IF EXISTS ${pgIdent(rolname)}`);
    },
    query: pgQuery,
    async whoami(url) {
      const [row] = await pgQuery<{ u: string }>(
        url,
        'SELECT session_user AS u, (SELECT count(*) FROM public.orders) AS n',
      );
      return row!.u;
    },
    async loginCode(url) {
      try {
        await pgQuery(url, 'SELECT 1');
        return 'ok';
      } catch (error) {
        return (error as { code?: string }).code ?? String(error);
      }
    },
    async accounts(prefix) {
      const rows = await pgQuery<{ rolname: string; rolcanlogin: boolean }>(
        need().adminUrl,
        'SELECT rolname, rolcanlogin FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1',
        [prefix],
      );
      return rows.map((r) => ({ name: r.rolname, login: r.rolcanlogin }));
    },
    async sessions(user) {
      const [row] = await pgQuery<{ n: number }>(
        need().adminUrl,
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
        [user],
      );
      return row!.n;
    },
    async openSession(url) {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      await client.connect();
      return {
        query: () => client.query('SELECT 1 AS one'),
        close: () => client.end().catch(() => {}),
      };
    },
    async weakAdmin(s) {
      await pgQuery(s.adminUrl, `CREATE ROLE ${s.group}_weak LOGIN PASSWORD 'weak-pass-123'`);
      return withUser(need().adminUrl, `${s.group}_weak`, 'weak-pass-123');
    },
    async leastPrivilegeAdmin(s) {
      await pgQuery(
        s.adminUrl,
        `CREATE ROLE ${s.group}_adm LOGIN CREATEROLE PASSWORD 'adm-pass-123'`,
      );
      await pgQuery(s.adminUrl, `GRANT ${s.group} TO ${s.group}_adm WITH ADMIN OPTION`);
      await pgQuery(s.adminUrl, `GRANT pg_signal_backend TO ${s.group}_adm`);
      return withUser(need().adminUrl, `${s.group}_adm`, 'adm-pass-123');
    },
    async holdAdminStatements(s) {
      // An uncommitted CREATE ROLE of the idle role's name: Rotor's CREATE ROLE waits on it.
      const blocker = new pg.Client({ connectionString: s.adminUrl });
      blocker.on('error', () => {});
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`CREATE ROLE ${s.b}`);
      return async () => {
        await blocker.query('ROLLBACK').catch(() => {});
        await blocker.end().catch(() => {});
      };
    },
    statementTimeout: '      statementTimeoutMs: 500\n',
    codes: { wrongPassword: '28P01', retired: /^28(000|P01)$/ },
    expect: {
      url: (s, user) =>
        new RegExp(
          `^postgres://${user}:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${need().port}/${s.database}\\?application_name=shop$`,
        ),
      wrongAdminPassword: /login refused \(password authentication failed/,
      weakAdmin: { code: 'ERR_ROTOR_DB_PRIVILEGE_MISSING', message: /lacks CREATEROLE/ },
      unreachable: /PostgreSQL cannot be reached/,
      statementTimeout: /statement timeout \(SQLSTATE 57014\)/,
      verifyCut: (s, port) => ({
        code: 'ERR_ROTOR_DB_UNREACHABLE',
        message: `logging in with the new credential at 127.0.0.1:${port} as ${s.b}`,
      }),
      roleInUse: (user) =>
        `login role "${user}", the one this rotation would reuse, still has 1 live session(s)`,
      emergencyAction: /disabled \(NOLOGIN, password removed\) and its sessions terminated/,
      sessionEnded:
        /not queryable|terminating connection due to administrator command|Connection terminated/,
    },
  };
  return engine;
}

async function myQuery<T extends Row = Row>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const db = await mysql.createConnection({ uri: url, connectTimeout: 5000 });
  try {
    const [rows] = await db.query(text, values);
    return rows as T[];
  } finally {
    await db.end().catch(() => {});
  }
}

function createMysql(): DbEngine {
  const ROOT = SERVICE_URLS.mariadb;
  const port = Number(new URL(ROOT).port || 3306);
  const engine: DbEngine = {
    name: 'mysql',
    async start() {
      return (await requireService('mariadb')).available;
    },
    async stop() {},
    port: () => port,
    rootUrl: () => ROOT,
    adminEnv: 'ROTOR_TEST_MYSQL_ADMIN',
    async scratch() {
      const prefix = uniquePrefix('my');
      const group = `${prefix}_r`;
      await myQuery(ROOT, `CREATE DATABASE \`${prefix}\``);
      await myQuery(ROOT, `CREATE TABLE \`${prefix}\`.items (id INT PRIMARY KEY, label TEXT)`);
      await myQuery(ROOT, `CREATE ROLE \`${group}\``);
      await myQuery(
        ROOT,
        `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${prefix}\`.* TO \`${group}\``,
      );
      return {
        prefix,
        database: prefix,
        a: `${prefix}_a`,
        b: `${prefix}_b`,
        group,
        adminUrl: withDb(ROOT, prefix),
      };
    },
    secretConfig(s, o = {}) {
      return `      host: 127.0.0.1
      port: ${o.port ?? port}
      database: ${s.database}
      params: { charset: utf8mb4 }
      role: ${s.group}
      baseUser: ${s.prefix}
${o.strategy ? `      strategy: ${o.strategy}\n` : ''}      admin: { env: ROTOR_TEST_MYSQL_ADMIN }
${o.extra ?? ''}`;
    },
    async drop(s) {
      const users = await myQuery<{ User: string; Host: string }>(
        ROOT,
        'SELECT User, Host FROM mysql.global_priv WHERE User LIKE ? AND JSON_VALUE(Priv, "$.is_role") IS NULL',
        [`${s.prefix}%`],
      );
      for (const u of users)
        await myQuery(ROOT, `DROP USER IF EXISTS ${mysql.escape(u.User)}@${mysql.escape(u.Host)}`);
      await myQuery(ROOT, `DROP ROLE IF EXISTS \`${s.group}\``);
      await myQuery(ROOT, `DROP DATABASE IF EXISTS \`${s.database}\``);
    },
    query: myQuery,
    async whoami(url) {
      const db = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
      try {
        await db.query('SELECT COUNT(*) FROM items');
        const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
        return String(rows[0]!.u).split('@')[0]!;
      } finally {
        await db.end().catch(() => {});
      }
    },
    async loginCode(url) {
      try {
        await engine.whoami(url);
        return 'ok';
      } catch (error) {
        const e = error as { errno?: number; code?: string };
        return String(e.errno ?? e.code ?? error);
      }
    },
    async accounts(prefix) {
      const rows = await myQuery<{ User: string; locked: string | null }>(
        ROOT,
        'SELECT User, JSON_VALUE(Priv, "$.account_locked") AS locked FROM mysql.global_priv WHERE User LIKE ? AND JSON_VALUE(Priv, "$.is_role") IS NULL ORDER BY User',
        [`${prefix}%`],
      );
      return rows.map((r) => ({ name: r.User, login: r.locked !== '1' && r.locked !== 'true' }));
    },
    async sessions(user) {
      const [row] = await myQuery<{ n: number }>(
        ROOT,
        'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
        [user],
      );
      return Number(row!.n);
    },
    async openSession(url) {
      const db = await mysql.createConnection({ uri: url });
      db.on('error', () => {});
      return { query: () => db.query('SELECT 1'), close: async () => db.destroy() };
    },
    async weakAdmin(s) {
      await myQuery(ROOT, `CREATE USER '${s.prefix}_adm'@'%' IDENTIFIED BY 'adm-pass'`);
      await myQuery(ROOT, `GRANT SELECT ON \`${s.database}\`.* TO '${s.prefix}_adm'@'%'`);
      return withUser(s.adminUrl, `${s.prefix}_adm`, 'adm-pass');
    },
    async leastPrivilegeAdmin(s) {
      await myQuery(ROOT, `CREATE USER '${s.prefix}_adm'@'%' IDENTIFIED BY 'adm-pass'`);
      await myQuery(
        ROOT,
        `GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '${s.prefix}_adm'@'%'`,
      );
      await myQuery(ROOT, `GRANT \`${s.group}\` TO '${s.prefix}_adm'@'%' WITH ADMIN OPTION`);
      await myQuery(ROOT, `GRANT SELECT, UPDATE ON mysql.* TO '${s.prefix}_adm'@'%'`);
      return withDb(withUser(ROOT, `${s.prefix}_adm`, 'adm-pass'), '');
    },
    async holdAdminStatements() {
      // CREATE/ALTER USER write mysql.global_priv: they wait behind this lock (server-wide, so
      // it is held only for the one rotation that must time out).
      const holder = await mysql.createConnection({ uri: ROOT });
      await holder.query('LOCK TABLES mysql.global_priv WRITE');
      return async () => {
        await holder.query('UNLOCK TABLES').catch(() => {});
        await holder.end().catch(() => {});
      };
    },
    statementTimeout: '      statementTimeoutMs: 1000\n',
    codes: { wrongPassword: '1045', retired: /^1045$/ },
    expect: {
      url: (s, user) =>
        new RegExp(
          `^mysql://${user}:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:${port}/${s.database}\\?charset=utf8mb4$`,
        ),
      wrongAdminPassword:
        /the admin credential in \$ROTOR_TEST_MYSQL_ADMIN was refused \(wrong user or password\)/,
      weakAdmin: {
        code: 'ERR_ROTOR_DB_PRIVILEGE_MISSING',
        message: /lacks a privilege Rotor needs \(CREATE USER/,
      },
      unreachable: /server is not reachable \(ECONNREFUSED\)/,
      statementTimeout: /ran longer than statementTimeoutMs \(1000 ms\)/,
      verifyCut: (s) => ({
        code: 'ERR_ROTOR_DB_UNREACHABLE',
        message: `logging in as ${s.b} with the new password`,
      }),
      roleInUse: (user) =>
        `${user}, the user this rotation would reuse, still has 1 live session(s)`,
      emergencyAction: /MySQL user was locked and its live connections killed/,
      sessionEnded: /closed state|Connection lost|server closed the connection/,
    },
  };
  return engine;
}

export const postgresEngine = createPostgres();
export const mysqlEngine = createMysql();
export const ENGINES: readonly DbEngine[] = [postgresEngine, mysqlEngine];

/** A TCP proxy to `port` on 127.0.0.1; `cut()` drops every connection and swallows new ones. */
export async function createCutProxy(target: number) {
  const sockets = new Set<Socket>();
  let blackhole = false;
  const server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    if (blackhole) return; // accept, never answer
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      blackhole = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      blackhole = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface AuditEntry {
  action: string;
  outcome: string;
  notes: string;
  details: Record<string, unknown>;
}

export interface DbFixture {
  engine: DbEngine;
  s: Scratch;
  p: TestProject;
  rotate(options?: { emergency?: boolean; hooks?: EngineHooks }): Promise<RotateResult>;
  retire(options?: { force?: boolean }): Promise<RetiredVersion[]>;
  stage(stage: 'current' | 'previous'): Promise<{ id: string; value: string } | undefined>;
  /** The current DATABASE_URL. */
  current(): Promise<string | undefined>;
  stages(): Promise<{ id: string; stage: string }[]>;
  audit(): Promise<AuditEntry[]>;
  /** `rotor resume --json` (the CLI, as an operator runs it): the outcomes' actions. */
  resume(): Promise<string[]>;
  /** `rotor check`'s exit code. */
  check(): Promise<number>;
  /** Runs one rotation in a child process that SIGKILLs itself right after journal `point`. */
  crashAt(
    point: string,
    mode?: 'normal' | 'emergency',
  ): Promise<{ signal: NodeJS.Signals | null; output: string }>;
  cleanup(): Promise<void>;
}

/** A scratch database on `engine` and a Rotor project whose DATABASE_URL (production) points at it. */
export async function openFixture(
  engine: DbEngine,
  options: SecretOptions & { environments?: string } = {},
): Promise<DbFixture> {
  const s = await engine.scratch();
  let p: TestProject;
  try {
    p = await createProject({
      policy: `version: 1
environments: ${options.environments ?? '[production]'}
secrets:
  DATABASE_URL:
    kind: ${engine.name}
    cadence: 90d
    grace: 24h
    environments: [production]
    config:
${engine.secretConfig(s, options)}`,
    });
  } catch (error) {
    await engine.drop(s);
    throw error;
  }
  p.env[engine.adminEnv] = engine.rootUrl();
  // One Rotor for the fixture's reads and in-process rotations; the CLI and crash children open their own.
  const rotor = p.rotor();
  const use = <T>(fn: (r: typeof rotor) => Promise<T>): Promise<T> => fn(rotor);
  const rows = () =>
    use(async (rotor) => {
      const store = await rotor.store();
      const master = await rotor.masterKey();
      const all = await store.db
        .selectFrom('versions')
        .selectAll()
        .where('secret', '=', 'DATABASE_URL')
        .orderBy(sql`rowid`)
        .execute();
      return all.map((r) => ({
        id: r.id,
        stage: r.stage,
        value: r.stage === 'current' || r.stage === 'previous' ? openVersion(master, r) : undefined,
      }));
    });
  const f: DbFixture = {
    engine,
    s,
    p,
    rotate: (o = {}) =>
      use((rotor) =>
        createRotationEngine({ rotor, ...(o.hooks ? { hooks: o.hooks } : {}) }).rotate(actor, {
          secret: 'DATABASE_URL',
          environments: ['production'],
          method: o.emergency ? 'emergency' : 'manual',
          ...(o.emergency ? { emergency: true, reason: 'leaked in a log' } : {}),
        }),
      ),
    retire: (o = {}) => use((rotor) => createRotationEngine({ rotor }).retire(actor, { ...o })),
    async stage(stage) {
      const row = (await rows()).find((r) => r.stage === stage);
      return row ? { id: row.id, value: row.value! } : undefined;
    },
    async current() {
      return (await f.stage('current'))?.value;
    },
    async stages() {
      return (await rows()).map((r) => ({ id: r.id, stage: r.stage }));
    },
    audit: () =>
      use(async (rotor) => {
        const entries = await (
          await rotor.store()
        ).db
          .selectFrom('audit_events')
          .select('entry')
          .orderBy('seq')
          .execute();
        return entries.map((e) => JSON.parse(e.entry) as AuditEntry);
      }),
    async resume() {
      const out = await p.cli(['resume', '--json']);
      if (out.code !== 0)
        throw new Error(`rotor resume exited ${out.code}: ${out.stderr}${out.stdout}`);
      return (JSON.parse(out.stdout) as { outcomes: { action: string }[] }).outcomes.map(
        (o) => o.action,
      );
    },
    async check() {
      return (await p.cli(['check'])).code;
    },
    crashAt(point, mode = 'normal') {
      const args = [
        ...entryArgs('crash-rotate'),
        p.dir,
        point,
        'DATABASE_URL',
        'production',
        mode,
        String(p.clock.now()),
        engine.adminEnv,
      ];
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, args, {
          env: { ...process.env, ...p.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        const timer = setTimeout(() => child.kill('SIGTERM'), 60_000);
        child.on('error', reject);
        child.on('exit', (_code, signal) => {
          clearTimeout(timer);
          resolve({ signal, output });
        });
      });
    },
    async cleanup() {
      await rotor.close();
      await engine.drop(s);
    },
  };
  return f;
}
