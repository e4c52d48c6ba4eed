// MariaDB/MySQL accounts as the `mysql` rotator compares and carries them over: effective
// privileges, account properties, live sessions and the proof of refusal.
import type mysql from 'mysql2/promise';

type Conn = mysql.Connection;

export const quoteIdent = (name: string) => `\`${name.replace(/`/g, '``')}\``;
export const accountName = (user: string, host: string) =>
  `${quoteIdent(user)}@${quoteIdent(host)}`;

async function showGrants(db: Conn, grantee: string): Promise<string[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${grantee}`);
  return rows.map((r) => String(Object.values(r)[0]));
}

/** Splits `SELECT (a, b), INSERT` at the commas outside parentheses. */
function splitPrivileges(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** One SHOW GRANTS line as `privilege ON object` items (columns one by one); [] for USAGE. */
export function privilegeItems(line: string): string[] {
  const m = /^GRANT (.+?) ON (.+?) TO .+?$/.exec(line);
  if (!m) return [];
  const [, privileges, object] = m as unknown as [string, string, string];
  if (privileges === 'PROXY') return [`PROXY ON ${object}`];
  const items: string[] = [];
  for (const p of splitPrivileges(privileges)) {
    const cols = /^(.+?) \((.+)\)$/.exec(p);
    if (cols)
      for (const c of splitPrivileges(cols[2]!)) items.push(`${cols[1]} (${c}) ON ${object}`);
    else if (p !== 'USAGE') items.push(`${p} ON ${object}`);
  }
  if (/ WITH GRANT OPTION/.test(line.slice(line.lastIndexOf(' TO '))))
    items.push(`GRANT OPTION ON ${object}`);
  return items;
}

/**
 * What a login can do once logged in: its own privileges and those of its DEFAULT ROLE (and the
 * roles that role holds), as sorted `privilege ON object` lines. Roles granted but not default
 * are listed as `role r granted (not default)`, since a login does not get them by itself.
 */
export async function effectivePrivileges(db: Conn, user: string, host: string): Promise<string[]> {
  const items = new Set<string>();
  const seen = new Set<string>();
  const lines = await showGrants(db, accountName(user, host));
  const defaultRole = lines
    .map((l) => /^SET DEFAULT ROLE `((?:[^`]|``)+)` FOR /.exec(l)?.[1])
    .find(Boolean)
    ?.replace(/``/g, '`');
  const granted = (ls: string[]) =>
    ls
      .map((l) => /^GRANT `((?:[^`]|``)+)` TO /.exec(l)?.[1]?.replace(/``/g, '`'))
      .filter((r): r is string => r !== undefined);
  for (const l of lines) privilegeItems(l).forEach((i) => items.add(i));
  for (const r of granted(lines))
    if (r !== defaultRole) items.add(`role ${r} granted (not default)`);
  const expand = async (role: string) => {
    if (seen.has(role)) return;
    seen.add(role);
    const ls = await showGrants(db, quoteIdent(role));
    for (const l of ls) privilegeItems(l).forEach((i) => items.add(i));
    for (const r of granted(ls)) await expand(r);
  };
  if (defaultRole) await expand(defaultRole);
  return [...items].sort();
}

/** The account properties a new login takes over: TLS requirement and resource limits. */
export interface AccountProperties {
  /** `REQUIRE …` clause text after REQUIRE (`SSL`, `X509`, `ISSUER '…' SUBJECT '…'`), or undefined. */
  require?: string;
  /** Resource limits, e.g. { MAX_USER_CONNECTIONS: '3' }. */
  limits: Record<string, string>;
  locked: boolean;
}

const LIMITS = [
  'MAX_QUERIES_PER_HOUR',
  'MAX_UPDATES_PER_HOUR',
  'MAX_CONNECTIONS_PER_HOUR',
  'MAX_USER_CONNECTIONS',
  'MAX_STATEMENT_TIME',
] as const;
const QUOTED = `'(?:[^'\\\\]|\\\\.|'')*'`;

/** Reads REQUIRE and WITH MAX_… from `SHOW CREATE USER` text. */
export function accountProperties(createUser: string): AccountProperties {
  const require = new RegExp(
    ` REQUIRE (SSL|X509|(?:(?:ISSUER|SUBJECT|CIPHER) ${QUOTED}(?: AND)? ?)+)`,
  )
    .exec(createUser)?.[1]
    ?.trim();
  const limits: Record<string, string> = {};
  for (const name of LIMITS) {
    const m = new RegExp(` ${name} ([0-9.]+)`).exec(createUser);
    if (m && Number(m[1]) !== 0) limits[name] = m[1]!;
  }
  return { ...(require ? { require } : {}), limits, locked: / ACCOUNT LOCK\b/.test(createUser) };
}

/** ` REQUIRE … WITH …` for ALTER USER: exactly `p`, resetting what `p` does not have. */
export function propertiesClause(p: AccountProperties): string {
  const limits = LIMITS.map((name) => `${name} ${p.limits[name] ?? 0}`).join(' ');
  return ` REQUIRE ${p.require ?? 'NONE'} WITH ${limits}`;
}

/** Live sessions of `user` other than this connection: address and seconds in their current state. */
export async function liveSessions(
  db: Conn,
  user: string,
): Promise<{ id: number; application: string; address: string; ageSeconds: number }[]> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT ID, HOST, TIME FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID() ORDER BY TIME DESC',
    [user],
  );
  return rows.map((r) => ({
    id: Number(r.ID),
    // MariaDB keeps no application name unless performance_schema is on; say so rather than guess.
    application: '(not reported by MariaDB)',
    address: String(r.HOST ?? '').replace(/:\d+$/, ''),
    ageSeconds: Number(r.TIME ?? 0),
  }));
}
