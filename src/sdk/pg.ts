// `rotor/pg`: a node-postgres pool on the current credential of a Rotor secret; a new URL swaps the
// pool and the old one drains, so no query fails (docs/apps.md).
import type pg from 'pg';
import { RotorError } from '../core/errors.js';
import { importPeer } from '../core/import-peer.js';
import { driverFirst } from './values/driver-first.js';
import { followValue } from './values/follow-value.js';
import {
  createPoolEvents,
  defineCounters,
  splitPoolOptions,
  type PoolSourceOptions,
  type PoolSwap,
  type SwappingPool,
} from './values/swapping-pool.js';

export * from './values/pool-exports.js';

type ConnectionKeys = 'connectionString' | 'user' | 'password' | 'host' | 'port' | 'database';

export interface CreatePoolOptions extends Omit<pg.PoolConfig, ConnectionKeys>, PoolSourceOptions {}

export interface RotorPool extends SwappingPool {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** A client of the current pool; `release()` it as usual. */
  connect(): Promise<pg.PoolClient>;
}

interface Credential {
  /** Everything but the password, for deciding whether a new pool is needed. */
  identity: string;
  user: string;
  password: string;
  config: pg.PoolConfig;
}

const SSL_MODES: Record<string, pg.PoolConfig['ssl']> = {
  disable: false,
  'no-verify': { rejectUnauthorized: false },
  prefer: true,
  require: true,
  'verify-ca': true,
  'verify-full': true,
};

function invalid(secret: string, why: string): RotorError {
  return new RotorError(
    'ERR_ROTOR_VALUE_INVALID',
    `${secret} is not a usable PostgreSQL URL: ${why}`,
    { details: { secret } },
  );
}

/** Parses a postgres:// URL into pg connection options (without the password). */
export function parsePostgresUrl(secret: string, value: string): Credential {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(secret, 'not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw invalid(secret, `scheme ${url.protocol} is not postgres:`);
  const user = decodeURIComponent(url.username);
  if (!user) throw invalid(secret, 'no user');
  const password = decodeURIComponent(url.password);
  const config: pg.PoolConfig = { user };
  const params = new URLSearchParams(url.search);
  const host =
    params.get('host') ??
    (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : decodeURIComponent(url.hostname));
  if (host) config.host = host;
  if (url.port) config.port = Number(url.port);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (database) config.database = database;
  for (const [key, v] of params) {
    if (key === 'host') continue;
    if (key === 'sslmode') {
      if (!(v in SSL_MODES)) throw invalid(secret, `unknown sslmode ${v}`);
      config.ssl = SSL_MODES[v];
    } else if (key === 'ssl') config.ssl = v === 'true' || v === '1';
    else if (key === 'application_name') config.application_name = v;
    else if (key === 'options') config.options = v;
    else if (key === 'connect_timeout') config.connectionTimeoutMillis = Number(v) * 1000;
    else if (key === 'statement_timeout') config.statement_timeout = Number(v);
    else if (key === 'query_timeout') config.query_timeout = Number(v);
    // Other libpq parameters node-postgres does not understand are ignored, as pg itself does.
  }
  url.password = '';
  return { identity: url.toString(), user, password, config };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * A node-postgres pool over the current credential of a Rotor secret, picking up rotations
 * without a restart.
 *
 * @example
 * import { createPool, valueFromStore } from 'rotor/pg';
 * const pool = createPool({ source: valueFromStore({ dir: '/srv/app', environment: 'production' }), max: 20 });
 * const { rows } = await pool.query('SELECT now()');
 * pool.on('swap', ({ from, to }) => log.info({ from, to }, 'database credential rotated'));
 */
export function createPool(options: CreatePoolOptions): RotorPool {
  const { secret, source, poolOptions } = splitPoolOptions(options);
  const events = createPoolEvents();
  const { emitter, report } = events;
  let Pool: typeof pg.Pool | undefined;
  const loadDriver = async () => {
    Pool ??= (await importPeer('pg', 'rotor/pg', () => import('pg'))).default.Pool;
  };
  let current: Credential | undefined;
  let pool: pg.Pool | undefined;
  let swaps = 0;
  let ended = false;

  function newPool(credential: Credential): pg.Pool {
    const p = new Pool!({
      ...poolOptions,
      ...credential.config,
      // Read at every connection: a new password of the same user applies at once.
      password: () => current!.password,
    });
    // An idle client's error (a terminated session) only removes it from the pool.
    p.on('error', report);
    return p;
  }

  /** Ends `old` once nobody waits on it; its checked-out clients end when they are released. */
  function drain(old: pg.Pool): void {
    events.drain(async () => {
      while (old.waitingCount > 0) await sleep(10);
      await old.end();
    });
  }

  function apply(value: string): void {
    if (ended) return;
    const next = parsePostgresUrl(secret, value);
    const previous = current;
    current = next;
    if (!pool) {
      pool = newPool(next);
      return;
    }
    if (previous && previous.identity === next.identity) {
      if (previous.password !== next.password) emitter.emit('change', { user: next.user });
      return;
    }
    const old = pool;
    pool = newPool(next);
    swaps += 1;
    emitter.emit('swap', { from: previous?.user ?? '', to: next.user } satisfies PoolSwap);
    drain(old);
  }

  const followed = followValue(driverFirst(source, loadDriver), secret, apply, {
    ended: () => ended,
    onReloadError: report,
  });
  const loaded = followed.loaded;

  async function active(): Promise<pg.Pool> {
    if (!ended) await loaded();
    if (ended || !pool) throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'the pool has been ended');
    return pool;
  }

  Object.assign(emitter, {
    async ready() {
      await loaded();
    },
    async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
      text: string | pg.QueryConfig,
      values?: unknown[],
    ): Promise<pg.QueryResult<R>> {
      const p = await active();
      return values === undefined ? p.query<R>(text as string) : p.query<R>(text as string, values);
    },
    async connect() {
      return (await active()).connect();
    },
    async end() {
      if (ended) return;
      ended = true;
      await followed.stop();
      const last = pool;
      pool = undefined;
      await Promise.all([last?.end(), ...events.draining]);
    },
  });
  defineCounters(events, { swaps: () => swaps, user: () => current?.user });
  return emitter as unknown as RotorPool;
}
