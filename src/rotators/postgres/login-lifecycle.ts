// The end of a PostgreSQL login's life: who still uses it (live sessions, named for the operator),
// disabling it at retire (Rotor's own login roles and the login a team imported alike), and the
// proof that the server now refuses the retired credential.
import pg from 'pg';
import { RotorError } from '../../core/errors.js';
import type {
  LiveSession,
  RetireOutcome,
  RevocationProof,
  RotatorContext,
  StoredMaterial,
} from '../../core/rotator/rotator-contract.js';
import { describeSessions, publicSessions } from '../../core/rotation/retire-proof.js';
import { drainExpired, drainOf } from './drain-config.js';
import { dbError, withAdmin, type Target } from './pg-connection.js';
import type { PostgresConfig } from './postgres-config.js';

type Ctx = RotatorContext<PostgresConfig>;
const id = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/**
 * Live sessions of `roles`, oldest first. application_name and client_addr are visible to a
 * superuser or a member of pg_read_all_stats; otherwise PostgreSQL hides them and we say so.
 */
export async function liveSessions(
  client: pg.ClientBase,
  roles: readonly string[],
): Promise<(LiveSession & { role: string; pid: number })[]> {
  const { rows } = await client.query<{
    role: string;
    pid: number;
    application: string | null;
    address: string | null;
    age: number | null;
    visible: boolean;
  }>(
    `SELECT usename AS role, pid, application_name AS application, host(client_addr) AS address, extract(epoch FROM now() - backend_start)::int AS age,
            backend_start IS NOT NULL AS visible
       FROM pg_stat_activity WHERE usename = ANY($1) AND pid <> pg_backend_pid() ORDER BY backend_start NULLS LAST`,
    [roles],
  );
  return rows.map((r) => ({
    role: r.role,
    pid: r.pid,
    application: r.visible
      ? (r.application ?? '')
      : '(hidden from the admin: grant it pg_read_all_stats)',
    address: r.visible ? (r.address ?? 'local socket') : '(hidden)',
    ageSeconds: r.age ?? 0,
  }));
}

/** The refusal of a retire while `role` still has sessions, naming each one. */
function postponed(
  ctx: Ctx,
  role: string,
  sessions: (LiveSession & { pid: number })[],
): RotorError {
  const drain = drainOf(ctx.config);
  const list = publicSessions(sessions);
  return new RotorError(
    'ERR_ROTOR_RETIRE_POSTPONED',
    `${ctx.secret}/${ctx.environment}: login role "${role}" still has ${sessions.length} live session(s): ${describeSessions(list)}; retire postponed so the running app is not cut off ` +
      `(retried on the next retire run; WARNING now, CRITICAL ${drain.within} after the grace window (drain.within)${drain.then === 'terminate' ? ', when they are terminated (drain.then: terminate)' : ''}; --force terminates them now)`,
    {
      details: {
        role,
        sessions: sessions.length,
        sessionList: list,
        drainWithinMs: drain.withinMs,
        drainThen: drain.then,
      },
    },
  );
}

/** The login a team imported (`rotor import`): not one of Rotor's, but retired like one. */
export function isOriginalLogin(old: StoredMaterial): boolean {
  return old.meta.imported === true;
}

interface RoleState {
  rolsuper: boolean;
  me: boolean;
  comment: string | null;
}

/**
 * Disables `role` (NOLOGIN, password removed, expired), ends its sessions, and for clone drops it
 * with what it owns. Returns what was kept or terminated, for the audit. `currentMarker` is the
 * comment of the version being retired (alternate: a newer one means the password is gone).
 */
export async function revokeLogin(
  ctx: Ctx,
  t: Target,
  old: StoredMaterial,
  { role, marker }: { role: string; marker: string },
): Promise<RetireOutcome | void> {
  const original = isOriginalLogin(old);
  let outcome: RetireOutcome | undefined;
  const dropDatabases = await withAdmin(ctx, t, async (client) => {
    const { rows } = await client.query<RoleState>(
      `SELECT rolsuper, rolname = current_user AS me, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    const state = rows[0];
    if (!state) return [];
    if (original) {
      if (ctx.config.keepOriginalLogin) {
        outcome = {
          kept: `login role "${role}" keeps LOGIN and its password (keepOriginalLogin: true): a credential outside rotation`,
        };
        return [];
      }
      if (state.me || state.rolsuper) {
        outcome = {
          kept: `login role "${role}" is ${state.me ? 'the admin Rotor connects as' : 'a superuser'}, which Rotor never disables: disable it yourself`,
        };
        return [];
      }
    } else if (ctx.config.strategy === 'alternate' && state.comment !== marker) {
      // alternate reuses roles: a newer version set this role's password, so the old one is gone.
      return [];
    }
    const sessions = await liveSessions(client, [role]);
    const terminate =
      ctx.emergency || ctx.force || drainExpired(ctx.config, ctx.graceEndedAt, ctx.clock.now());
    if (sessions.length && !terminate) throw postponed(ctx, role, sessions);
    // Login first, so no new session starts while the rest runs; then the live ones end.
    await client.query(`ALTER ROLE ${id(role)} WITH NOLOGIN PASSWORD NULL VALID UNTIL '-infinity'`);
    if (sessions.length) {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
        [role],
      );
      if (!ctx.emergency && !ctx.force) {
        outcome = {
          terminated: `drain.then terminate: ended ${sessions.length} session(s) still on "${role}" ${drainOf(ctx.config).within} after the grace window: ${describeSessions(sessions)}`,
        };
      }
    }
    if (ctx.config.strategy === 'alternate') return [];
    // REASSIGN/DROP OWNED need membership in the old role; a CREATEROLE admin may grant it itself.
    const member = await client.query<{ m: boolean }>(
      `SELECT pg_has_role(current_user, $1::name, 'MEMBER') AS m`,
      [role],
    );
    if (!member.rows[0]!.m) await client.query(`GRANT ${id(role)} TO CURRENT_USER`);
    const dbs = await client.query<{ datname: string }>(
      `SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.refobjid
        WHERE s.refclassid = 'pg_authid'::regclass AND r.rolname = $1 AND d.datallowconn`,
      [role],
    );
    return [...new Set([t.database, ...dbs.rows.map((r) => r.datname)])];
  });
  for (const database of dropDatabases) {
    await withAdmin(
      ctx,
      t,
      async (client) => {
        await client.query(`REASSIGN OWNED BY ${id(role)} TO ${id(ctx.config.baseRole)}`);
        await client.query(`DROP OWNED BY ${id(role)}`);
      },
      database,
    );
  }
  if (dropDatabases.length)
    await withAdmin(ctx, t, (client) => client.query(`DROP ROLE IF EXISTS ${id(role)}`));
  return outcome;
}

/**
 * Logs in with the retired DATABASE_URL on a fresh connection. A refusal (SQLSTATE class 28:
 * NOLOGIN, wrong password, no such role) is the proof; a server that cannot be reached throws.
 */
export async function proveLoginRefused(ctx: Ctx, url: string): Promise<RevocationProof> {
  const user = decodeURIComponent(new URL(url).username);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: ctx.config.connectTimeoutMs,
    application_name: 'rotor-retire-proof',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return {
      refused: false,
      detail: `PostgreSQL accepted a login as "${user}" with the retired password: does pg_hba.conf trust this host?`,
    };
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? '';
    if (code.startsWith('28'))
      return {
        refused: true,
        detail: `PostgreSQL refused "${user}": SQLSTATE ${code}, ${(cause as Error).message}`,
      };
    throw dbError(
      ctx,
      { what: 'logging in with the retired credential', where: new URL(url).host },
      cause,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
