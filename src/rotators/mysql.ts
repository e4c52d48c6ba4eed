// `mysql`: a MariaDB/MySQL DATABASE_URL rotated by alternating two logins that share one role
// (or MySQL 8's dual passwords); design and guarantees: docs/mysql.md.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mysql from 'mysql2/promise';
import { generateSecret } from '../core/crypto/generate.js';
import { RotorError } from '../core/errors.js';
import { withConnection } from './mysql-connection.js';
import {
  defineRotator,
  type RetireOutcome,
  type RotatorContext,
  type StoredMaterial,
} from '../core/rotator/rotator-contract.js';
import { describeSessions, publicSessions } from '../core/rotation/retire-proof.js';
import {
  accountProperties,
  effectivePrivileges,
  liveSessions as sessionList,
  propertiesClause,
  type AccountProperties,
} from './mysql-account.js';
import { drainExpired, drainOf } from './postgres/drain-config.js';
import {
  MYSQL_SUMMARY,
  mysqlConfigSchema as configSchema,
  type MysqlConfig,
} from './mysql-config.js';

type Config = MysqlConfig;
type Ctx = RotatorContext<Config>;

/** The config for this rotation's environment: the top level with its override applied. */
function effective(ctx: Ctx): Config {
  const o = ctx.config.environments?.[ctx.environment] ?? {};
  return {
    ...ctx.config,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  };
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
  const query = c.params
    ? new URLSearchParams(
        Object.entries(c.params).map(([k, v]): [string, string] => [k, String(v)]),
      ).toString()
    : '';
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

/** The user and password of a stored value; a value that is not a URL is an error. */
function storedCredentials(ctx: Ctx, value: string): { user: string; password: string } {
  const creds = parseUrl(value);
  if (!creds)
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `${ctx.secret}: the stored value is not a mysql:// URL`,
    );
  return creds;
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
  const network = [
    'ECONNREFUSED',
    'ETIMEDOUT',
    'ENOTFOUND',
    'EHOSTUNREACH',
    'ECONNRESET',
    'PROTOCOL_CONNECTION_LOST',
    'EAI_AGAIN',
  ];
  if (e?.code && network.includes(e.code)) {
    return new RotorError(
      'ERR_ROTOR_DB_UNREACHABLE',
      `${prefix}: the MySQL/MariaDB server is not reachable (${e.code})`,
      { cause: error },
    );
  }
  if (e?.errno === 1045) {
    return new RotorError(
      'ERR_ROTOR_DB_AUTH_FAILED',
      `${prefix}: the server refused the login (${e.message ?? 'access denied'})`,
      { cause: error },
    );
  }
  if (e?.errno === 1227 || e?.errno === 1044 || e?.errno === 1142) {
    return new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${prefix}: the admin user lacks a privilege Rotor needs (CREATE USER; on MariaDB also SELECT and UPDATE on the mysql schema; the role WITH ADMIN OPTION; PROCESS and CONNECTION ADMIN to see and end sessions): ${e.message ?? ''}`,
      { cause: error },
    );
  }
  if (e?.errno === 1969) {
    return new RotorError(
      'ERR_ROTOR_DB_QUERY_FAILED',
      `${prefix}: a statement ran longer than statementTimeoutMs (${ctx.config.statementTimeoutMs} ms) and was cut off: is the server overloaded, or a lock on the mysql schema held?`,
      { cause: error },
    );
  }
  if (e?.errno === 1959) {
    return new RotorError(
      'ERR_ROTOR_ROTATOR_CONFIG',
      `${prefix}: role ${ctx.config.role} does not exist or the admin cannot grant it (create it, or grant it to the admin WITH ADMIN OPTION)`,
      { cause: error },
    );
  }
  return new RotorError(
    'ERR_ROTOR_ROTATION_FAILED',
    `${prefix}: ${e?.code ?? 'error'} ${e?.message ?? String(error)}`,
    { cause: error },
  );
}

async function withAdmin<T>(
  ctx: Ctx,
  what: string,
  run: (db: mysql.Connection) => Promise<T>,
): Promise<T> {
  const ref = effective(ctx).admin;
  const variable = 'env' in ref ? `$${ref.env}` : `secret ${ref.secret}`;
  const url = 'env' in ref ? (ctx.env ?? process.env)[ref.env] : await ctx.readSecret?.(ref.secret);
  if (!url) {
    throw new RotorError(
      'ERR_ROTOR_DB_ADMIN_MISSING',
      `${ctx.secret}/${ctx.environment}: the admin connection URL is read from ${variable}, which is not set`,
    );
  }
  const connectError = (error: unknown): RotorError => {
    const e = dbError(ctx, `admin connection (${variable})`, error);
    if (e.code !== 'ERR_ROTOR_DB_AUTH_FAILED') return e;
    return new RotorError(
      'ERR_ROTOR_DB_AUTH_FAILED',
      `${ctx.secret}/${ctx.environment}: the admin credential in ${variable} was refused (wrong user or password)`,
      { cause: error },
    );
  };
  return withConnection(
    { url, connectTimeoutMs: ctx.config.connectTimeoutMs },
    { connect: connectError, run: (error) => dbError(ctx, what, error) },
    async (db) => {
      // MariaDB only; MySQL's max_execution_time covers SELECTs alone, so it is not set there.
      await db
        .query(`SET SESSION max_statement_time = ${ctx.config.statementTimeoutMs / 1000}`)
        .catch(() => {});
      return run(db);
    },
  );
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
async function showCreateUser(
  db: mysql.Connection,
  user: string,
  host: string,
): Promise<string | undefined> {
  try {
    const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW CREATE USER ${account(user, host)}`);
    const row = rows[0];
    return row ? String(Object.values(row)[0]) : undefined;
  } catch (error) {
    if ((error as DbError).errno === 1133 || (error as DbError).errno === 1396) return undefined;
    throw error;
  }
}

