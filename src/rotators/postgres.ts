// `postgres`: a PostgreSQL DATABASE_URL rotated through login roles of one group role that owns
// the objects (`alternate` or `clone`); design and guarantees: docs/postgres.md.
import pg from 'pg';
import { generateSecret } from '../core/crypto/generate.js';
import { RotorError } from '../core/errors.js';
import { parseSchemeUrl } from '../core/scheme-url.js';
import { defineRotator, type RotatorContext } from '../core/rotator/rotator-contract.js';
import { composeUrl, resolveTarget, withAdmin, withLogin } from './postgres/pg-connection.js';
import {
  POSTGRES_SUMMARY,
  postgresConfigSchema,
  type PostgresConfig,
} from './postgres/postgres-config.js';
import { liveSessions, proveLoginRefused, revokeLogin } from './postgres/login-lifecycle.js';
import { comparableSnapshots, privilegeDifference } from './postgres/privilege-snapshot.js';
import { copyRoleProperties } from './postgres/role-properties.js';
import { describeSessions, publicSessions } from '../core/rotation/retire-proof.js';
import { scramVerifier } from './postgres/scram-verifier.js';

const { escapeIdentifier, escapeLiteral } = pg.Client.prototype;
const id = (name: string) => escapeIdentifier(name);
const lit = (value: string) => escapeLiteral(value);

/** Margin on top of cadence + grace before the `VALID UNTIL` safety net expires a password. */
const VALID_UNTIL_MARGIN_MS = 7 * 86_400_000;
/** Without cadence information (tests of the rotator alone): one year. */
const DEFAULT_LIFETIME_MS = 365 * 86_400_000;

type Ctx = RotatorContext<PostgresConfig>;

function marker(ctx: Ctx, versionId: string): string {
  return `${managedPrefix(ctx)}${versionId}`;
}

/** The comment Rotor puts on the login roles it manages for this secret and environment. */
function managedPrefix(ctx: Ctx): string {
  return `rotor: ${ctx.secret}/${ctx.environment} version `;
}

/**
 * SQL: `r` is a login role Rotor manages for this secret ($2 = managedPrefix), not another member
 * of the group such as the admin (a member through WITH ADMIN OPTION) or a person's own login.
 */
const MANAGED = `starts_with(coalesce(shobj_description(r.oid, 'pg_authid'), ''), $2)`;

/** Checks the admin can manage roles and the group role exists; names what is missing. */
async function assertAdminReady(ctx: Ctx, client: pg.Client, base: string): Promise<void> {
  const { rows } = await client.query<{
    rolname: string;
    rolsuper: boolean;
    rolcreaterole: boolean;
  }>('SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user');
  const me = rows[0];
  if (!me?.rolsuper && !me?.rolcreaterole) {
    throw new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${ctx.secret}/${ctx.environment}: the admin role "${me?.rolname ?? '?'}" lacks CREATEROLE, which Rotor needs to create login roles and set their passwords (ALTER ROLE ${me?.rolname ?? 'admin'} CREATEROLE); nothing was changed`,
    );
  }
  const group = await client.query<{ rolcanlogin: boolean }>(
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [base],
  );
  if (group.rowCount === 0) {
    throw new RotorError(
      'ERR_ROTOR_ROTATOR_CONFIG',
      `${ctx.secret}/${ctx.environment}: the group role "${base}" (config.baseRole) does not exist: create it (CREATE ROLE ${base} NOLOGIN) and grant it the application's privileges first`,
    );
  }
}

/** alternate: the login role not in use, i.e. missing, disabled, or with the older password. */
async function idleRole(client: pg.Client, base: string): Promise<string> {
  const names = [`${base}_a`, `${base}_b`];
  const { rows } = await client.query<{
    rolname: string;
    rolcanlogin: boolean;
    expires: string | null;
  }>(
    `SELECT rolname, rolcanlogin, extract(epoch FROM rolvaliduntil)::text AS expires FROM pg_roles WHERE rolname = ANY($1)`,
    [names],
  );
  const byName = new Map(rows.map((r) => [r.rolname, r]));
  const missing = names.find((n) => !byName.has(n));
  if (missing) return missing;
  const disabled = names.find((n) => !byName.get(n)!.rolcanlogin);
  if (disabled) return disabled;
  // Both can log in: the one whose password expires first was set earlier; NULL means never.
  const expiry = (n: string) => {
    const e = byName.get(n)!.expires;
    return e === null ? Number.POSITIVE_INFINITY : Number(e);
  };
  return expiry(names[0]!) <= expiry(names[1]!) ? names[0]! : names[1]!;
}

