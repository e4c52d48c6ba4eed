// `rotor db adopt` for `kind: mysql`: gives the rotator's role every privilege the app's user
// holds, without changing that user (docs/mysql.md).
import mysql from 'mysql2/promise';
import { RotorError } from '../core/errors.js';
import type { RotatorContext, RotatorDescriptor } from '../core/rotator/rotator-contract.js';
import { mysqlRotator } from './mysql.js';
import { withConnection } from './mysql-connection.js';
import type { AdoptPlan } from './postgres/adopt.js';

export type MysqlConfig = typeof mysqlRotator extends RotatorDescriptor<infer C> ? C : never;
type Ctx = RotatorContext<MysqlConfig>;

export interface MysqlAdoptResult {
  plan: AdoptPlan;
  /** SHOW GRANTS lines of the old user proven held by the role afterwards. */
  verified: number;
}

const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;
const account = (user: string, host: string) => `${quoteIdent(user)}@${quoteIdent(host)}`;

/** The config for this environment: the top level with its override applied (as the rotator reads it). */
function effective(ctx: Ctx): MysqlConfig {
  const o = ctx.config.environments?.[ctx.environment] ?? {};
  return {
    ...ctx.config,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  };
}

function fail(ctx: Ctx, what: string, error: unknown): RotorError {
  if (error instanceof RotorError) return error;
  const e = error as { code?: string; errno?: number; message?: string };
  const head = `${ctx.secret}/${ctx.environment}: ${what}`;
  if (
    ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'EAI_AGAIN'].includes(
      e?.code ?? '',
    )
  ) {
    return new RotorError(
      'ERR_ROTOR_DB_UNREACHABLE',
      `${head}: the MySQL/MariaDB server is not reachable (${e.code}); nothing was changed`,
      { cause: error },
    );
  }
  if (e?.errno === 1045)
    return new RotorError(
      'ERR_ROTOR_DB_AUTH_FAILED',
      `${head}: the server refused the admin login`,
      { cause: error },
    );
  if (
    e?.errno === 1227 ||
    e?.errno === 1044 ||
    e?.errno === 1142 ||
    e?.errno === 1143 ||
    e?.errno === 1410
  ) {
    return new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${head}: permission denied (${e.message ?? ''})`,
      { cause: error },
    );
  }
  return new RotorError('ERR_ROTOR_DB_QUERY_FAILED', `${head}: ${e?.message ?? String(error)}`, {
    cause: error,
  });
}

/** An admin connection from the URL rotor.yaml names by reference; closed after `run`. */
async function withAdmin<T>(ctx: Ctx, run: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const ref = effective(ctx).admin;
  const url = 'env' in ref ? ctx.env?.[ref.env] : await ctx.readSecret?.(ref.secret);
  if (!url) {
    throw new RotorError(
      'ERR_ROTOR_DB_ADMIN_MISSING',
      `${ctx.secret}/${ctx.environment}: the admin connection URL is not set (rotor.yaml names ${'env' in ref ? `environment variable ${ref.env}` : `secret ${ref.secret}`})`,
    );
  }
  return withConnection(
    { url, connectTimeoutMs: ctx.config.connectTimeoutMs },
    {
      connect: (error) => fail(ctx, 'the admin connection', error),
      run: (error) => fail(ctx, 'an admin statement', error),
    },
    run,
  );
}

async function rows(
  db: mysql.Connection,
  text: string,
  values: unknown[] = [],
): Promise<mysql.RowDataPacket[]> {
  const [result] = await db.query<mysql.RowDataPacket[]>(text, values);
  return result;
}

async function showGrants(db: mysql.Connection, grantee: string): Promise<string[]> {
  return (await rows(db, `SHOW GRANTS FOR ${grantee}`)).map((r) => String(Object.values(r)[0]));
}

/**
 * One SHOW GRANTS line of the old user as the same grant to the role: the grantee replaced, the
 * password hash, TLS and resource limits dropped (they belong to the account). Undefined for
 * lines with nothing to pass on (`USAGE ON *.*`, `PROXY`).
 */
function forRole(line: string, grantee: string, role: string): string | undefined {
  const at = line.indexOf(` TO ${grantee}`);
  if (at < 0 || /^GRANT (USAGE ON \*\.\*|PROXY ON)/.test(line)) return undefined;
  const option = / WITH (.* )?GRANT OPTION/.test(line.slice(at)) ? ' WITH GRANT OPTION' : '';
  return `${line.slice(0, at)} TO ${quoteIdent(role)}${option}`;
}

/** Parses `--from-user app` or `app@host`. */
function splitAccount(value: string): { user: string; host?: string } {
  const at = value.lastIndexOf('@');
  return at > 0 ? { user: value.slice(0, at), host: value.slice(at + 1) } : { user: value };
}

async function inspect(
  ctx: Ctx,
  db: mysql.Connection,
  oldUser: string,
): Promise<AdoptPlan & { created: boolean; expected: string[] }> {
  const c = effective(ctx);
  const role = c.role;
  const plan = {
    secret: ctx.secret,
    environment: ctx.environment,
    database: c.database,
    oldUser,
    group: role,
    owned: [] as string[],
    statements: [] as string[],
    notes: [] as string[],
    later: [] as string[],
  };
  const adminGrants = (await rows(db, 'SHOW GRANTS')).map((r) => String(Object.values(r)[0]));
  if (!adminGrants.some((g) => /^GRANT (ALL PRIVILEGES|.*\bCREATE USER\b.*) ON \*\.\* /.test(g))) {
    const me = String((await rows(db, 'SELECT CURRENT_USER() AS u'))[0]?.u ?? '?');
    throw new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${ctx.secret}/${ctx.environment}: the admin user ${me} lacks CREATE USER, which adopt needs to create the role; nothing was changed`,
      { details: { admin: me } },
    );
  }
  const wanted = splitAccount(oldUser);
  // is_role is compared here, not in SQL: it is a computed column whose collation may differ from the connection's.
  const accounts = (
    await rows(db, 'SELECT User AS user, Host AS host, is_role FROM mysql.user WHERE User = ?', [
      wanted.user,
    ])
  ).filter((a) => a.is_role !== 'Y' && (wanted.host === undefined || a.host === wanted.host));
  if (accounts.length === 0) {
    throw new RotorError(
      'ERR_ROTOR_DB_ROLE_NOT_FOUND',
      `${ctx.secret}/${ctx.environment}: the application's user "${oldUser}" does not exist on ${c.host}:${c.port}; nothing was changed`,
      { details: { user: oldUser } },
    );
  }
  if (accounts.length > 1) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      `${ctx.secret}/${ctx.environment}: "${wanted.user}" has ${accounts.length} accounts (${accounts.map((a) => `${a.user}@${a.host}`).join(', ')}): pass --from-user 'user@host'`,
    );
  }
  const old = { user: String(accounts[0]!.user), host: String(accounts[0]!.host) };
  plan.oldUser = `${old.user}@${old.host}`;
  if (old.user === role)
    throw conflict(
      ctx,
      `config.role "${role}" is the application's own user: the role must be a new name (for example role: ${role}_rw)`,
      role,
    );
  const existing = await rows(db, `SELECT is_role FROM mysql.user WHERE User = ?`, [role]);
  if (existing.some((r) => r.is_role !== 'Y'))
    throw conflict(ctx, `config.role "${role}" is an existing user, not a role`, role);
  const created = existing.length === 0;
  for (const user of [`${c.baseUser}_a`, `${c.baseUser}_b`]) {
    if (user === old.user)
      throw conflict(
        ctx,
        `the application's user "${user}" has the name of a login user Rotor alternates (config.baseUser ${c.baseUser}); choose another baseUser`,
        user,
      );
    const there = await rows(db, 'SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [
      user,
      c.userHost,
    ]);
    if (
      there.length &&
      !created &&
      !(await showGrants(db, account(user, c.userHost))).some(
        (g) => g === `GRANT ${quoteIdent(role)} TO ${account(user, c.userHost)}`,
      )
    ) {
      throw conflict(
        ctx,
        `the user ${user}@${c.userHost} Rotor would use already exists without role "${role}"`,
        user,
      );
    }
  }
  const grantee = account(old.user, old.host);
  const expected = (await showGrants(db, grantee))
    .map((line) => forRole(line, grantee, role))
    .filter((g): g is string => g !== undefined)
    .sort();
  const held = created ? [] : await showGrants(db, quoteIdent(role));
  if (created) plan.statements.push(`CREATE ROLE ${quoteIdent(role)}`);
  plan.statements.push(...expected.filter((g) => !held.includes(g)));
  const definers: string[] = [];
  for (const [kind, table, schema, name] of [
    ['view', 'VIEWS', 'TABLE_SCHEMA', 'TABLE_NAME'],
    ['routine', 'ROUTINES', 'ROUTINE_SCHEMA', 'ROUTINE_NAME'],
    ['trigger', 'TRIGGERS', 'TRIGGER_SCHEMA', 'TRIGGER_NAME'],
    ['event', 'EVENTS', 'EVENT_SCHEMA', 'EVENT_NAME'],
  ] as const) {
    const found = await rows(
      db,
      `SELECT ${name} AS o FROM information_schema.${table} WHERE ${schema} = ? AND DEFINER = ?`,
      [c.database, `${old.user}@${old.host}`],
    );
    definers.push(...found.map((r) => `${kind} ${String(r.o)}`));
  }
  if (definers.length) {
    plan.notes.push(
      `${definers.join(', ')} in ${c.database} run as DEFINER ${old.user}@${old.host}: recreate them with another definer before dropping that user`,
    );
  }
  const result: AdoptPlan & { created: boolean; expected: string[] } = {
    ...plan,
    created,
    expected,
  };
  if (plan.statements.length === 0)
    result.alreadyAdopted = `role "${role}" holds every privilege of ${old.user}@${old.host}`;
  return result;
}