/**
 * The account a new login replaces: the user the current version records (a team's imported one
 * included) and its host part. Undefined when there is no current version (nothing to compare).
 * An imported user with several accounts must name one host: the one in `userHost`.
 */
async function replacedAccount(
  ctx: Ctx,
  db: mysql.Connection,
  c: Config,
  except: string,
): Promise<{ user: string; host: string } | undefined> {
  const value = await ctx.readSecret?.(ctx.secret);
  const user = value === undefined ? undefined : parseUrl(value)?.user;
  if (!user || user === except) return undefined;
  if ((users(c) as readonly string[]).includes(user)) return { user, host: c.userHost };
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT Host AS host, is_role FROM mysql.user WHERE User = ?',
    [user],
  );
  const hosts = rows.filter((r) => r.is_role !== 'Y').map((r) => String(r.host));
  if (hosts.length === 0) return undefined;
  if (hosts.length === 1) return { user, host: hosts[0]! };
  if (hosts.includes(c.userHost)) return { user, host: c.userHost };
  throw new RotorError(
    'ERR_ROTOR_ROTATOR_CONFIG',
    `${ctx.secret}/${ctx.environment}: the current user ${user} has ${hosts.length} accounts (${hosts.map((h) => `${user}@${h}`).join(', ')}) and none at userHost ${c.userHost}: set userHost to the one the app uses; nothing was changed`,
  );
}

/** The host part of an imported user's account: the only one, or the one at userHost. */
async function originalHost(
  db: mysql.Connection,
  c: Config,
  user: string,
): Promise<string | undefined> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT Host AS host, is_role FROM mysql.user WHERE User = ?',
    [user],
  );
  const hosts = rows.filter((r) => r.is_role !== 'Y').map((r) => String(r.host));
  return hosts.length === 1 ? hosts[0] : hosts.find((h) => h === c.userHost);
}