/**
 * A rotation must not cut off the previous credential while the app still uses it inside its
 * grace window: with alternate the idle role would get a new password, with clone promotion
 * would retire it early. It waits until the sessions are gone (or the previous version is
 * retired), unless it is an emergency.
 */
async function assertIdle(
  ctx: Ctx,
  client: pg.Client,
  roles: string[],
  why: string,
): Promise<void> {
  if (ctx.emergency || roles.length === 0) return;
  const sessions = await liveSessions(client, roles);
  if (sessions.length) {
    const role = sessions[0]!.role;
    const list = publicSessions(sessions);
    throw new RotorError(
      'ERR_ROTOR_DB_ROLE_IN_USE',
      `${ctx.secret}/${ctx.environment}: login role "${role}", ${why}, still has ${sessions.length} live session(s) (the previous credential, inside its grace window or its retire postponed): ${describeSessions(list)}; nothing was changed. Rotate again once they are gone or after \`rotor retire\`, or use --emergency`,
      { details: { role, sessions: sessions.length, sessionList: list } },
    );
  }
}

/**
 * The login whose privileges and properties a new one must match: the one the current version
 * records (a team's imported login included), so nothing the app uses today is lost. Without a
 * current version (or if its role is gone), the group role.
 */
async function referenceRole(ctx: Ctx, client: pg.ClientBase, except: string): Promise<string> {
  const value = await ctx.readSecret?.(ctx.secret);
  let user: string | undefined;
  try {
    user = value ? decodeURIComponent(new URL(value).username) : undefined;
  } catch {
    user = undefined;
  }
  if (!user || user === except) return ctx.config.baseRole;
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
  return rowCount ? user : ctx.config.baseRole;
}

function roleOf(material: { meta: Record<string, string | number | boolean> }): string {
  const role = material.meta.role;
  if (typeof role !== 'string')
    throw new RotorError(
      'ERR_ROTOR_ROTATOR_CONFIG',
      'postgres version without a role name in its metadata',
    );
  return role;
}

