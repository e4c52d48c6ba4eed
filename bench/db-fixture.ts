// Shared set-up for the database-credential benchmarks: a throw-away database, group role (or
// MariaDB role) and small table on the machine's PostgreSQL / MariaDB, and a Rotor project in a
// temporary directory whose rotor.yaml rotates DATABASE_URL with `kind: postgres` / `kind: mysql`
// (strategy alternate). Benches must not import from test/, so this mirrors test/helpers.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor, type Rotor } from '../src/core/context.js';
import { ensureMasterKeyFile } from '../src/core/crypto/master-key-file.js';
import { applyPolicy } from '../src/core/apply/apply-policy.js';
import { createRotationEngine, type EngineDeps } from '../src/core/rotation/rotation-engine.js';
import { ROTATORS } from '../src/rotators/registry.js';

export type DbEngine = 'postgres' | 'mariadb';

export const PG_ADMIN =
  process.env.ROTOR_BENCH_POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MARIADB_ADMIN =
  process.env.ROTOR_BENCH_MARIADB_ADMIN_URL ?? 'mysql://root@127.0.0.1:3306/';
/** The env var rotor.yaml names for the admin URL (`admin: { env: … }`). */
export const ADMIN_ENV = 'ROTOR_BENCH_DB_ADMIN_URL';
export const actor: Actor = {
  operator: 'bench',
  requestId: '00000000-0000-4000-8000-0000000000db',
  method: 'manual',
};

export interface DbProject {
  engine: DbEngine;
  /** The project directory (rotor.yaml, .rotor/). */
  dir: string;
  /** Env for createRotor and valueFromStore: holds the admin URL. */
  env: NodeJS.ProcessEnv;
  /** Login users the rotations alternate between. */
  users: [string, string];
  cleanup(): Promise<void>;
}

async function pgRun(
  url: string,
  statements: string[],
  values: unknown[][] = [],
): Promise<pg.QueryResultRow[][]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const out: pg.QueryResultRow[][] = [];
    for (const [i, s] of statements.entries())
      out.push((await client.query(s, values[i] ?? [])).rows);
    return out;
  } finally {
    await client.end();
  }
}

async function mysqlRun(statements: string[]): Promise<void> {
  const db = await mysql.createConnection({ uri: MARIADB_ADMIN });
  try {
    for (const s of statements) await db.query(s);
  } finally {
    await db.end();
  }
}

