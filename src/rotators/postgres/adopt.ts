// `rotor db adopt` for `kind: postgres`: moves one owning login user to the group-role layout in
// ONE transaction, proven by privilege snapshots before COMMIT (docs/postgres.md).
import type pg from 'pg';
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { resolveTarget, withAdmin, type Target } from './pg-connection.js';
import type { PostgresConfig } from './postgres-config.js';
import { privilegeSnapshot, privilegeSnapshots } from './privilege-snapshot.js';

export interface AdoptPlan {
  secret: string;
  environment: string;
  database: string;
  /** The application's existing login role. */
  oldUser: string;
  /** `config.baseRole`: the group role. */
  group: string;
  /** What the old user owns in this database (and shared objects), as PostgreSQL describes it. */
  owned: string[];
  /** The SQL to run, in order, in one transaction. Never holds a password. Empty: nothing to do. */
  statements: string[];
  /** What adopt leaves to the operator, one sentence each. */
  notes: string[];
  /** SQL left for the operator to run later: always empty since adopt moves default privileges itself (kept for the JSON shape). */
  later: string[];
  /** Why the plan is empty, when it is. */
  alreadyAdopted?: string;
}

export interface PostgresAdoptResult {
  plan: AdoptPlan;
  /** Privilege lines of the old user proven effective for the group after the change. */
  verified: number;
}

/** Lock waits are capped so adopt never queues the app's queries behind it for long. */
const LOCK_TIMEOUT = '5s';

type Ctx = RotatorContext<PostgresConfig>;

interface RoleRow {
  oid: string;
  q: string;
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolbypassrls: boolean;
  rolreplication: boolean;
  comment: string | null;
}

async function role(client: pg.ClientBase, name: string): Promise<RoleRow | undefined> {
  const { rows } = await client.query<RoleRow>(
    `SELECT oid::text AS oid, quote_ident(rolname) AS q, rolcanlogin, rolsuper, rolinherit, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication,
            shobj_description(oid, 'pg_authid') AS comment
       FROM pg_roles WHERE rolname = $1`,
    [name],
  );
  return rows[0];
}

async function isMember(client: pg.ClientBase, member: string, group: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM pg_auth_members WHERE member = $1::oid AND roleid = $2::oid',
    [member, group],
  );
  return Boolean(rowCount);
}

/** Quoted by the server, so reserved words and odd names come out exactly as it wants them. */
async function quote(
  client: pg.ClientBase,
  fn: 'quote_ident' | 'quote_literal',
  value: string,
): Promise<string> {
  return (await client.query<{ v: string }>(`SELECT ${fn}($1::text) AS v`, [value])).rows[0]!.v;
}

async function column<T = string>(
  client: pg.ClientBase,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const { rows } = await client.query<{ v: T }>(text, values);
  return rows.map((r) => r.v);
}

const GRANT_OPTION = `CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END`;
/** The group does not already hold this exact privilege (with the grant option, if needed). */
const NOT_HELD = (acl: string) =>
  `NOT EXISTS (SELECT 1 FROM aclexplode(${acl}) b WHERE b.grantee = $2::oid AND b.privilege_type = a.privilege_type AND (b.is_grantable OR NOT a.is_grantable))`;
const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/**
 * GRANT statements copying the old user's own privileges on objects it does not own (objects it
 * owns move to the group with REASSIGN OWNED, their ACLs with them). $1 old, $2 group (NULL when
 * it does not exist yet), $3 the group's quoted name.
 */
