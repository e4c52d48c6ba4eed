// `rotor/mysql`: a mysql2 pool over the current credential of a Rotor secret (a mysql DATABASE_URL).
// mysql2 takes no password function, so every change of the URL (the `alternate` strategy's
// `<base>_a` / `<base>_b`, or a new password of the same user) swaps the pool: new queries go to a
// new pool, and the old one is ended once the queries and connections it lent out are done (mysql2's
// own `end()` would cut them off), so no query fails and the old user has no sessions left when it
// is retired.
import { EventEmitter } from 'node:events';
import type mysql from 'mysql2/promise';
import { RotorError } from '../core/errors.js';
import { importPeer } from '../core/import-peer.js';
import { driverFirst } from './values/driver-first.js';
import { followValue } from './values/follow-value.js';
import type { ValueSource } from './values/value-source.js';

export type { ValueSource } from './values/value-source.js';
export { valueFromEnv, type ValueFromEnvOptions } from './values/from-env.js';
export { valueFromStore, type ValueFromStoreOptions } from './values/from-store.js';

type ConnectionKeys = 'uri' | 'user' | 'password' | 'host' | 'port' | 'database';

export interface CreatePoolOptions extends Omit<mysql.PoolOptions, ConnectionKeys> {
  /** The Rotor secret holding the URL (default `DATABASE_URL`). */
  secret?: string;
  /** Where the URL is read and watched: `valueFromStore({ … })` or `valueFromEnv()`. */
  source: ValueSource;
}

export interface PoolSwap {
  /** The user of the pool being drained. */
  from: string;
  /** The user of the new pool. */
  to: string;
}

export interface RotorMysqlPool extends EventEmitter {
  /** Resolves once the first URL is loaded (queries wait for it anyway). */
  ready(): Promise<void>;
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
  /** Stops watching and ends every pool (the current one and any still draining). */
  end(): Promise<void>;
  /** How many times the pool was swapped for a new URL. */
  readonly swaps: number;
  /** Old pools still waiting for their work to finish. */
  readonly draining: number;
  /** The user new connections log in as. */
  readonly user: string | undefined;
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
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${secret} is not a usable MySQL URL: not a URL`,
      { details: { secret } },
    );
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:')
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${secret} is not a usable MySQL URL: scheme ${url.protocol}`,
      { details: { secret } },
    );
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
  if (typeof options !== 'object' || options === null)
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'createPool takes one options object: { source: valueFromStore({ … }) or valueFromEnv(), … }',
    );
  const { secret = 'DATABASE_URL', source, ...poolOptions } = options;
  if (!source || typeof source.load !== 'function')
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'createPool needs a source: valueFromStore({ … }) or valueFromEnv()',
    );
  const emitter = new EventEmitter();
  let driver: typeof mysql | undefined;
  const loadDriver = async () => {
    driver ??= (await importPeer('mysql2', 'rotor/mysql', () => import('mysql2/promise'))).default;
  };
  let lease: Lease | undefined;
  let swaps = 0;
  let ended = false;
  const draining = new Set<Promise<void>>();

  const report = (error: unknown) => {
    if (emitter.listenerCount('error') > 0) emitter.emit('error', error);
  };

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
    const finished = (async () => {
      if (old.active > 0) await new Promise<void>((r) => (old.idle = r));
      await old.pool.end();
    })()
      .catch(report)
      .finally(() => {
        draining.delete(finished);
        emitter.emit('drained');
      });
    draining.add(finished);
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
      await Promise.all([...draining]);
    },
  });
  Object.defineProperties(emitter, {
    swaps: { get: () => swaps, enumerable: true },
    draining: { get: () => draining.size, enumerable: true },
    user: { get: () => lease?.user, enumerable: true },
  });
  return emitter as unknown as RotorMysqlPool;
}
