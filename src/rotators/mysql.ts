// `mysql`: a DATABASE_URL for MariaDB 10.11 (and MySQL 8). Strategy `alternate`: two login users
// `<base>_a` / `<base>_b` hold one role (the privileges) as their DEFAULT ROLE; each rotation
// gives the idle user a new password and makes it current, so the app's live connections on the
// other user keep working through the grace window. Passwords reach MariaDB as
// mysql_native_password hashes computed here, never as plaintext in the server's logs.
// `dual-password` (MySQL 8.0.14+ only): one user, `RETAIN CURRENT PASSWORD`, then
// `DISCARD OLD PASSWORD` at retire.
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { z } from 'zod';
import { generateSecret } from '../core/crypto/generate.js';
import { RotorError } from '../core/errors.js';
import { ENV_VAR_NAME, SECRET_NAME } from '../core/policy/policy-schema.js';
import { defineRotator, type RotatorContext, type StoredMaterial } from '../core/rotation/rotator-contract.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const adminRef = z.union(
  [
    z.strictObject({ env: z.string().regex(ENV_VAR_NAME, 'an environment variable name') }),
    z.strictObject({ secret: z.string().regex(SECRET_NAME, 'a secret name from rotor.yaml') }),
  ],
  { error: 'admin must be { env: VARIABLE } or { secret: NAME }: a reference to the admin URL, never the URL itself (it has a password)' },
);

const params = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** What may differ per environment (staging and production servers). */
const override = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).max(64).optional(),
  params: params.optional(),
  admin: adminRef.optional(),
  /** Environments that share one server need their own users. */
  baseUser: z.string().regex(IDENT, 'letters, digits and _ only').max(30).optional(),
});

const configSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(3306),
  database: z.string().min(1).max(64),
  /** Query parameters kept in the composed DATABASE_URL (`ssl`, `charset`, …). */
  params: params.optional(),
  /** The role that holds the app's privileges; both users get it as their DEFAULT ROLE. */
  role: z.string().regex(IDENT, 'letters, digits and _ only'),
  /** `<baseUser>_a` / `<baseUser>_b` are the alternating login users. */
  baseUser: z.string().regex(IDENT, 'letters, digits and _ only').max(30),
  /** The account host part the users are created with (`'%'`, `10.0.%`, …). */
  userHost: z.string().min(1).max(255).regex(/^[^'\\`\0]+$/, 'no quotes or backslashes').default('%'),
  /** Create the users with REQUIRE SSL (an existing REQUIRE SSL is always kept). */
  requireTls: z.boolean().optional(),
  strategy: z.enum(['alternate', 'dual-password']).default('alternate'),
  /**
   * Safety net: every password Rotor sets expires after this many days (PASSWORD EXPIRE
   * INTERVAL). Default: the secret's maximum cadence plus its grace window.
   */
  passwordLifetimeDays: z.number().int().min(1).max(65535).optional(),
  /** The admin connection URL, by reference: an environment variable or another Rotor secret. */
  admin: adminRef,
  connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  /** Each admin statement is cut off after this (MariaDB max_statement_time), e.g. behind a lock. */
  statementTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** Per-environment host, port, database, params or admin. */
  environments: z.record(z.string(), override).optional(),
});
type Config = z.infer<typeof configSchema>;
type Ctx = RotatorContext<Config>;

