// The PostgreSQL TokenStore: a refresh is one conditional UPDATE; session changes are numbered in
// commit order under a row lock, and NOTIFY wakes pollers (docs/tokens.md).
import type pg from 'pg';
import { RotorError } from '../../errors.js';
import { importPeer } from '../../import-peer.js';
import { lazyTokenStore } from './lazy-store.js';
import { decideRotation, resetRequired } from './family-rules.js';
import { describeConnectError } from './store-errors.js';
import {
  DEFAULT_PREFIX,
  PREFIX_PATTERN,
  type FamilyRecord,
  type RotateOutcome,
  type SessionChanges,
  type TokenStore,
} from './token-store.js';

/**
 * A node-postgres `pg.Pool`, described by shape only so the SDK's type declarations need no
 * @types/pg (pg is an optional peer); the store uses it as the pg.Pool it is.
 */
export interface PostgresPool {
  query: (...args: never[]) => unknown;
  connect: (...args: never[]) => unknown;
}

export interface PostgresTokenStoreOptions {
  /** A pool the app already has (not closed by `close()`), or … */
  pool?: PostgresPool;
  /** … a connection string; the store then owns its pool. */
  connectionString?: string;
  /** Tables are `<prefix>_refresh_families`, `<prefix>_session_users`, `<prefix>_session_global`. */
  prefix?: string;
  /** Pool size when the store makes its own pool (default 10). */
  max?: number;
}

interface FamilyRow {
  id: string;
  user_id: string;
  latest_jti: string;
  previous_jti: string | null;
  rotated_at: string | null;
  created_at: string;
  last_used_at: string;
  absolute_expires_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

function toRecord(r: FamilyRow): FamilyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    latestJti: r.latest_jti,
    previousJti: r.previous_jti,
    rotatedAt: num(r.rotated_at),
    createdAt: Number(r.created_at),
    lastUsedAt: Number(r.last_used_at),
    absoluteExpiresAt: Number(r.absolute_expires_at),
    revokedAt: num(r.revoked_at),
    revokeReason: r.revoke_reason,
  };
}

/**
 * A TokenStore on PostgreSQL.
 *
 * @example
 * const store = createPostgresTokenStore({ connectionString: process.env.SESSIONS_URL });
 * await store.init();
 */
export function createPostgresTokenStore(options: PostgresTokenStoreOptions): TokenStore {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix))
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      `token store prefix "${prefix}" must match ${PREFIX_PATTERN}`,
    );
  if (!options.pool && !options.connectionString)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
      'the PostgreSQL token store needs a pool or a connection string',
    );
  // The app's own pool is a pg.Pool (see PostgresPool): no driver to load.
  if (options.pool) return storeOnPool(options.pool as pg.Pool, false, prefix);
  const { connectionString, max = 10 } = options;
  return lazyTokenStore('postgres', async () => {
    const { default: driver } = await importPeer(
      'pg',
      'createPostgresTokenStore (rotor/tokens)',
      () => import('pg'),
    );
    return storeOnPool(
      new driver.Pool({ connectionString, max, connectionTimeoutMillis: 5000 }),
      true,
      prefix,
    );
  });
}