function conflict(ctx: Ctx, message: string, name: string): RotorError {
  return new RotorError(
    'ERR_ROTOR_DB_ROLE_CONFLICT',
    `${ctx.secret}/${ctx.environment}: ${message}; nothing was changed`,
    { details: { role: name } },
  );
}

/** What adopt would run for `ctx.environment`; changes nothing. */
export async function planMysqlAdoption(ctx: Ctx, oldUser: string): Promise<AdoptPlan> {
  const {
    created: _created,
    expected: _expected,
    ...plan
  } = await withAdmin(ctx, (db) => inspect(ctx, db, oldUser));
  return plan;
}

/**
 * Runs `plan` (re-planned first; refused if the server changed since it was shown), then checks
 * the role holds every grant of the old user. On a failure the role is dropped again if this run
 * created it; MariaDB cannot roll back GRANTs on a role that existed before.
 */
export async function applyMysqlAdoption(ctx: Ctx, plan: AdoptPlan): Promise<MysqlAdoptResult> {
  return withAdmin(ctx, async (db) => {
    const now = await inspect(ctx, db, plan.oldUser);
    if (now.statements.join('\n') !== plan.statements.join('\n')) {
      throw new RotorError(
        'ERR_ROTOR_DB_QUERY_FAILED',
        `${ctx.secret}/${ctx.environment}: the server changed since the plan was printed; run \`rotor db adopt\` again to see the new plan; nothing was changed`,
      );
    }
    const ran: string[] = [];
    try {
      for (const statement of now.statements) {
        await db.query(statement);
        ran.push(statement);
      }
      const held = await showGrants(db, quoteIdent(now.group));
      const missing = now.expected.filter((g) => !held.includes(g));
      if (missing.length) {
        throw new RotorError(
          'ERR_ROTOR_DB_GRANTS_DIFFER',
          `${ctx.secret}/${ctx.environment}: after adopt the role "${now.group}" does not hold: ${missing.join('; ')}`,
          { details: { missing } },
        );
      }
      return { plan: now, verified: now.expected.length };
    } catch (error) {
      const e = fail(ctx, 'adopt', error);
      if (now.created && ran.length) {
        await db.query(`DROP ROLE IF EXISTS ${quoteIdent(now.group)}`).catch(() => {});
        throw new RotorError(
          e.code,
          `${e.message}; the role was dropped again, nothing was changed`,
          { cause: error },
        );
      }
      throw ran.length
        ? new RotorError(
            e.code,
            `${e.message}; MariaDB cannot roll back GRANTs: these ran: ${ran.join('; ')}`,
            { cause: error },
          )
        : e;
    }
  });
}