/** The config for this rotation's environment: the top level with its override applied. */
function effective(ctx: Ctx): Config {
  const o = ctx.config.environments?.[ctx.environment] ?? {};
  return { ...ctx.config, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
}

/** mysql_native_password's stored form: `*` + upper-case hex SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const account = (user: string, host: string) => `${mysql.escape(user)}@${mysql.escape(host)}`;

function where(c: Config): string {
  return `${c.host}:${c.port}`;
}

/** Composes `mysql://user:password@host:port/database?params`. */
export function composeUrl(c: Config, user: string, password: string): string {
  const query = c.params ? new URLSearchParams(Object.entries(c.params).map(([k, v]): [string, string] => [k, String(v)])).toString() : '';
  return `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${c.host}:${c.port}/${encodeURIComponent(c.database)}${query ? `?${query}` : ''}`;
}

function parseUrl(value: string): { user: string; password: string } | undefined {
  try {
    const u = new URL(value);
    return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } catch {
    return undefined;
  }
}

function userOf(c: Config, m: StoredMaterial): string | undefined {
  return typeof m.meta.user === 'string' ? m.meta.user : parseUrl(m.value)?.user;
}

interface DbError {
  code?: string;
  errno?: number;
  message?: string;
}

/** Maps a driver error to one clear RotorError; never quotes a URL or password. */
function dbError(ctx: Ctx, what: string, error: unknown): RotorError {
  if (error instanceof RotorError) return error;
  const e = error as DbError;
  const prefix = `${ctx.secret}/${ctx.environment}: ${what}`;
  const network = ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'EAI_AGAIN'];
  if (e?.code && network.includes(e.code)) {
    return new RotorError('ERR_ROTOR_DB_UNREACHABLE', `${prefix}: the MySQL/MariaDB server is not reachable (${e.code})`, { cause: error });
  }
  if (e?.errno === 1045) {
    return new RotorError('ERR_ROTOR_DB_AUTH_FAILED', `${prefix}: the server refused the login (${e.message ?? 'access denied'})`, { cause: error });
  }
  if (e?.errno === 1227 || e?.errno === 1044 || e?.errno === 1142) {
    return new RotorError('ERR_ROTOR_DB_PRIVILEGE_MISSING', `${prefix}: the admin user lacks a privilege Rotor needs (CREATE USER; on MariaDB also SELECT and UPDATE on the mysql schema; the role WITH ADMIN OPTION; PROCESS and CONNECTION ADMIN to see and end sessions): ${e.message ?? ''}`, { cause: error });
  }
  if (e?.errno === 1969) {
    return new RotorError(
      'ERR_ROTOR_DB_QUERY_FAILED',
      `${prefix}: a statement ran longer than statementTimeoutMs (${ctx.config.statementTimeoutMs} ms) and was cut off: is the server overloaded, or a lock on the mysql schema held?`,
      { cause: error },
    );
  }
  if (e?.errno === 1959) {
    return new RotorError('ERR_ROTOR_ROTATOR_CONFIG', `${prefix}: role ${ctx.config.role} does not exist or the admin cannot grant it (create it, or grant it to the admin WITH ADMIN OPTION)`, { cause: error });
  }
  return new RotorError('ERR_ROTOR_ROTATION_FAILED', `${prefix}: ${e?.code ?? 'error'} ${e?.message ?? String(error)}`, { cause: error });
}

async function withAdmin<T>(ctx: Ctx, what: string, run: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const ref = effective(ctx).admin;
  const variable = 'env' in ref ? `$${ref.env}` : `secret ${ref.secret}`;
  const url = 'env' in ref ? (ctx.env ?? process.env)[ref.env] : await ctx.readSecret?.(ref.secret);
  if (!url) {
    throw new RotorError('ERR_ROTOR_DB_ADMIN_MISSING', `${ctx.secret}/${ctx.environment}: the admin connection URL is read from ${variable}, which is not set`);
  }
  let db: mysql.Connection;
  try {
    db = await mysql.createConnection({ uri: url, connectTimeout: ctx.config.connectTimeoutMs, multipleStatements: false });
  } catch (error) {
    const e = dbError(ctx, `admin connection (${variable})`, error);
    if (e.code === 'ERR_ROTOR_DB_AUTH_FAILED') {
      throw new RotorError('ERR_ROTOR_DB_AUTH_FAILED', `${ctx.secret}/${ctx.environment}: the admin credential in ${variable} was refused (wrong user or password)`, { cause: error });
    }
    throw e;
  }
  try {
    // MariaDB only; MySQL's max_execution_time covers SELECTs alone, so it is not set there.
    await db.query(`SET SESSION max_statement_time = ${ctx.config.statementTimeoutMs / 1000}`).catch(() => {});
    return await run(db);
  } catch (error) {
    throw dbError(ctx, what, error);
  } finally {
    await db.end().catch(() => {});
  }
}