function withDb(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates the database objects and the project; `cleanup()` drops both. */
export async function createDbProject(engine: DbEngine): Promise<DbProject> {
  const name = `bench_${engine === 'postgres' ? 'pg' : 'my'}_${randomBytes(4).toString('hex')}`;
  const rows = Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'item ${i + 1}')`).join(', ');
  let policy: string;
  let users: [string, string];
  let dropDb: () => Promise<void>;
  if (engine === 'postgres') {
    const base = `${name}_app`;
    users = [`${base}_a`, `${base}_b`];
    await pgRun(PG_ADMIN, [`CREATE DATABASE ${name}`]);
    dropDb = async () => {
      await pgRun(
        PG_ADMIN,
        [
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          `DROP DATABASE IF EXISTS ${name}`,
        ],
        [[name]],
      );
      const [roles] = await pgRun(
        PG_ADMIN,
        [`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname = $2`],
        [[name, base]],
      );
      for (const { rolname } of roles!)
        await pgRun(PG_ADMIN, [
          `DROP ROLE IF EXISTS ${pg.Client.prototype.escapeIdentifier(rolname as string)}`,
        ]);
    };
    await pgRun(withDb(PG_ADMIN, name), [
      `CREATE ROLE ${base} NOLOGIN`,
      `GRANT CONNECT, TEMP ON DATABASE ${name} TO ${base}`,
      `CREATE TABLE public.items (id int PRIMARY KEY, label text)`,
      `INSERT INTO public.items VALUES ${rows}`,
      `ALTER TABLE public.items OWNER TO ${base}`,
    ]);
    policy = `version: 1
environments: [production]
secrets:
  DATABASE_URL:
    kind: postgres
    cadence: 90d
    grace: 24h
    config:
      host: 127.0.0.1
      port: ${new URL(PG_ADMIN).port || 5432}
      database: ${name}
      baseRole: ${base}
      strategy: alternate
      admin: { env: ${ADMIN_ENV} }
`;
  } else {
    users = [`${name}_a`, `${name}_b`];
    await mysqlRun([
      `CREATE DATABASE \`${name}\``,
      `CREATE TABLE \`${name}\`.items (id INT PRIMARY KEY, label TEXT)`,
      `INSERT INTO \`${name}\`.items VALUES ${rows}`,
      `CREATE ROLE \`${name}_r\``,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${name}\`.* TO \`${name}_r\``,
    ]);
    dropDb = () =>
      mysqlRun([
        ...users.map((u) => `DROP USER IF EXISTS '${u}'@'%'`),
        `DROP ROLE IF EXISTS \`${name}_r\``,
        `DROP DATABASE IF EXISTS \`${name}\``,
      ]);
    policy = `version: 1
environments: [production]
secrets:
  DATABASE_URL:
    kind: mysql
    cadence: 180d
    grace: 24h
    config:
      host: 127.0.0.1
      port: ${new URL(MARIADB_ADMIN).port || 3306}
      database: ${name}
      params: { charset: utf8mb4 }
      role: ${name}_r
      baseUser: ${name}
      admin: { env: ${ADMIN_ENV} }
`;
  }
  const dir = mkdtempSync(join(tmpdir(), `rotor-bench-${engine}-`));
  const env: NodeJS.ProcessEnv = { [ADMIN_ENV]: engine === 'postgres' ? PG_ADMIN : MARIADB_ADMIN };
  try {
    writeFileSync(join(dir, 'rotor.yaml'), policy);
    mkdirSync(join(dir, '.rotor'), { mode: 0o700 });
    ensureMasterKeyFile({ stateDir: join(dir, '.rotor'), env: {} });
    const rotor = createRotor({ cwd: dir, env, rotators: ROTATORS });
    try {
      await rotor.store({ create: true });
      await rotor.masterKey();
      await applyPolicy(rotor, actor);
    } finally {
      await rotor.close();
    }
  } catch (error) {
    // Leave nothing behind on the shared servers when the project cannot be set up.
    await dropDb().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    engine,
    dir,
    env,
    users,
    async cleanup() {
      await dropDb();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RotateOutcome {
  ms: number;
  failed: string[];
  /** CPU time the rotating process spent on it (child-process rotations only). */
  cpuMs?: number;
}

export interface RetireOutcome {
  /** How many times the retire came back `postponed` (old sessions still live) before it went through. */
  postponed: number;
  ms: number;
}

/**
 * Rotates DATABASE_URL through the real engine in this process, on the system clock; the previous
 * version is retired with `now` and a reason (`rotor retire --now --reason …`), since the bench
 * does not wait out the 24 h grace window.
 */
export interface Rotations {
  /**
   * One rotation, create → promote: the wall time in ms of the attempt that succeeded, and the
   * errors of failed attempts before it (retried up to twice).
   */
  rotate(): Promise<RotateOutcome>;
  /** Retires the previous version, retrying while it is postponed (at most `timeoutMs`). */
  retire(timeoutMs?: number): Promise<RetireOutcome>;
  close(): Promise<void>;
}

export function inProcessRotations(
  project: Pick<DbProject, 'dir' | 'env'>,
  options: { onProgress?: EngineDeps['onProgress'] } = {},
): Rotations {
  const rotor: Rotor = createRotor({ cwd: project.dir, env: project.env, rotators: ROTATORS });
  const engine = createRotationEngine({
    rotor,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return {
    async rotate() {
      const failed: string[] = [];
      for (;;) {
        const start = performance.now();
        const result = await engine.rotate(actor, {
          secret: 'DATABASE_URL',
          environments: ['production'],
          method: 'manual',
        });
        const ms = performance.now() - start;
        if (result.ok) return { ms, failed };
        const e = result.results[0]?.error;
        failed.push(`${e?.code}: ${e?.message}`);
        // The servers are shared with other people's tests: a database they drop between the
        // verify step's two privilege snapshots fails it (ERR_ROTOR_DB_GRANTS_DIFFER). Reported.
        if (failed.length >= 3)
          throw Object.assign(
            new Error(`rotation failed ${failed.length}×: ${failed.join(' | ')}`),
            { code: e?.code },
          );
      }
    },
    async retire(timeoutMs = 10_000) {
      const start = performance.now();
      let postponed = 0;
      for (;;) {
        const out = await engine.retire(actor, {
          secret: 'DATABASE_URL',
          now: true,
          reason: 'benchmark: the app has moved to the new credential',
        });
        if (out.length === 0) throw new Error('retire: no previous version was due');
        if (!out.some((r) => r.postponed)) return { postponed, ms: performance.now() - start };
        postponed += 1;
        if (performance.now() - start > timeoutMs)
          throw Object.assign(new Error(`retire still postponed after ${postponed} tries`), {
            code: 'ERR_ROTOR_RETIRE_POSTPONED',
          });
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => rotor.close(),
  };
}

/**
 * The same rotations in a child process (bench/db-rotator-process.ts), the way they run next to
 * a deployed app: the app process only sees the store change and swaps its pool.
 */
export async function childProcessRotations(
  project: Pick<DbProject, 'dir' | 'env'>,
): Promise<Rotations> {
  const child = fork(fileURLToPath(new URL('./db-rotator-process.ts', import.meta.url)), [], {
    env: {
      ...process.env,
      ROTOR_BENCH_DIR: project.dir,
      ROTOR_BENCH_ENV: JSON.stringify(project.env),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  type Reply = {
    id: number;
    ok: boolean;
    ms?: number;
    cpuMs?: number;
    failed?: string[];
    postponed?: number;
    code?: string;
    message?: string;
  };
  const pending = new Map<number, (reply: Reply) => void>();
  let next = 1;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`rotator process exited (${code})`)));
    pending.set(0, () => resolve());
  });
  child.on('message', (reply: Reply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  await ready;
  const call = (op: 'rotate' | 'retire' | 'close', timeoutMs?: number) =>
    new Promise<Reply>((resolve, reject) => {
      const id = next++;
      pending.set(id, (reply) =>
        reply.ok
          ? resolve(reply)
          : reject(Object.assign(new Error(reply.message), { code: reply.code })),
      );
      child.send({ id, op, timeoutMs });
    });
  return {
    rotate: async () => {
      const r = await call('rotate');
      return { ms: r.ms!, failed: r.failed!, cpuMs: r.cpuMs! };
    },
    retire: async (timeoutMs) => {
      const r = await call('retire', timeoutMs);
      return { postponed: r.postponed!, ms: r.ms! };
    },
    async close() {
      await call('close');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}
