// Test helpers for real servers on 127.0.0.1 (PostgreSQL, Redis, MariaDB). A test that needs a
// server it cannot reach FAILS when CI=true (CI starts them: see .ci/run) and is skipped, with a
// loud message on stderr, everywhere else.
//
//   const pg = await requireService('postgres');
//   describe.skipIf(!pg.available)('…', () => { … pg.url … });
//
// URLs can be overridden with ROTOR_TEST_POSTGRES_URL, ROTOR_TEST_REDIS_URL, ROTOR_TEST_MARIADB_URL.
// Use `uniquePrefix()` for table and key names so parallel test files never collide.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

export type ServiceName = 'postgres' | 'redis' | 'mariadb';

export interface Service {
  name: ServiceName;
  url: string;
  available: boolean;
  /** Why it is unavailable (connection error), for messages. */
  reason?: string;
}

export const SERVICE_URLS: Record<ServiceName, string> = {
  postgres: process.env.ROTOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redis: process.env.ROTOR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  mariadb: process.env.ROTOR_TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test',
};

async function probePostgres(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let last: unknown;
  client.on('error', (e) => (last = e));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw last ?? error;
  } finally {
    client.disconnect();
  }
}

/** A TCP connect, for servers without a client library in the tree. */
function probeTcp(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('timeout'));
    });
    socket.once('error', reject);
  });
}

const PROBES: Record<ServiceName, (url: string) => Promise<void>> = {
  postgres: probePostgres,
  redis: probeRedis,
  mariadb: probeTcp,
};
const cache = new Map<ServiceName, Promise<Service>>();

/**
 * Checks once per test file that `name` answers. Throws (failing the file) when it does not and
 * CI=true; otherwise warns on stderr and returns `available: false` for `describe.skipIf`.
 */
export function requireService(name: ServiceName): Promise<Service> {
  let pending = cache.get(name);
  if (!pending) {
    pending = (async () => {
      const url = SERVICE_URLS[name];
      try {
        await PROBES[name](url);
        return { name, url, available: true };
      } catch (error) {
        const e = error as { code?: string; message?: string };
        const reason = e?.code ?? e?.message ?? String(error);
        const where = new URL(url).host;
        if (process.env.CI === 'true') {
          throw new Error(
            `${name} at ${where} is not reachable (${reason}) and CI=true: tests that need it must run. Start it (see .ci/run).`,
          );
        }
        process.stderr.write(
          `\n⚠️  SKIPPING ${name} tests: ${name} at ${where} is not reachable (${reason}). They FAIL under CI=true.\n\n`,
        );
        return { name, url, available: false, reason };
      }
    })();
    cache.set(name, pending);
  }
  return pending;
}

/** A fresh lower-case name prefix for tables, keys and channels: `t_<tag>_<random>`. */
export function uniquePrefix(tag = 'x'): string {
  return `t_${tag.toLowerCase().replace(/[^a-z0-9]/g, '')}_${randomBytes(5).toString('hex')}`;
}

/** Drops every PostgreSQL table whose name starts with `prefix` (test clean-up). */
export async function dropPostgresPrefix(url: string, prefix: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`,
      [`${prefix}_`],
    );
    for (const { tablename } of rows)
      await client.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Deletes every Redis key that starts with `prefix` (test clean-up). */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