export const postgresRotator = defineRotator({
  kind: 'postgres',
  summary: POSTGRES_SUMMARY,
  source: 'generated',
  configSchema: postgresConfigSchema,
  async create(ctx) {
    const t = resolveTarget(ctx);
    const base = ctx.config.baseRole;
    const role = await withAdmin(ctx, t, async (client) => {
      await assertAdminReady(ctx, client, base);
      if (ctx.config.strategy === 'alternate') {
        const idle = await idleRole(client, base);
        await assertIdle(ctx, client, [idle], 'the one this rotation would reuse');
        return idle;
      }
      // clone: promotion supersedes the login roles older than the current one.
      const older = await client.query<{ rolname: string }>(
        `SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid
          WHERE g.rolname = $1 AND r.rolcanlogin AND ${MANAGED} ORDER BY r.rolvaliduntil DESC NULLS FIRST, r.rolname OFFSET 1`,
        [base, managedPrefix(ctx)],
      );
      await assertIdle(
        ctx,
        client,
        older.rows.map((r) => r.rolname),
        'which this rotation would retire early',
      );
      return `${base}_${ctx.versionId.replace(/-/g, '').slice(0, 12)}`;
    });
    const password = generateSecret(32, 'base64url');
    return {
      value: composeUrl(t, role, password),
      meta: {
        role,
        strategy: ctx.config.strategy,
        host: t.host,
        port: t.port,
        database: t.database,
      },
    };
  },
  async apply(ctx, material) {
    const t = resolveTarget(ctx);
    const role = roleOf(material);
    const base = ctx.config.baseRole;
    const password = decodeURIComponent(new URL(material.value).password);
    const lifetime = (ctx.lifetimeMs ?? DEFAULT_LIFETIME_MS) + VALID_UNTIL_MARGIN_MS;
    await withAdmin(ctx, t, async (client) => {
      // The server's clock, not Rotor's: the safety net is enforced by the server. Microseconds,
      // because the newest expiry also tells which login role is current (idleRole, referenceRole).
      const until = await client.query<{ v: string }>(
        `SELECT to_char((now() + make_interval(secs => $1::float8)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS v`,
        [lifetime / 1000],
      );
      const options = `LOGIN INHERIT PASSWORD ${lit(scramVerifier(password))} VALID UNTIL ${lit(until.rows[0]!.v)}`;
      await client.query('BEGIN');
      try {
        const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        await client.query(
          exists.rowCount
            ? `ALTER ROLE ${id(role)} WITH ${options}`
            : `CREATE ROLE ${id(role)} WITH ${options}`,
        );
        await client.query(`GRANT ${id(base)} TO ${id(role)}`);
        const reference = await referenceRole(ctx, client, role);
        if (reference !== base) await copyRoleProperties(ctx, client, reference, role);
        await client.query(`ALTER ROLE ${id(role)} SET role TO ${lit(base)}`);
        await client.query(
          `COMMENT ON ROLE ${id(role)} IS ${lit(marker(ctx, material.versionId))}`,
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  },
  async verify(ctx, material) {
    const t = resolveTarget(ctx);
    const role = roleOf(material);
    const probe = await withLogin(ctx, material.value, async (client) => {
      const { rows } = await client.query<{ login: string; acting: string; connect: boolean }>(
        `SELECT session_user AS login, current_user AS acting, has_database_privilege(current_database(), 'CONNECT') AS connect FROM (SELECT 1) one`,
      );
      return rows[0]!;
    });
    if (probe.login !== role || probe.acting !== ctx.config.baseRole || !probe.connect) {
      throw new RotorError(
        'ERR_ROTOR_VERIFY_FAILED',
        `${ctx.secret}/${ctx.environment}: logged in as "${probe.login}" acting as "${probe.acting}", expected "${role}" acting as "${ctx.config.baseRole}" with CONNECT`,
      );
    }
    await withAdmin(ctx, t, async (client) => {
      const reference = await referenceRole(ctx, client, role);
      // One pass over both roles: a database or table created or dropped meanwhile is no difference.
      const [before, after] = await comparableSnapshots(
        client,
        reference,
        role,
        ctx.config.baseRole,
      );
      const diff = privilegeDifference(before, after);
      if (diff.missing.length || diff.extra.length) {
        const list = (xs: string[]) =>
          xs.slice(0, 20).join('; ') + (xs.length > 20 ? `; … ${xs.length - 20} more` : '');
        throw new RotorError(
          'ERR_ROTOR_DB_GRANTS_DIFFER',
          `${ctx.secret}/${ctx.environment}: login role "${role}" does not hold the same privileges as "${reference}", so it was not promoted.` +
            (diff.missing.length ? ` Missing: ${list(diff.missing)}.` : '') +
            (diff.extra.length ? ` Extra: ${list(diff.extra)}.` : '') +
            ` Grant privileges to the group role "${ctx.config.baseRole}", not to a login role.`,
          { details: { role, reference, missing: diff.missing, extra: diff.extra } },
        );
      }
    });
  },
  async retire(ctx, old) {
    return revokeLogin(ctx, resolveTarget(ctx), old, {
      role: roleOf(old),
      marker: marker(ctx, old.versionId),
    });
  },
  async prove(ctx, old) {
    return proveLoginRefused(ctx, old.value);
  },
  async emergencyActions(ctx) {
    return [
      `the previous login role of ${ctx.secret} was disabled (NOLOGIN, password removed) and its sessions terminated at once`,
    ];
  },
  async validateImport(ctx, value) {
    // A team's existing DATABASE_URL: the login it names becomes the version's role, so the next
    // rotation knows which credential it supersedes (and, for clone, which role it retires).
    const url = parseSchemeUrl(value, ['postgres:', 'postgresql:'], {
      notUrl: () =>
        new RotorError(
          'ERR_ROTOR_VALUE_INVALID',
          `${ctx.secret}: not a URL; expected postgres://user:password@host:port/database`,
        ),
      wrongScheme: (protocol) =>
        new RotorError(
          'ERR_ROTOR_VALUE_INVALID',
          `${ctx.secret}: expected a postgres:// URL, got ${protocol}//…`,
        ),
    });
    const role = decodeURIComponent(url.username);
    if (!role || !url.password)
      throw new RotorError(
        'ERR_ROTOR_VALUE_INVALID',
        `${ctx.secret}: the URL needs a user and a password`,
      );
    const t = resolveTarget(ctx);
    return {
      value,
      meta: {
        role,
        strategy: ctx.config.strategy,
        host: url.hostname || t.host,
        port: Number(url.port || t.port),
        database: decodeURIComponent(url.pathname.slice(1)) || t.database,
        imported: true,
      },
    };
  },
  async runSql(ctx, material, statement, timeoutMs) {
    const limited = { ...ctx, config: { ...ctx.config, statementTimeoutMs: timeoutMs } };
    return withLogin(
      limited,
      material.value,
      async (client) => (await client.query(statement)).rowCount ?? 0,
    );
  },
});
