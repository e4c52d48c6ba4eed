// The account properties a new login role takes over from the one it replaces, so the app sees
// the same session after a rotation: role settings (search_path, statement_timeout, …, per
// database too) and the connection limit. Rotor's own setting (`role`, which makes objects belong
// to the group) is set by apply. A property Rotor cannot copy refuses the rotation and names it.
import pg from 'pg';
import { RotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { roleSettings } from './adopt.js';
import type { PostgresConfig } from './postgres-config.js';

const id = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** Copies `from`'s settings and connection limit onto `to` (inside the caller's transaction). */
export async function copyRoleProperties(
  ctx: RotatorContext<PostgresConfig>,
  client: pg.ClientBase,
  from: string,
  to: string,
): Promise<void> {
  const source = await client.query<{ oid: string; rolconnlimit: number }>(
    'SELECT oid::text AS oid, rolconnlimit FROM pg_roles WHERE rolname = $1',
    [from],
  );
  const row = source.rows[0];
  if (!row) return;
  const notes: string[] = [];
  const settings = await roleSettings(client, row.oid, notes);
  if (notes.length) {
    throw new RotorError(
      'ERR_ROTOR_DB_QUERY_FAILED',
      `${ctx.secret}/${ctx.environment}: login role "${from}" has a property Rotor cannot copy to "${to}", so it was not promoted: ${notes.join('; ')}`,
      {
        details: { reference: from, role: to },
      },
    );
  }
  // Start from nothing, so a setting removed from the old login does not linger on the new one.
  const target = await client.query<{ db: string | null }>(
    `SELECT quote_ident(d.datname) AS db FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [to],
  );
  for (const { db } of target.rows)
    await client.query(`ALTER ROLE ${id(to)}${db ? ` IN DATABASE ${db}` : ''} RESET ALL`);
  for (const setting of settings) await client.query(`ALTER ROLE ${id(to)}${setting}`);
  await client.query(`ALTER ROLE ${id(to)} CONNECTION LIMIT ${Number(row.rolconnlimit)}`);
}