/** Whether Rotor's own logins as an account with `p` need TLS, and the options for them. */
function loginOptions(
  c: Config,
  url: string,
  p: AccountProperties | undefined,
): mysql.ConnectionOptions {
  const options: mysql.ConnectionOptions = {
    uri: url,
    connectTimeout: c.connectTimeoutMs,
    multipleStatements: false,
  };
  // A `ssl` query parameter in DATABASE_URL wins (mysql2 applies the URL's options last).
  if (p?.require || c.requireTls)
    options.ssl = c.tlsCa ? { ca: readFileSync(c.tlsCa, 'utf8') } : {};
  return options;
}

/** The account properties of `user`@userHost, or of the replaced account for a user not yet made. */
async function propertiesOf(
  db: mysql.Connection,
  user: string,
  host: string,
): Promise<AccountProperties | undefined> {
  const created = await showCreateUser(db, user, host);
  return created === undefined ? undefined : accountProperties(created);
}

/**
 * The properties the new login `user` must have: those of the account it replaces (the current
 * version's), else those of its twin or its own (the first version), with TLS raised to at least
 * REQUIRE SSL when rotor.yaml asks for it.
 */
async function carriedProperties(
  ctx: Ctx,
  db: mysql.Connection,
  c: Config,
  { user, existing }: { user: string; existing: string | undefined },
): Promise<AccountProperties> {
  const replaced = await replacedAccount(ctx, db, c, user);
  const from = (replaced && (await propertiesOf(db, replaced.user, replaced.host))) ??
    (await propertiesOf(db, sibling(c, user), c.userHost)) ??
    (existing === undefined ? undefined : accountProperties(existing)) ?? {
      limits: {},
      locked: false,
    };
  return { ...from, ...(c.requireTls && !from.require ? { require: 'SSL' } : {}) };
}

const users = (c: Config) => [`${c.baseUser}_a`, `${c.baseUser}_b`] as const;
const sibling = (c: Config, user: string) =>
  user === `${c.baseUser}_a` ? `${c.baseUser}_b` : `${c.baseUser}_a`;