const GRANT_QUERIES: readonly string[] = [
  `SELECT format('GRANT %s ON DATABASE %s TO %s%s', a.privilege_type, quote_ident(d.datname), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a
    WHERE a.grantee = $1::oid AND d.datdba <> $1::oid AND d.datdba IS DISTINCT FROM $2::oid AND ${NOT_HELD('d.datacl')} ORDER BY d.datname, a.privilege_type`,
  `SELECT format('GRANT %s ON SCHEMA %s TO %s%s', a.privilege_type, quote_ident(n.nspname), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
    WHERE ${USER_SCHEMA} AND a.grantee = $1::oid AND n.nspowner <> $1::oid AND n.nspowner IS DISTINCT FROM $2::oid AND ${NOT_HELD('n.nspacl')} ORDER BY n.nspname, a.privilege_type`,
  `SELECT format('GRANT %s ON %s %s.%s TO %s%s', a.privilege_type, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(n.nspname), quote_ident(c.relname), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(c.relacl) a
    WHERE ${USER_SCHEMA} AND c.relkind IN ('r','v','m','f','p','S') AND a.grantee = $1::oid AND c.relowner <> $1::oid AND c.relowner IS DISTINCT FROM $2::oid AND ${NOT_HELD('c.relacl')}
    ORDER BY n.nspname, c.relname, a.privilege_type`,
  `SELECT format('GRANT %s (%s) ON TABLE %s.%s TO %s%s', a.privilege_type, quote_ident(att.attname), quote_ident(n.nspname), quote_ident(c.relname), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL aclexplode(att.attacl) a
    WHERE ${USER_SCHEMA} AND att.attnum > 0 AND NOT att.attisdropped AND a.grantee = $1::oid AND c.relowner <> $1::oid AND c.relowner IS DISTINCT FROM $2::oid AND ${NOT_HELD('att.attacl')}
    ORDER BY n.nspname, c.relname, att.attnum, a.privilege_type`,
  `SELECT format('GRANT %s ON %s %s.%s(%s) TO %s%s', a.privilege_type, CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, quote_ident(n.nspname), quote_ident(f.proname),
                 pg_get_function_identity_arguments(f.oid), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace CROSS JOIN LATERAL aclexplode(f.proacl) a
    WHERE ${USER_SCHEMA} AND a.grantee = $1::oid AND f.proowner <> $1::oid AND f.proowner IS DISTINCT FROM $2::oid AND ${NOT_HELD('f.proacl')}
    ORDER BY n.nspname, f.proname, pg_get_function_identity_arguments(f.oid), a.privilege_type`,
  `SELECT format('GRANT %s ON TYPE %s.%s TO %s%s', a.privilege_type, quote_ident(n.nspname), quote_ident(t.typname), $3::text, ${GRANT_OPTION}) AS v
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace CROSS JOIN LATERAL aclexplode(t.typacl) a
    WHERE ${USER_SCHEMA} AND a.grantee = $1::oid AND t.typowner <> $1::oid AND t.typowner IS DISTINCT FROM $2::oid AND ${NOT_HELD('t.typacl')}
    ORDER BY n.nspname, t.typname, a.privilege_type`,
];

/**
 * Default privileges that involve the old user: its own (for objects it creates) and those others
 * set up for it. Objects created after a rotation are created by the group (Rotor's logins `SET
 * role` to it), so adopt gives the group the same defaults, in the same transaction, and the
 * rotator's comparison counts a login's group defaults as its own. The old user keeps its own
 * (its sessions create objects as itself until its version is retired).
 * $1 old, $2 the group's quoted name, $3 the group's oid (NULL before it exists): already held
 * equivalents are left out, so a second adopt has nothing to do.
 */
const DEFAULTS_QUERY = `
  SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %s%s GRANT %s ON %s TO %s%s',
                CASE WHEN d.defaclrole = $1::oid THEN $2::text ELSE quote_ident(pg_get_userbyid(d.defaclrole)) END,
                coalesce(' IN SCHEMA ' || quote_ident(n.nspname), ''), a.privilege_type,
                CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
                CASE WHEN a.grantee = $1::oid THEN $2::text WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, ${GRANT_OPTION}) AS v
    FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a
   WHERE (d.defaclrole = $1::oid OR a.grantee = $1::oid) AND NOT (d.defaclrole = $1::oid AND a.grantee = $1::oid)
     AND NOT EXISTS (
       SELECT 1 FROM pg_default_acl e CROSS JOIN LATERAL aclexplode(e.defaclacl) b
        WHERE e.defaclrole = CASE WHEN d.defaclrole = $1::oid THEN $3::oid ELSE d.defaclrole END
          AND e.defaclnamespace = d.defaclnamespace AND e.defaclobjtype = d.defaclobjtype AND b.privilege_type = a.privilege_type
          AND b.grantee = CASE WHEN a.grantee = $1::oid THEN $3::oid ELSE a.grantee END AND (b.is_grantable OR NOT a.is_grantable))
   ORDER BY 1`;