async function serverInfo(db: mysql.Connection): Promise<{ mariadb: boolean; version: string }> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  const version = String(rows[0]?.v ?? '');
  return { mariadb: /mariadb/i.test(version), version };
}

function supportsDualPassword(info: { mariadb: boolean; version: string }): boolean {
  if (info.mariadb) return false;
  const [maj = 0, min = 0, patch = 0] = info.version.split(/[.-]/).map(Number);
  return maj > 8 || (maj === 8 && (min > 0 || patch >= 14));
}

/** `SHOW CREATE USER`, or undefined when the account does not exist. */
async function showCreateUser(db: mysql.Connection, user: string, host: string): Promise<string | undefined> {
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER ${account(user, host)}`);
    const row = rows[0];
    return row ? String(Object.values(row)[0]) : undefined;
  } catch (error) {
    if ((error as DbError).errno === 1133 || (error as DbError).errno === 1396) return undefined;
    throw error;
  }
}

/** SHOW GRANTS with the account name and password hash taken out, sorted: comparable across users. */
async function normalisedGrants(db: mysql.Connection, user: string, host: string): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${account(user, host)}`);
  const me = new RegExp(`\`${user}\`@\`${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``, 'g');
  return rows
    .map((r) => String(Object.values(r)[0]))
    .map((line) => line.replace(me, '<user>').replace(/ IDENTIFIED (BY PASSWORD|VIA \S+ USING) '[^']*'/g, ''))
    .sort();
}

async function liveSessions(db: mysql.Connection, user: string): Promise<number[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [user]);
  return rows.map((r) => Number(r.ID));
}

const users = (c: Config) => [`${c.baseUser}_a`, `${c.baseUser}_b`] as const;
const sibling = (c: Config, user: string) => (user === `${c.baseUser}_a` ? `${c.baseUser}_b` : `${c.baseUser}_a`);

export const mysqlRotator = defineRotator({
  kind: 'mysql',
  summary: 'DATABASE_URL for MariaDB/MySQL: alternating users holding one role (or MySQL 8 dual passwords)',
  source: 'generated',
  configSchema,
  async create(ctx) {
    const c = effective(ctx);
    await withAdmin(ctx, 'checking the server', async (db) => {
      const info = await serverInfo(db);
      if (c.strategy === 'dual-password' && !supportsDualPassword(info)) {
        throw new RotorError(
          'ERR_ROTOR_ROTATOR_CONFIG',
          `${ctx.secret}/${ctx.environment}: strategy dual-password needs MySQL 8.0.14 or later (RETAIN CURRENT PASSWORD); ${where(c)} runs ${info.mariadb ? 'MariaDB' : 'MySQL'} ${info.version}. Use strategy alternate`,
        );
      }
    });
    const password = generateSecret(32, 'base64url');
    let user: string;
    if (c.strategy === 'dual-password') {
      user = c.baseUser;
    } else {
      // The idle user is the one the current version does not use.
      const value = await ctx.readSecret?.(ctx.secret);
      const current = value === undefined ? undefined : parseUrl(value)?.user;
      user = current === `${c.baseUser}_a` ? `${c.baseUser}_b` : `${c.baseUser}_a`;
    }
    if (c.strategy === 'alternate' && !ctx.emergency) {
      // The idle user may still be the previous credential inside its grace window: a new
      // password would break the app's next connection with it, so refuse while it is in use.
      await withAdmin(ctx, `checking ${user} is idle`, async (db) => {
        const created = await showCreateUser(db, user, c.userHost);
        if (created === undefined || / ACCOUNT LOCK/.test(created)) return;
        const sessions = await liveSessions(db, user);
        if (sessions.length > 0) {
          throw new RotorError(
            'ERR_ROTOR_DB_ROLE_IN_USE',
            `${ctx.secret}/${ctx.environment}: ${user}, the user this rotation would reuse, still has ${sessions.length} live session(s) (the previous credential, inside its grace window); nothing was changed. Rotate again once they are gone or after \`rotor retire\`, or use --emergency`,
            { details: { user, sessions: sessions.length } },
          );
        }
      });
    }
    return { value: composeUrl(c, user, password), meta: { user, userHost: c.userHost, strategy: c.strategy } };
  },
  async apply(ctx, material) {
    const c = effective(ctx);
    const creds = parseUrl(material.value);
    if (!creds) throw new RotorError('ERR_ROTOR_VALUE_INVALID', `${ctx.secret}: the stored value is not a mysql:// URL`);
    const acct = account(creds.user, c.userHost);
    // Safety net: the password expires on its own even if retire never runs.
    const days = c.passwordLifetimeDays ?? (ctx.lifetimeMs ? Math.ceil(ctx.lifetimeMs / 86_400_000) : undefined);
    const lifetime = days ? ` PASSWORD EXPIRE INTERVAL ${Math.min(days, 65535)} DAY` : '';
    await withAdmin(ctx, `applying the new password to ${creds.user}@${c.userHost}`, async (db) => {
      if (c.strategy === 'dual-password') {
        // MySQL 8 only (create refused MariaDB). The plaintext is escaped by the driver.
        await db.query(`ALTER USER ${acct} IDENTIFIED BY ${mysql.escape(creds.password)} RETAIN CURRENT PASSWORD`);
        return;
      }
      const hash = nativePasswordHash(creds.password);
      const existing = await showCreateUser(db, creds.user, c.userHost);
      const other = await showCreateUser(db, sibling(c, creds.user), c.userHost);
      // Keep the TLS requirement the account (or its twin) already has.
      const tls = c.requireTls || / REQUIRE SSL/.test(existing ?? '') || / REQUIRE SSL/.test(other ?? '') ? ' REQUIRE SSL' : '';
      if (existing === undefined) {
        await db.query(`CREATE USER ${acct} IDENTIFIED BY PASSWORD ${mysql.escape(hash)}${tls}${lifetime} ACCOUNT LOCK`);
      }
      await db.query(`GRANT ${quoteIdent(c.role)} TO ${acct}`);
      await db.query(`SET DEFAULT ROLE ${quoteIdent(c.role)} FOR ${acct}`);
      await db.query(`ALTER USER ${acct} IDENTIFIED BY PASSWORD ${mysql.escape(hash)}${tls}${lifetime} ACCOUNT UNLOCK`);
    });
  },
  async verify(ctx, material) {
    const c = effective(ctx);
    const creds = parseUrl(material.value);
    if (!creds) throw new RotorError('ERR_ROTOR_VALUE_INVALID', `${ctx.secret}: the stored value is not a mysql:// URL`);
    // Log in as the new user with the new password, on a fresh connection.
    let app: mysql.Connection | undefined;
    try {
      app = await mysql.createConnection({ uri: material.value, connectTimeout: c.connectTimeoutMs });
      const [rows] = await app.query<mysql.RowDataPacket[]>('SELECT CURRENT_ROLE() AS r, DATABASE() AS d');
      const role = rows[0]?.r as string | null;
      if (c.strategy === 'alternate' && role !== c.role) {
        throw new RotorError('ERR_ROTOR_VERIFY_FAILED', `${ctx.secret}/${ctx.environment}: ${creds.user} logged in but its active role is ${role ?? 'none'}, not ${c.role}`);
      }
    } catch (error) {
      const e = dbError(ctx, `logging in as ${creds.user} with the new password`, error);
      // An unreachable server says so, as on PostgreSQL; anything else is a failed verify.
      throw e.code === 'ERR_ROTOR_VERIFY_FAILED' || e.code === 'ERR_ROTOR_DB_UNREACHABLE' ? e : new RotorError('ERR_ROTOR_VERIFY_FAILED', e.message, { cause: error });
    } finally {
      await app?.end().catch(() => {});
    }
    if (c.strategy !== 'alternate') return;
    const twin = sibling(c, creds.user);
    await withAdmin(ctx, 'comparing grants', async (db) => {
      if ((await showCreateUser(db, twin, c.userHost)) === undefined) return; // first rotation
      const mine = await normalisedGrants(db, creds.user, c.userHost);
      const theirs = await normalisedGrants(db, twin, c.userHost);
      const onlyNew = mine.filter((g) => !theirs.includes(g));
      const onlyOld = theirs.filter((g) => !mine.includes(g));
      if (onlyNew.length > 0 || onlyOld.length > 0) {
        const diff = [...onlyOld.map((g) => `  only ${twin}: ${g}`), ...onlyNew.map((g) => `  only ${creds.user}: ${g}`)].join('\n');
        throw new RotorError('ERR_ROTOR_DB_GRANTS_DIFFER', `${ctx.secret}/${ctx.environment}: ${creds.user} and ${twin} do not hold the same privileges; not promoting:\n${diff}`, {
          details: { onlyNew, onlyOld },
        });
      }
    });
  },
  async retire(ctx, old) {
    const c = effective(ctx);
    const user = userOf(c, old);
    const creds = parseUrl(old.value);
    if (!user || !creds) return;
    if (c.strategy === 'dual-password') {
      await withAdmin(ctx, `discarding the old password of ${user}`, (db) => db.query(`ALTER USER ${account(user, c.userHost)} DISCARD OLD PASSWORD`).then(() => undefined));
      return;
    }
    // Only Rotor's own two users are locked; a user a team imported stays theirs to drop.
    if (!(users(c) as readonly string[]).includes(user)) return;
    await withAdmin(ctx, `retiring ${user}@${c.userHost}`, async (db) => {
      const created = await showCreateUser(db, user, c.userHost);
      if (created === undefined) return;
      // A later rotation already gave this user a new password: the old credential is dead and
      // the user is (or is about to be) current again, so it must not be locked.
      if (!created.includes(`'${nativePasswordHash(creds.password)}'`)) return;
      const sessions = await liveSessions(db, user);
      if (sessions.length > 0 && !ctx.emergency && !ctx.force) {
        throw new RotorError(
          'ERR_ROTOR_RETIRE_POSTPONED',
          `${ctx.secret}/${ctx.environment}: ${user} still has ${sessions.length} live session(s); retire postponed so the app is not cut off (retry later, retire with --force, or rotate with --emergency)`,
          { details: { user, sessions: sessions.length } },
        );
      }
      // Lock first so killed sessions cannot log in again; a random password keeps it idle.
      const idle = nativePasswordHash(generateSecret(32, 'base64url'));
      await db.query(`ALTER USER ${account(user, c.userHost)} IDENTIFIED BY PASSWORD ${mysql.escape(idle)} ACCOUNT LOCK`);
      for (const id of sessions) {
        await db.query(`KILL CONNECTION ${Number(id)}`).catch((error: DbError) => {
          if (error.errno !== 1094) throw error; // already gone
        });
      }
    });
  },
  async emergencyActions(ctx) {
    return [`the previous ${ctx.config.strategy === 'alternate' ? 'MySQL user' : 'password'} was locked and its live connections killed`];
  },
  async runSql(ctx, material, statement, timeoutMs) {
    const creds = parseUrl(material.value);
    if (!creds) throw new RotorError('ERR_ROTOR_VALUE_INVALID', `${ctx.secret}: the stored value is not a mysql:// URL`);
    let app: mysql.Connection | undefined;
    try {
      app = await mysql.createConnection({ uri: material.value, connectTimeout: Math.min(ctx.config.connectTimeoutMs, timeoutMs), multipleStatements: false });
      const [result] = await app.query({ sql: statement, timeout: timeoutMs });
      return Array.isArray(result) ? result.length : 0;
    } catch (error) {
      throw dbError(ctx, `running the check as ${creds.user}`, error);
    } finally {
      await app?.end().catch(() => {});
    }
  },
});