function storeOnPool(pool: pg.Pool, ownsPool: boolean, prefix: string): TokenStore {
  // An idle client dropped by the server must not crash the app; the next query reconnects.
  if (ownsPool) pool.on('error', () => {});
  const fam = `${prefix}_refresh_families`;
  const users = `${prefix}_session_users`;
  const glob = `${prefix}_session_global`;
  const channel = `${prefix}_sessions`;
  const validAfterOf = (userExpr: string) =>
    `GREATEST(COALESCE((SELECT g.valid_after FROM ${glob} g WHERE g.id = 1), -1), COALESCE((SELECT u.valid_after FROM ${users} u WHERE u.user_id = ${userExpr}), -1))`;

  const SQL = {
    rotate: `UPDATE ${fam} f SET previous_jti = f.latest_jti, latest_jti = $4, rotated_at = $5, last_used_at = $5
      WHERE f.id = $1 AND f.user_id = $2 AND f.latest_jti = $3 AND f.revoked_at IS NULL
        AND f.absolute_expires_at > $5 AND $5 - f.last_used_at <= $6 AND f.created_at > ${validAfterOf('f.user_id')}
      RETURNING f.created_at, f.absolute_expires_at`,
    inspect: `SELECT f.*, ${validAfterOf('f.user_id')} AS valid_after FROM ${fam} f WHERE f.id = $1`,
    revokeReuse: `UPDATE ${fam} SET revoked_at = $2, revoke_reason = 'reuse' WHERE id = $1 AND revoked_at IS NULL`,
    create: `INSERT INTO ${fam} (id, user_id, latest_jti, created_at, last_used_at, absolute_expires_at)
      SELECT $1, $2, $3, $4, $4, $5
      WHERE NOT EXISTS (SELECT 1 FROM ${users} u WHERE u.user_id = $2 AND u.reset_required)
        AND NOT EXISTS (SELECT 1 FROM ${glob} g WHERE g.id = 1 AND g.reset_before IS NOT NULL
          AND COALESCE((SELECT u.password_changed_at FROM ${users} u WHERE u.user_id = $2), -1) < g.reset_before)`,
  };

  let ready: Promise<void> | undefined;
  function init(): Promise<void> {
    ready ??= (async () => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (cause) {
        throw new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `cannot reach the PostgreSQL token store: ${describeConnectError(cause)}`,
          { cause },
        );
      }
      try {
        await client.query('BEGIN');
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog; serialize it.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `rotor-token-store:${prefix}`,
        ]);
        await client.query(`CREATE TABLE IF NOT EXISTS ${fam} (
          id text PRIMARY KEY,
          user_id text NOT NULL,
          latest_jti text NOT NULL,
          previous_jti text,
          rotated_at bigint,
          created_at bigint NOT NULL,
          last_used_at bigint NOT NULL,
          absolute_expires_at bigint NOT NULL,
          revoked_at bigint,
          revoke_reason text)`);
        await client.query(`CREATE INDEX IF NOT EXISTS ${fam}_user ON ${fam} (user_id)`);
        await client.query(
          `CREATE INDEX IF NOT EXISTS ${fam}_expiry ON ${fam} (absolute_expires_at)`,
        );
        await client.query(`CREATE TABLE IF NOT EXISTS ${users} (
          user_id text PRIMARY KEY,
          valid_after bigint,
          reset_required boolean NOT NULL DEFAULT false,
          password_changed_at bigint,
          version bigint NOT NULL DEFAULT 0)`);
        await client.query(`CREATE INDEX IF NOT EXISTS ${users}_version ON ${users} (version)`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${glob} (
          id int PRIMARY KEY CHECK (id = 1),
          valid_after bigint,
          reset_before bigint,
          global_version bigint NOT NULL DEFAULT 0,
          counter bigint NOT NULL DEFAULT 0)`);
        await client.query(`INSERT INTO ${glob} (id) VALUES (1) ON CONFLICT (id) DO NOTHING`);
        await client.query('COMMIT');
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => {});
        throw new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `cannot prepare the PostgreSQL token store tables (${prefix}_*): ${describeConnectError(cause)}`,
          { cause },
        );
      } finally {
        client.release();
      }
    })();
    ready.catch(() => (ready = undefined));
    return ready;
  }

  async function q<R extends pg.QueryResultRow>(
    name: string | undefined,
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    await init();
    return pool.query<R>(name ? { name: `${prefix}_${name}`, text, values } : { text, values });
  }

  /** Runs `fn` in a transaction that first bumps the session counter (serializing writers). */
  async function sessionWrite(
    fn: (client: pg.PoolClient, version: number) => Promise<void>,
  ): Promise<void> {
    await init();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ counter: string }>(
        `UPDATE ${glob} SET counter = counter + 1 WHERE id = 1 RETURNING counter`,
      );
      const version = Number(rows[0]!.counter);
      await fn(client, version);
      await client.query('SELECT pg_notify($1, $2)', [channel, String(version)]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  let listener: { client: pg.PoolClient } | undefined;
  const listeners = new Set<() => void>();
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;

  /** After a lost LISTEN connection: try again every second while anyone listens (pollers cover the gap). */
  function scheduleReconnect(): void {
    if (closed || listeners.size === 0 || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (closed || listeners.size === 0) return;
      listen()
        .then(() => {
          // Whatever changed while nobody listened: have every listener sync now.
          for (const l of listeners) l();
        })
        .catch(() => scheduleReconnect());
    }, 1000);
    reconnectTimer.unref();
  }

  async function listen(): Promise<void> {
    if (listener || closed) return;
    const client = await pool.connect();
    const current = { client };
    listener = current;
    const drop = (error?: Error) => {
      if (listener !== current) return;
      listener = undefined;
      client.removeAllListeners('notification');
      client.release(error ?? true);
      scheduleReconnect();
    };
    client.on('notification', (msg) => {
      if (msg.channel !== channel) return;
      for (const l of listeners) l();
    });
    client.on('error', (error) => drop(error));
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      drop(error as Error);
      throw error;
    }
  }

  return {
    kind: 'postgres',
    init,
    async createFamily(input) {
      const r = await q(undefined, SQL.create, [
        input.familyId,
        input.userId,
        input.jti,
        input.now,
        input.absoluteExpiresAt,
      ]);
      return r.rowCount === 1
        ? { created: true }
        : { created: false, reason: 'password-reset-required' };
    },
    async rotateFamily(input): Promise<RotateOutcome> {
      for (let attempt = 0; attempt < 3; attempt++) {
        const hit = await q<{ created_at: string; absolute_expires_at: string }>(
          'rotate',
          SQL.rotate,
          [
            input.familyId,
            input.userId,
            input.presentedJti,
            input.nextJti,
            input.now,
            input.idleMs,
          ],
        );
        const row = hit.rows[0];
        if (row)
          return {
            status: 'rotated',
            latestJti: input.nextJti,
            createdAt: Number(row.created_at),
            absoluteExpiresAt: Number(row.absolute_expires_at),
          };
        // Missed: find out why. A concurrent rotation that won the row lock shows up here as
        // `overlap`; nothing can turn a miss back into a hit, but retry if the state says so.
        const seen = await q<FamilyRow & { valid_after: string }>('inspect', SQL.inspect, [
          input.familyId,
        ]);
        const f = seen.rows[0];
        const decision = decideRotation(
          f ? toRecord(f) : undefined,
          f ? Number(f.valid_after) : -1,
          input,
        );
        if (decision.apply === 'revoke')
          await q('revoke_reuse', SQL.revokeReuse, [input.familyId, input.now]);
        if (decision.apply !== 'rotate') return decision.outcome;
      }
      throw new RotorError(
        'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
        `refresh of family ${input.familyId} kept conflicting; try again`,
      );
    },
    async getFamily(familyId) {
      const r = await q<FamilyRow>(undefined, `SELECT * FROM ${fam} WHERE id = $1`, [familyId]);
      return r.rows[0] ? toRecord(r.rows[0]) : undefined;
    },
    async revokeFamily(familyId, now, reason) {
      const r = await q(
        undefined,
        `UPDATE ${fam} SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL`,
        [familyId, now, reason],
      );
      return r.rowCount === 1;
    },
    async revokeUser(userId, now, reason) {
      const r = await q(
        undefined,
        `UPDATE ${fam} SET revoked_at = $2, revoke_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL`,
        [userId, now, reason],
      );
      return r.rowCount ?? 0;
    },
    async revokeSessions(scope, input) {
      await sessionWrite(async (client, version) => {
        if ('all' in scope) {
          await client.query(
            `UPDATE ${glob} SET valid_after = GREATEST(COALESCE(valid_after, -1), $1),
               reset_before = CASE WHEN $2 THEN GREATEST(COALESCE(reset_before, -1), $1) ELSE reset_before END,
               global_version = $3 WHERE id = 1`,
            [input.now, Boolean(input.requirePasswordReset), version],
          );
        } else {
          await client.query(
            `INSERT INTO ${users} (user_id, valid_after, reset_required, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET valid_after = GREATEST(COALESCE(${users}.valid_after, -1), EXCLUDED.valid_after),
               reset_required = ${users}.reset_required OR EXCLUDED.reset_required, version = EXCLUDED.version`,
            [scope.userId, input.now, Boolean(input.requirePasswordReset), version],
          );
        }
      });
    },
    async passwordResetRequired(userId) {
      const r = await q<{
        reset_required: boolean | null;
        password_changed_at: string | null;
        reset_before: string | null;
      }>(
        undefined,
        `SELECT u.reset_required, u.password_changed_at, g.reset_before FROM ${glob} g LEFT JOIN ${users} u ON u.user_id = $1 WHERE g.id = 1`,
        [userId],
      );
      const row = r.rows[0];
      return resetRequired(
        Boolean(row?.reset_required),
        num(row?.password_changed_at ?? null),
        num(row?.reset_before ?? null),
      );
    },
    async passwordChanged(userId, now) {
      await q(
        undefined,
        `INSERT INTO ${users} (user_id, reset_required, password_changed_at) VALUES ($1, false, $2)
         ON CONFLICT (user_id) DO UPDATE SET reset_required = false, password_changed_at = EXCLUDED.password_changed_at`,
        [userId, now],
      );
    },
    async sessionChanges(since): Promise<SessionChanges> {
      const r = await q<{ user_id: string | null; valid_after: string | null; version: string }>(
        'session_changes',
        `SELECT NULL::text AS user_id, valid_after, global_version AS version FROM ${glob} WHERE id = 1 AND global_version > $1
         UNION ALL SELECT user_id, valid_after, version FROM ${users} WHERE version > $1`,
        [since],
      );
      let version = since;
      const changes = r.rows.map((row) => {
        version = Math.max(version, Number(row.version));
        return { userId: row.user_id, validAfter: num(row.valid_after) };
      });
      return { version, changes };
    },
    async subscribe(onChange) {
      await init();
      listeners.add(onChange);
      try {
        await listen();
      } catch (cause) {
        listeners.delete(onChange);
        throw new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `cannot LISTEN on the PostgreSQL token store: ${describeConnectError(cause)}`,
          { cause },
        );
      }
      return async () => {
        listeners.delete(onChange);
        if (listeners.size === 0 && listener) {
          const { client } = listener;
          listener = undefined;
          client.removeAllListeners('notification');
          await client.query(`UNLISTEN ${channel}`).catch(() => {});
          client.release();
        }
      };
    },
    async purgeExpired(before) {
      const r = await q(undefined, `DELETE FROM ${fam} WHERE absolute_expires_at < $1`, [before]);
      return r.rowCount ?? 0;
    },
    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      listeners.clear();
      if (listener) {
        const { client } = listener;
        listener = undefined;
        client.removeAllListeners('notification');
        client.release(true);
      }
      if (ownsPool) await pool.end();
    },
  };
}