function conflict(ctx: Ctx, message: string, details: Record<string, unknown>): RotorError {
  return new RotorError(
    'ERR_ROTOR_DB_ROLE_CONFLICT',
    `${ctx.secret}/${ctx.environment}: ${message}; nothing was changed`,
    { details },
  );
}

function privilegeMissing(ctx: Ctx, admin: string, message: string): RotorError {
  return new RotorError(
    'ERR_ROTOR_DB_PRIVILEGE_MISSING',
    `${ctx.secret}/${ctx.environment}: the admin role "${admin}" ${message}; nothing was changed`,
    { details: { admin } },
  );
}

/** Reads the catalog and returns what adopt would do; changes nothing. */
async function inspect(
  ctx: Ctx,
  client: pg.ClientBase,
  t: Target,
  oldUser: string,
): Promise<AdoptPlan> {
  const group = ctx.config.baseRole;
  const plan: AdoptPlan = {
    secret: ctx.secret,
    environment: ctx.environment,
    database: t.database,
    oldUser,
    group,
    owned: [],
    statements: [],
    notes: [],
    later: [],
  };
  const admin = (
    await client.query<{ name: string; q: string; rolsuper: boolean; rolcreaterole: boolean }>(
      'SELECT rolname AS name, quote_ident(rolname) AS q, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user',
    )
  ).rows[0]!;
  if (!admin.rolsuper && !admin.rolcreaterole) {
    throw privilegeMissing(
      ctx,
      admin.name,
      `lacks CREATEROLE, which adopt needs to create the group and login roles (ALTER ROLE ${admin.q} CREATEROLE, or use a superuser once)`,
    );
  }
  const old = await role(client, oldUser);
  if (!old) {
    throw new RotorError(
      'ERR_ROTOR_DB_ROLE_NOT_FOUND',
      `${ctx.secret}/${ctx.environment}: the application's login role "${oldUser}" does not exist in the server of database ${t.database}; nothing was changed`,
      {
        details: { role: oldUser },
      },
    );
  }
  if (oldUser === group) {
    throw conflict(
      ctx,
      `config.baseRole "${group}" is the application's own login role: the group role must be a new NOLOGIN role (for example baseRole: ${group}_owner)`,
      { role: group },
    );
  }
  if (old.rolsuper)
    throw conflict(
      ctx,
      `the application's login role "${oldUser}" is a superuser: its privileges cannot be handed to a group role; give the app an ordinary role first`,
      { role: oldUser },
    );
  const base = await role(client, group);
  if (base?.rolcanlogin) {
    throw conflict(
      ctx,
      `config.baseRole "${group}" is an existing LOGIN role; the group role must be NOLOGIN (choose another baseRole, or ALTER ROLE ${base.q} NOLOGIN if nobody logs in with it)`,
      { role: group },
    );
  }
  const logins = ctx.config.strategy === 'alternate' ? [`${group}_a`, `${group}_b`] : [];
  if (
    logins.includes(oldUser) ||
    (base && (await isMember(client, old.oid, base.oid)) && old.comment?.startsWith('rotor: '))
  ) {
    plan.alreadyAdopted = `"${oldUser}" is a login role Rotor manages in group "${group}"`;
    return plan;
  }
  const gq = base?.q ?? (await quote(client, 'quote_ident', group));
  const params = [old.oid, base?.oid ?? null, gq];

  const here = (
    await client.query<{ oid: string }>(
      'SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()',
    )
  ).rows[0]!.oid;
  // Default privileges are the old user's too, but REASSIGN OWNED leaves them: DEFAULTS_QUERY below.
  plan.owned = await column(
    client,
    `SELECT o.type || ' ' || o.identity AS v FROM pg_shdepend, LATERAL pg_identify_object(classid, objid, objsubid) o
      WHERE refclassid = 'pg_authid'::regclass AND refobjid = $1::oid AND deptype = 'o' AND dbid IN (0, $2::oid)
        AND classid <> 'pg_default_acl'::regclass ORDER BY 1`,
    [old.oid, here],
  );
  // Elsewhere: 'o' it owns objects there, 'a' it was granted privileges there.
  const elsewhere = (
    await client.query<{ datname: string; deptype: string }>(
      `SELECT DISTINCT d.datname, s.deptype FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1::oid AND s.deptype IN ('o', 'a') AND s.dbid NOT IN (0, $2::oid) ORDER BY 1`,
      [old.oid, here],
    )
  ).rows;

  if (!admin.rolsuper) {
    const usage = async (r: string) =>
      (
        await client.query<{ ok: boolean }>(
          `SELECT pg_has_role(current_user, $1::oid, 'USAGE') AS ok`,
          [r],
        )
      ).rows[0]!.ok;
    if (plan.owned.length > 0 && !(await usage(old.oid))) {
      throw privilegeMissing(
        ctx,
        admin.name,
        `is not a member of "${oldUser}", which REASSIGN OWNED needs (GRANT ${old.q} TO ${admin.q})`,
      );
    }
    if (base && !(await usage(base.oid))) {
      throw privilegeMissing(
        ctx,
        admin.name,
        `is not a member of the group role "${group}" (GRANT ${base.q} TO ${admin.q} WITH ADMIN OPTION)`,
      );
    }
  }

  const s = plan.statements;
  if (!base) {
    s.push(`CREATE ROLE ${gq} NOLOGIN`);
    // The rotator's admin grants the group to login roles and reassigns to it.
    if (!admin.rolsuper) s.push(`GRANT ${gq} TO ${admin.q} WITH ADMIN OPTION`);
  }
  // Roles the old user is a member of: their privileges are the old user's too.
  s.push(
    ...(await column(
      client,
      `SELECT format('GRANT %s TO %s', quote_ident(g.rolname), $3::text) AS v FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
        WHERE m.member = $1::oid AND g.oid IS DISTINCT FROM $2::oid
          AND NOT EXISTS (SELECT 1 FROM pg_auth_members x WHERE x.member = $2::oid AND x.roleid = m.roleid) ORDER BY g.rolname`,
      params,
    )),
  );
  for (const text of GRANT_QUERIES) s.push(...(await column(client, text, params)));
  if (plan.owned.length > 0) s.push(`REASSIGN OWNED BY ${old.q} TO ${gq}`);
  if (!base || !(await isMember(client, old.oid, base.oid))) s.push(`GRANT ${gq} TO ${old.q}`);
  const settings = logins.length ? await roleSettings(client, old.oid, plan.notes) : [];
  for (const name of logins) {
    const login = await role(client, name);
    if (!login) {
      // NOLOGIN and no password until a rotation sets one (as a SCRAM verifier); the role
      // setting makes what they create belong to the group, as the rotator's apply does.
      const q = await quote(client, 'quote_ident', name);
      s.push(`CREATE ROLE ${q} NOLOGIN INHERIT IN ROLE ${gq}`);
      s.push(`ALTER ROLE ${q} SET role TO ${await quote(client, 'quote_literal', group)}`);
      for (const setting of settings) s.push(`ALTER ROLE ${q}${setting}`);
    } else if (
      !base ||
      !(await isMember(client, login.oid, base.oid)) ||
      (login.rolcanlogin && !login.comment?.startsWith('rotor: '))
    ) {
      throw conflict(
        ctx,
        `the login role name "${name}" Rotor would use is taken by a role that is not one of Rotor's login roles in group "${group}"`,
        { role: name },
      );
    }
  }

  // Default privileges move in the same transaction: no SQL is left for a person to run later.
  s.push(...(await column(client, DEFAULTS_QUERY, [old.oid, gq, base?.oid ?? null])));

  if (plan.statements.length === 0)
    plan.alreadyAdopted = `"${oldUser}" owns nothing in ${t.database} and is a member of "${group}", which holds its privileges`;
  else s.unshift(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);

  const attributes = (['rolcreatedb', 'rolcreaterole', 'rolbypassrls', 'rolreplication'] as const)
    .filter((a) => old[a])
    .map((a) => a.slice(3).toUpperCase());
  if (attributes.length) {
    plan.notes.push(
      `"${oldUser}" has ${attributes.join(', ')}, which a group role cannot pass on: the login roles will not have it`,
    );
  }
  const owns = elsewhere.filter((e) => e.deptype === 'o').map((e) => e.datname);
  const granted = elsewhere.filter((e) => e.deptype === 'a').map((e) => e.datname);
  if (owns.length) {
    plan.notes.push(
      `"${oldUser}" also owns objects in ${owns.join(', ')}: REASSIGN OWNED works per database, so they stay with it (adopt a secret configured for that database, or reassign them yourself)`,
    );
  }
  if (granted.length) {
    plan.notes.push(
      `"${oldUser}" was also granted privileges in ${granted.join(', ')}, which adopt (connected to ${t.database}) does not copy: grant them to "${group}" there`,
    );
  }
  return plan;
}

