// `rotor/mysql`: a mysql2 pool on the current credential of a Rotor secret; mysql2 takes no
// password function, so every URL change swaps the pool and the old one drains (docs/apps.md).
import type mysql from 'mysql2/promise';
import { RotorError } from '../core/errors.js';
import { importPeer } from '../core/import-peer.js';
import { parseSchemeUrl } from '../core/scheme-url.js';
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

type ConnectionKeys = 'uri' | 'user' | 'password' | 'host' | 'port' | 'database';

export interface CreatePoolOptions
  extends Omit<mysql.PoolOptions, ConnectionKeys>, PoolSourceOptions {}

export interface RotorMysqlPool extends SwappingPool {
  query<T extends mysql.RowDataPacket[] | mysql.ResultSetHeader = mysql.RowDataPacket[]>(
    sql: string,
    values?: unknown,
  ): Promise<[T, mysql.FieldPacket[]]>;
  execute<T extends mysql.RowDataPacket[] | mysql.ResultSetHeader = mysql.RowDataPacket[]>(
    sql: string,
    values?: unknown,
  ): Promise<[T, mysql.FieldPacket[]]>;
  /** A connection of the current pool; `release()` it as usual. */
  getConnection(): Promise<mysql.PoolConnection>;
}

interface Lease {
  pool: mysql.Pool;
  user: string;
  value: string;
  /** Queries running and connections lent out. */
  active: number;
  idle?: () => void;
}

function userOf(secret: string, value: string): string {
  const invalid = (why: string) =>
    new RotorError('ERR_ROTOR_VALUE_INVALID', `${secret} is not a usable MySQL URL: ${why}`, {
      details: { secret },
    });
  const url = parseSchemeUrl(value, ['mysql:', 'mariadb:'], {
    notUrl: () => invalid('not a URL'),
    wrongScheme: (protocol) => invalid(`scheme ${protocol}`),
  });
  return decodeURIComponent(url.username);
}

/**
 * A mysql2 pool over the current credential of a Rotor secret, picking up rotations without a
 * restart.
 *
 * @example
 * import { createPool, valueFromStore } from 'rotor/mysql';
 * const pool = createPool({ source: valueFromStore({ dir: '/srv/app', environment: 'production' }), connectionLimit: 20 });
 * const [rows] = await pool.query('SELECT NOW() AS now');
 */
export function createPool(options: CreatePoolOptions): RotorMysqlPool {
  const { secret, source, poolOptions } = splitPoolOptions(options);
  const events = createPoolEvents();
  const { emitter, report } = events;
  let driver: typeof mysql | undefined;
  const loadDriver = async () => {
    driver ??= (await importPeer('mysql2', 'rotor/mysql', () => import('mysql2/promise'))).default;
  };
  let lease: Lease | undefined;
  let swaps = 0;
  let ended = false;

  function newLease(value: string): Lease {
    const user = userOf(secret, value);
    const pool = driver!.createPool({ ...poolOptions, uri: value });
    pool.on('connection', (connection) => connection.on('error', () => undefined));
    return { pool, user, value, active: 0 };
  }

  function done(l: Lease): void {
    l.active -= 1;
    if (l.active === 0) l.idle?.();
  }

  function drain(old: Lease): void {
    events.drain(async () => {
      if (old.active > 0) await new Promise<void>((r) => (old.idle = r));
      await old.pool.end();
    });
  }

  function apply(value: string): void {
    if (ended) return;
    if (lease?.value === value) return;
    const next = newLease(value);
    const old = lease;
    lease = next;
    if (!old) return;
    swaps += 1;
    emitter.emit('swap', { from: old.user, to: next.user } satisfies PoolSwap);
    drain(old);
  }

  const followed = followValue(driverFirst(source, loadDriver), secret, apply, {
    ended: () => ended,
    onReloadError: report,
  });
  const loaded = followed.loaded;

  /** The current lease, counted as in use until `done`. */
  async function acquire(): Promise<Lease> {
    if (!ended) await loaded();
    if (ended || !lease) throw new RotorError('ERR_ROTOR_VALUE_INVALID', 'the pool has been ended');
    lease.active += 1;
    return lease;
  }

  async function run<T>(work: (pool: mysql.Pool) => Promise<T>): Promise<T> {
    const l = await acquire();
    try {
      return await work(l.pool);
    } finally {
      done(l);
    }
  }

  Object.assign(emitter, {
    async ready() {
      await loaded();
    },
    query(sql: string, values?: unknown) {
      return run((p) => p.query(sql, values as never));
    },
    execute(sql: string, values?: unknown) {
      return run((p) => p.execute(sql, values as never));
    },
    async getConnection() {
      const l = await acquire();
      let connection: mysql.PoolConnection;
      try {
        connection = await l.pool.getConnection();
      } catch (error) {
        done(l);
        throw error;
      }
      const release = connection.release.bind(connection);
      let released = false;
      connection.release = () => {
        if (!released) {
          released = true;
          release();
          done(l);
        }
      };
      return connection;
    },
    async end() {
      if (ended) return;
      ended = true;
      await followed.stop();
      const last = lease;
      lease = undefined;
      if (last) drain(last);
      await Promise.all([...events.draining]);
    },
  });
  defineCounters(events, { swaps: () => swaps, user: () => lease?.user });
  return emitter as unknown as RotorMysqlPool;
}