export const mysqlRotator = defineRotator({
  kind: 'mysql',
  summary: MYSQL_SUMMARY,
  source: 'generated',
  configSchema,
  async create(ctx) {
    const c = effective(ctx);
    await withAdmin(ctx, 'checking the server', async (db) => {
      const info = await serverInfo(db);
      if (c.strategy === 'dual-password' && !c.experimental) {
        throw new RotorError(
          'ERR_ROTOR_ROTATOR_CONFIG',
          `${ctx.secret}/${ctx.environment}: strategy dual-password is untested (no MySQL 8 server was available to test it against); set experimental: true in its config to use it anyway, or use strategy alternate`,
        );
      }
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
        const sessions = publicSessions(await sessionList(db, user));
        if (sessions.length > 0) {
          throw new RotorError(
            'ERR_ROTOR_DB_ROLE_IN_USE',
            `${ctx.secret}/${ctx.environment}: ${user}, the user this rotation would reuse, still has ${sessions.length} live session(s) (the previous credential, inside its grace window or its retire postponed): ${describeSessions(sessions)}; nothing was changed. Rotate again once they are gone or after \`rotor retire\`, or use --emergency`,
            { details: { user, sessions: sessions.length, sessionList: sessions } },
          );
        }
      });
    }
    if (c.strategy === 'alternate') {
      // The host part is an account property Rotor copies by configuration: refuse a mismatch.
      await withAdmin(ctx, 'reading the account being replaced', async (db) => {
        const replaced = await replacedAccount(ctx, db, c, user);
        if (replaced && replaced.host !== c.userHost) {
          throw new RotorError(
            'ERR_ROTOR_ROTATOR_CONFIG',
            `${ctx.secret}/${ctx.environment}: the account being replaced is ${replaced.user}@'${replaced.host}' but the new login would be ${user}@'${c.userHost}': set userHost: '${replaced.host}' so it keeps the same host part; nothing was changed`,
            { details: { property: 'host', host: replaced.host, userHost: c.userHost } },
          );
        }
        // A client-certificate requirement would be copied, but Rotor has no certificate to prove
        // the new login works with: refuse up front rather than promote an unverified login.
        const p = replaced && (await propertiesOf(db, replaced.user, replaced.host));
        if (p?.require && /X509|ISSUER|SUBJECT/.test(p.require)) {
          throw new RotorError(
            'ERR_ROTOR_ROTATOR_CONFIG',
            `${ctx.secret}/${ctx.environment}: ${replaced!.user}@'${replaced!.host}' has REQUIRE ${p.require}, a client-certificate requirement Rotor cannot verify (it logs in with a password only); nothing was changed`,
            { details: { property: 'REQUIRE', require: p.require } },
          );
        }
      });
    }
    return {
      value: composeUrl(c, user, password),
      meta: { user, userHost: c.userHost, strategy: c.strategy },
    };
  },
  async apply(ctx, material) {
    const c = effective(ctx);
    const creds = storedCredentials(ctx, material.value);
    const acct = account(creds.user, c.userHost);
    // Safety net: the password expires on its own even if retire never runs.
    const days =
      c.passwordLifetimeDays ??
      (ctx.lifetimeMs ? Math.ceil(ctx.lifetimeMs / 86_400_000) : undefined);
    const lifetime = days ? ` PASSWORD EXPIRE INTERVAL ${Math.min(days, 65535)} DAY` : '';
    await withAdmin(ctx, `applying the new password to ${creds.user}@${c.userHost}`, async (db) => {
      if (c.strategy === 'dual-password') {
        // MySQL 8 only (create refused MariaDB). The plaintext is escaped by the driver.
        await db.query(
          `ALTER USER ${acct} IDENTIFIED BY ${mysql.escape(creds.password)} RETAIN CURRENT PASSWORD`,
        );
        return;
      }
      const hash = nativePasswordHash(creds.password);
      const existing = await showCreateUser(db, creds.user, c.userHost);
      const properties = await carriedProperties(ctx, db, c, { user: creds.user, existing });
      if (existing === undefined) {
        await db.query(
          `CREATE USER ${acct} IDENTIFIED BY PASSWORD ${mysql.escape(hash)}${propertiesClause(properties)}${lifetime} ACCOUNT LOCK`,
        );
      }
      await db.query(`GRANT ${quoteIdent(c.role)} TO ${acct}`);
      await db.query(`SET DEFAULT ROLE ${quoteIdent(c.role)} FOR ${acct}`);
      await db.query(
        `ALTER USER ${acct} IDENTIFIED BY PASSWORD ${mysql.escape(hash)}${propertiesClause(properties)}${lifetime} ACCOUNT UNLOCK`,
      );
    });
  },
  async verify(ctx, material) {
    const c = effective(ctx);
    const creds = storedCredentials(ctx, material.value);
    const properties = await withAdmin(ctx, 'reading the new account', (db) =>
      propertiesOf(db, creds.user, c.userHost),
    );
    // Log in as the new user with the new password, on a fresh connection (over TLS when required).
    let app: mysql.Connection | undefined;
    try {
      app = await mysql.createConnection(loginOptions(c, material.value, properties));
      const [rows] = await app.query<mysql.RowDataPacket[]>(
        `SELECT CURRENT_ROLE() AS r, DATABASE() AS d, (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher') AS cipher`,
      );
      const role = rows[0]?.r as string | null;
      if (c.strategy === 'alternate' && role !== c.role) {
        throw new RotorError(
          'ERR_ROTOR_VERIFY_FAILED',
          `${ctx.secret}/${ctx.environment}: ${creds.user} logged in but its active role is ${role ?? 'none'}, not ${c.role}`,
        );
      }
      if (properties?.require && !rows[0]?.cipher) {
        throw new RotorError(
          'ERR_ROTOR_VERIFY_FAILED',
          `${ctx.secret}/${ctx.environment}: ${creds.user} requires TLS (REQUIRE ${properties.require}) but the verify login was not encrypted`,
        );
      }
    } catch (error) {
      const e = dbError(
        ctx,
        `logging in as ${creds.user} with the new password${properties?.require ? ' over TLS' : ''}`,
        error,
      );
      // An unreachable server says so, as on PostgreSQL; anything else is a failed verify.
      throw e.code === 'ERR_ROTOR_VERIFY_FAILED' || e.code === 'ERR_ROTOR_DB_UNREACHABLE'
        ? e
        : new RotorError('ERR_ROTOR_VERIFY_FAILED', e.message, { cause: error });
    } finally {
      await app?.end().catch(() => {});
    }
    if (c.strategy !== 'alternate') return;
    await withAdmin(ctx, 'comparing privileges', async (db) => {
      // The credential being replaced: the current version's login, the imported one included.
      const replaced = await replacedAccount(ctx, db, c, creds.user);
      if (!replaced) return; // the very first version: nothing to compare with
      const theirs = await effectivePrivileges(db, replaced.user, replaced.host);
      const mine = await effectivePrivileges(db, creds.user, c.userHost);
      const missing = theirs.filter((g) => !mine.includes(g));
      const extra = mine.filter((g) => !theirs.includes(g));
      if (missing.length > 0 || extra.length > 0) {
        const diff = [
          ...missing.map((g) => `  missing (held by ${replaced.user}): ${g}`),
          ...extra.map((g) => `  extra (only ${creds.user}): ${g}`),
        ].join('\n');
        throw new RotorError(
          'ERR_ROTOR_DB_GRANTS_DIFFER',
          `${ctx.secret}/${ctx.environment}: ${creds.user} does not hold the same privileges as ${replaced.user}@${replaced.host}, the login it replaces; not promoted, the current credential is unchanged. Grant them to role ${c.role}:\n${diff}`,
          { details: { reference: `${replaced.user}@${replaced.host}`, missing, extra } },
        );
      }
    });
  },
  async retire(ctx, old) {
    const c = effective(ctx);
    const user = userOf(c, old);
    const creds = parseUrl(old.value);
    if (!user || !creds) return;
    if (c.strategy === 'dual-password') {
      await withAdmin(ctx, `discarding the old password of ${user}`, (db) =>
        db
          .query(`ALTER USER ${account(user, c.userHost)} DISCARD OLD PASSWORD`)
          .then(() => undefined),
      );
      return;
    }
    const original = !(users(c) as readonly string[]).includes(user);
    return withAdmin(ctx, `retiring ${user}`, async (db): Promise<RetireOutcome | undefined> => {
      const host = original ? await originalHost(db, c, user) : c.userHost;
      if (host === undefined) return undefined;
      if (original) {
        if (c.keepOriginalLogin)
          return {
            kept: `user ${user}@'${host}' keeps its password and is not locked (keepOriginalLogin: true): a credential outside rotation`,
          };
        const [me] = await db.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
        if (String(me[0]?.u ?? '') === `${user}@${host}`)
          return {
            kept: `user ${user}@'${host}' is the admin Rotor connects as, which Rotor never locks: lock it yourself`,
          };
      }
      const created = await showCreateUser(db, user, host);
      if (created === undefined) return undefined;
      // A later rotation already gave this user a new password: the old credential is dead and
      // the user is (or is about to be) current again, so it must not be locked.
      if (!original && !created.includes(`'${nativePasswordHash(creds.password)}'`))
        return undefined;
      const sessions = await sessionList(db, user);
      const terminate =
        ctx.emergency || ctx.force || drainExpired(c, ctx.graceEndedAt, ctx.clock.now());
      if (sessions.length > 0 && !terminate) {
        const drain = drainOf(c);
        const list = publicSessions(sessions);
        throw new RotorError(
          'ERR_ROTOR_RETIRE_POSTPONED',
          `${ctx.secret}/${ctx.environment}: ${user} still has ${sessions.length} live session(s): ${describeSessions(list)}; retire postponed so the app is not cut off (WARNING now, CRITICAL ${drain.within} after the grace window (drain.within)${drain.then === 'terminate' ? ', when they are terminated (drain.then: terminate)' : ''}; retry later, retire with --force, or rotate with --emergency)`,
          {
            details: {
              user,
              sessions: sessions.length,
              sessionList: list,
              drainWithinMs: drain.withinMs,
              drainThen: drain.then,
            },
          },
        );
      }
      // Lock first so killed sessions cannot log in again. Rotor's own users also get a random
      // password (they stay idle until reused); an imported one keeps its grants and hash for audit.
      const idle = original
        ? ''
        : ` IDENTIFIED BY PASSWORD ${mysql.escape(nativePasswordHash(generateSecret(32, 'base64url')))}`;
      await db.query(`ALTER USER ${account(user, host)}${idle} ACCOUNT LOCK`);
      for (const s of sessions) {
        await db.query(`KILL CONNECTION ${Number(s.id)}`).catch((error: DbError) => {
          if (error.errno !== 1094) throw error; // already gone
        });
      }
      if (sessions.length && !ctx.emergency && !ctx.force) {
        return {
          terminated: `drain.then terminate: ended ${sessions.length} session(s) still on ${user} ${drainOf(c).within} after the grace window: ${describeSessions(publicSessions(sessions))}`,
        };
      }
      return undefined;
    });
  },
  async prove(ctx, old) {
    const c = effective(ctx);
    const creds = parseUrl(old.value);
    if (!creds)
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the stored value is not a mysql:// URL`,
      );
    // Over TLS when the account requires it, so a refusal means the credential, not the transport.
    const properties = await withAdmin(ctx, 'reading the retired account', async (db) => {
      const host = (users(c) as readonly string[]).includes(creds.user)
        ? c.userHost
        : await originalHost(db, c, creds.user);
      return host === undefined ? undefined : propertiesOf(db, creds.user, host);
    });
    let app: mysql.Connection | undefined;
    try {
      app = await mysql.createConnection(loginOptions(c, old.value, properties));
      await app.query('SELECT 1');
      return {
        refused: false,
        detail: `the server accepted a login as ${creds.user} with the retired password`,
      };
    } catch (error) {
      const e = error as DbError;
      // 1045 access denied (wrong password), 4151 account locked (MariaDB), 3118 (MySQL).
      if (e?.errno === 1045 || e?.errno === 4151 || e?.errno === 3118)
        return {
          refused: true,
          detail: `server refused ${creds.user}: errno ${e.errno}, ${e.message ?? ''}`.trim(),
        };
      throw dbError(ctx, `logging in as ${creds.user} with the retired password`, error);
    } finally {
      await app?.end().catch(() => {});
    }
  },
  async emergencyActions(ctx) {
    return [
      `the previous ${ctx.config.strategy === 'alternate' ? 'MySQL user' : 'password'} was locked and its live connections killed`,
    ];
  },
  async runSql(ctx, material, statement, timeoutMs) {
    const creds = storedCredentials(ctx, material.value);
    let app: mysql.Connection | undefined;
    try {
      const c = effective(ctx);
      app = await mysql.createConnection({
        ...loginOptions(c, material.value, undefined),
        connectTimeout: Math.min(c.connectTimeoutMs, timeoutMs),
      });
      const [result] = await app.query({ sql: statement, timeout: timeoutMs });
      return Array.isArray(result) ? result.length : 0;
    } catch (error) {
      throw dbError(ctx, `running the check as ${creds.user}`, error);
    } finally {
      await app?.end().catch(() => {});
    }
  },
});