/** Settings whose stored value is a list PostgreSQL quotes itself (as pg_dump treats them). */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
  'shared_preload_libraries',
]);
const IDENTIFIER_LIST =
  /^(?:"(?:[^"]|"")*"|[A-Za-z0-9_$]+)(?:, ?(?:"(?:[^"]|"")*"|[A-Za-z0-9_$]+))*$/;

/**
 * The old user's role settings (`ALTER ROLE app SET search_path …`), as ` [IN DATABASE d] SET
 * name TO value` suffixes, so the login roles behave like it; `role` is Rotor's own.
 */
export async function roleSettings(
  client: pg.ClientBase,
  oldOid: string,
  notes: string[],
): Promise<string[]> {
  const { rows } = await client.query<{ db: string | null; setting: string }>(
    `SELECT quote_ident(d.datname) AS db, c AS setting FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
      WHERE s.setrole = $1::oid ORDER BY d.datname NULLS FIRST, c`,
    [oldOid],
  );
  const out: string[] = [];
  for (const { db, setting } of rows) {
    const at = setting.indexOf('=');
    const name = setting.slice(0, at).toLowerCase();
    const value = setting.slice(at + 1);
    if (name === 'role') continue;
    if (
      !/^[a-z_][a-z0-9_.]*$/.test(name) ||
      (LIST_SETTINGS.has(name) && !IDENTIFIER_LIST.test(value))
    ) {
      notes.push(
        `the role setting ${name} of the application's login role was not copied to the login roles (unexpected form): set it on them yourself`,
      );
      continue;
    }
    out.push(
      `${db ? ` IN DATABASE ${db}` : ''} SET ${name} TO ${LIST_SETTINGS.has(name) ? value : await quote(client, 'quote_literal', value)}`,
    );
  }
  return out;
}

