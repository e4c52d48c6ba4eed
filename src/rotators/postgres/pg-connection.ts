// Connections for the postgres rotator: the target composed from rotor.yaml parts (with
// per-environment overrides), the admin credential resolved by reference at run time, and one
// place that turns driver errors into Rotor errors that name what is wrong without the URL.
import pg from 'pg';
import { RotorError, type RotorErrorCode } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import type { PostgresConfig } from './postgres-config.js';

export interface Target {
  host: string;
  port: number;
  database: string;
  params: Record<string, string>;
  admin: PostgresConfig['admin'];
}

/** The connection parts for `ctx.environment`: the top-level ones, overridden per environment. */
export function resolveTarget(ctx: RotatorContext<PostgresConfig>): Target {
  const c = ctx.config;
  const o = c.environments?.[ctx.environment] ?? {};
  return {
    host: o.host ?? c.host,
    port: o.port ?? c.port,
    database: o.database ?? c.database,
    params: { ...c.params, ...o.params },
    admin: o.admin ?? c.admin,
  };
}

/** `DATABASE_URL` for a login role: user, password, host, port, database, query parameters. */
export function composeUrl(
  t: Pick<Target, 'host' | 'port' | 'database' | 'params'>,
  user: string,
  password: string,
): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  const query = new URLSearchParams(t.params).toString();
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${t.port}/${encodeURIComponent(t.database)}${query ? `?${query}` : ''}`;
}

function describeAdmin(ref: Target['admin']): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `secret ${ref.secret}`;
}

/** The admin URL named in rotor.yaml, read now; never written in the file. */
async function adminUrl(ctx: RotatorContext<PostgresConfig>, t: Target): Promise<string> {
  const ref = t.admin;
  const url = 'env' in ref ? ctx.env?.[ref.env] : await ctx.readSecret?.(ref.secret);
  if (!url) {
    throw new RotorError(
      'ERR_ROTOR_DB_ADMIN_MISSING',
      `${ctx.secret}/${ctx.environment}: the admin connection URL is not set (rotor.yaml names ${describeAdmin(ref)}; it must hold postgres://admin:…@host:port/db)`,
    );
  }
  return url;
}

/** Maps a pg driver error to a Rotor error; `what` says which connection (admin, new role). */
export function dbError(
  ctx: RotatorContext<PostgresConfig>,
  { what, where }: { what: string; where: string },
  cause: unknown,
  fallback: RotorErrorCode = 'ERR_ROTOR_DB_QUERY_FAILED',
): RotorError {
  if (cause instanceof RotorError) return cause;
  const e = cause as { code?: string; message?: string };
  const head = `${ctx.secret}/${ctx.environment}: ${what} at ${where}`;
  const code = e?.code ?? '';
  // A SQLSTATE (such as 57014, a statement timeout) comes from a server that answered.
  const sqlState = /^[0-9A-Z]{5}$/.test(code);
  if (
    ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(
      code,
    ) ||
    (!sqlState &&
      /connection timeout|timeout expired|terminated unexpectedly/i.test(e?.message ?? ''))
  ) {
    return new RotorError(
      'ERR_ROTOR_DB_UNREACHABLE',
      `${head}: PostgreSQL cannot be reached (${code || e?.message}); the current credential was not changed`,
      { cause },
    );
  }
  if (code === '28P01' || code === '28000') {
    return new RotorError(
      fallback === 'ERR_ROTOR_VERIFY_FAILED' ? fallback : 'ERR_ROTOR_DB_AUTH_FAILED',
      `${head}: login refused (${e.message})`,
      { cause },
    );
  }
  if (code === '42501') {
    return new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${head}: permission denied (${e.message})`,
      { cause },
    );
  }
  return new RotorError(
    fallback,
    `${head}: ${e?.message ?? String(cause)}${code ? ` (SQLSTATE ${code})` : ''}`,
    { cause },
  );
}

function clientFor(ctx: RotatorContext<PostgresConfig>, connectionString: string): pg.Client {
  const ms = ctx.config.statementTimeoutMs;
  // statement_timeout ends a statement stuck behind a lock on the server; query_timeout covers a
  // server that stopped answering.
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: ctx.config.connectTimeoutMs,
    statement_timeout: ms,
    query_timeout: ms + 5000,
    application_name: 'rotor',
  });
  // A connection cut later surfaces on the pending query; this keeps it from crashing the process.
  client.on('error', () => {});
  return client;
}

/**
 * Runs `fn` on an admin connection to `database` (default: the target's), then closes it.
 * Connection failures become ERR_ROTOR_DB_UNREACHABLE / ERR_ROTOR_DB_AUTH_FAILED.
 */
export async function withAdmin<T>(
  ctx: RotatorContext<PostgresConfig>,
  t: Target,
  fn: (client: pg.Client) => Promise<T>,
  database = t.database,
): Promise<T> {
  const url = new URL(await adminUrl(ctx, t));
  url.pathname = `/${encodeURIComponent(database)}`;
  const where = `${url.hostname}:${url.port || 5432} (admin from ${describeAdmin(t.admin)})`;
  const client = clientFor(ctx, url.toString());
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => {});
    throw dbError(ctx, { what: 'the admin connection', where }, cause);
  }
  try {
    return await fn(client);
  } catch (cause) {
    throw dbError(ctx, { what: 'an admin statement', where }, cause);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs `fn` logged in as the role of `url` (a composed DATABASE_URL), then closes it. */
export async function withLogin<T>(
  ctx: RotatorContext<PostgresConfig>,
  url: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const parsed = new URL(url);
  const where = `${parsed.hostname}:${parsed.port} as ${decodeURIComponent(parsed.username)}`;
  const client = clientFor(ctx, url);
  try {
    await client.connect();
    return await fn(client);
  } catch (cause) {
    throw dbError(
      ctx,
      { what: 'logging in with the new credential', where },
      cause,
      'ERR_ROTOR_VERIFY_FAILED',
    );
  } finally {
    await client.end().catch(() => {});
  }
}