/** Privilege lines a group can take over: role attributes are not inherited; default privileges are moved by DEFAULTS_QUERY. */
function transferable(lines: Set<string>): string[] {
  return [...lines]
    .filter((l) => !l.startsWith('role attribute ') && !l.startsWith('default privileges '))
    .sort();
}

/** A statement of the plan failed: names it, and says the transaction is rolled back. */
function statementFailed(ctx: Ctx, statement: string, cause: unknown): RotorError {
  const e = cause as { code?: string; message?: string };
  const why = `${ctx.secret}/${ctx.environment}: \`${statement}\` failed: ${e?.message ?? String(cause)}; the transaction was rolled back, nothing was changed`;
  if (e?.code === '42501')
    return new RotorError(
      'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      `${why} (run adopt once as a superuser, or grant the admin what it lacks)`,
      { cause },
    );
  if (e?.code === '55P03')
    return new RotorError(
      'ERR_ROTOR_DB_QUERY_FAILED',
      `${why} (a table was locked by a long transaction for more than ${LOCK_TIMEOUT}: run adopt again)`,
      { cause },
    );
  return new RotorError(
    'ERR_ROTOR_DB_QUERY_FAILED',
    `${why}${e?.code ? ` (SQLSTATE ${e.code})` : ''}`,
    { cause },
  );
}

/**
 * What `rotor db adopt` would run for `ctx.environment`, read from the catalog with the admin
 * connection rotor.yaml names; changes nothing.
 *
 * @example
 * const plan = await planPostgresAdoption(ctx, 'app');
 * if (!plan.alreadyAdopted) console.log(plan.statements.join(';\n'));
 */
export async function planPostgresAdoption(ctx: Ctx, oldUser: string): Promise<AdoptPlan> {
  const t = resolveTarget(ctx);
  return withAdmin(ctx, t, (client) => inspect(ctx, client, t, oldUser));
}

/**
 * Applies `plan` in one transaction: re-plans first and refuses (ERR_ROTOR_DB_QUERY_FAILED) if the
 * database changed since `plan` was shown, runs it, then checks before COMMIT that every privilege
 * the old user had is effective for the group and still for the old user
 * (ERR_ROTOR_DB_GRANTS_DIFFER otherwise). Any failure rolls everything back.
 */
export async function applyPostgresAdoption(
  ctx: Ctx,
  plan: AdoptPlan,
): Promise<PostgresAdoptResult> {
  const t = resolveTarget(ctx);
  return withAdmin(ctx, t, async (client) => {
    // One snapshot for every catalog read: an object another session drops meanwhile (another
    // application's database) stays listed and its privileges read as NULL, so it is set apart
    // below instead of counting as a privilege the group lacks.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const now = await inspect(ctx, client, t, plan.oldUser);
      if (now.statements.join('\n') !== plan.statements.join('\n')) {
        throw new RotorError(
          'ERR_ROTOR_DB_QUERY_FAILED',
          `${ctx.secret}/${ctx.environment}: the database changed since the plan was printed; run \`rotor db adopt\` again to see the new plan; nothing was changed`,
        );
      }
      const before = transferable(await privilegeSnapshot(client, plan.oldUser));
      for (const statement of now.statements) {
        try {
          await client.query(statement);
        } catch (cause) {
          throw statementFailed(ctx, statement, cause);
        }
      }
      const vanished = new Set<string>();
      const [group, oldAfter] = await privilegeSnapshots(
        client,
        [plan.group, plan.oldUser],
        vanished,
      );
      const kept = before.filter((l) => !vanished.has(l));
      const missing = kept.filter((l) => !group!.has(l));
      const lost = kept.filter((l) => !oldAfter!.has(l));
      if (missing.length || lost.length) {
        const list = (xs: string[]) =>
          xs.slice(0, 20).join('; ') + (xs.length > 20 ? `; … ${xs.length - 20} more` : '');
        throw new RotorError(
          'ERR_ROTOR_DB_GRANTS_DIFFER',
          `${ctx.secret}/${ctx.environment}: after adopt ` +
            (missing.length
              ? `the group role "${plan.group}" would lack privileges "${plan.oldUser}" has: ${list(missing)} (the admin may lack GRANT OPTION on them: run adopt as a superuser). `
              : '') +
            (lost.length
              ? `"${plan.oldUser}" would lose: ${list(lost)} (is it NOINHERIT? ALTER ROLE ${plan.oldUser} INHERIT). `
              : '') +
            'Everything was rolled back; nothing was changed',
          { details: { missing, lost } },
        );
      }
      await client.query('COMMIT');
      return { plan: now, verified: kept.length };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  });
}
