// The effective privileges of one role, as a set of `object privilege` lines, so that a new
// login role can be proven to hold exactly what the old one held before it is promoted.
// Computed with the has_*_privilege functions (which follow role inheritance) and, for default
// privileges, the catalog.
import type pg from 'pg';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

// Object privileges: for each object and privilege, `held` says, per role of $1, whether it has
// it. Both roles are checked in the same row of the same statement, so an object created or
// dropped meanwhile (another application's database, a migration) cannot show up as a
// difference between them; an object dropped mid-statement yields NULL and is left out.
const held = (check: string) =>
  `ARRAY(SELECT ${check.replace('ROLE', 'who.name')} FROM unnest($1::name[]) WITH ORDINALITY who(name, i) ORDER BY who.i)`;
const OBJECT_QUERIES: readonly string[] = [
  // Databases: CONNECT, CREATE, TEMP on every database that allows connections.
  `SELECT 'database ' || quote_ident(d.datname) || ' ' || p AS line, ${held('has_database_privilege(ROLE, d.oid, p)')} AS held
     FROM pg_database d, unnest(ARRAY['CONNECT','CREATE','TEMP']) p WHERE d.datallowconn`,
  `SELECT 'schema ' || quote_ident(n.nspname) || ' ' || p AS line, ${held('has_schema_privilege(ROLE, n.oid, p)')} AS held
     FROM pg_namespace n, unnest(ARRAY['USAGE','CREATE']) p WHERE ${USER_SCHEMAS}`,
  `SELECT 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || p AS line, ${held('has_table_privilege(ROLE, c.oid, p)')} AS held
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
     WHERE c.relkind IN ('r','v','m','f','p') AND ${USER_SCHEMAS}`,
  `SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname) || ' ' || p AS line, ${held('has_column_privilege(ROLE, c.oid, a.attnum, p)')} AS held
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['SELECT','INSERT','UPDATE','REFERENCES']) p
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','v','m','f','p') AND ${USER_SCHEMAS}`,
  `SELECT 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || p AS line, ${held('has_sequence_privilege(ROLE, c.oid, p)')} AS held
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['USAGE','SELECT','UPDATE']) p
     WHERE c.relkind = 'S' AND ${USER_SCHEMAS}`,
  `SELECT 'function ' || f.oid::regprocedure::text || ' EXECUTE' AS line, ${held("has_function_privilege(ROLE, f.oid, 'EXECUTE')")} AS held
     FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace
     WHERE ${USER_SCHEMAS}`,
  // Rows some role holds, and rows of objects dropped meanwhile (NULL), which are set apart below.
].map(
  (q) =>
    `SELECT line, held FROM (${q}) q WHERE true = ANY(held) OR array_position(held, NULL) IS NOT NULL`,
);

// Catalog rows of the roles of $1 themselves.
const ROLE_QUERIES: readonly string[] = [
  // Default privileges that name the role itself, as grantee or as the creating role.
  `SELECT r.rolname AS role, 'default privileges for ' || CASE WHEN d.defaclrole = r.oid THEN 'objects it creates' ELSE 'objects of ' || quote_ident(pg_get_userbyid(d.defaclrole)) END
          || coalesce(' in schema ' || quote_ident(n.nspname), '') || ' on ' || d.defaclobjtype::text || ': ' || a.privilege_type
          || CASE WHEN d.defaclrole = r.oid THEN ' to ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END ELSE '' END AS line
     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a, pg_roles r
     WHERE r.rolname = ANY($1::name[]) AND (a.grantee = r.oid OR d.defaclrole = r.oid)`,
  // Role attributes that widen what a login can do.
  `SELECT r.rolname AS role, 'role attribute ' || x AS line FROM pg_roles r, LATERAL (VALUES ('SUPERUSER', r.rolsuper), ('CREATEDB', r.rolcreatedb), ('CREATEROLE', r.rolcreaterole), ('BYPASSRLS', r.rolbypassrls), ('REPLICATION', r.rolreplication)) v(x, on_)
     WHERE r.rolname = ANY($1::name[]) AND v.on_`,
];

/**
 * Every effective privilege of each of `roles` in the database `client` is connected to, compared
 * object by object. Lines of objects dropped while being read are left out and, when `vanished`
 * is given, added to it: inside a REPEATABLE READ transaction, an object dropped since an earlier
 * snapshot of the same transaction is still listed by the catalog scan and lands there.
 */
export async function privilegeSnapshots(
  client: pg.ClientBase,
  roles: readonly string[],
  vanished?: Set<string>,
): Promise<Set<string>[]> {
  const sets = roles.map(() => new Set<string>());
  for (const text of OBJECT_QUERIES) {
    const { rows } = await client.query<{ line: string; held: (boolean | null)[] }>(text, [roles]);
    for (const row of rows) {
      if (row.held.some((h) => h === null)) {
        vanished?.add(row.line); // dropped while being read
        continue;
      }
      row.held.forEach((h, i) => h && sets[i]!.add(row.line));
    }
  }
  for (const text of ROLE_QUERIES) {
    const { rows } = await client.query<{ role: string; line: string }>(text, [roles]);
    for (const row of rows) roles.forEach((r, i) => r === row.role && sets[i]!.add(row.line));
  }
  return sets;
}

/** Every effective privilege of `role` in the database `client` is connected to. */
export async function privilegeSnapshot(client: pg.ClientBase, role: string): Promise<Set<string>> {
  return (await privilegeSnapshots(client, [role]))[0]!;
}

/** What `candidate` lacks and has beyond `reference`, each sorted; both empty when equal. */
export function privilegeDifference(
  reference: Set<string>,
  candidate: Set<string>,
): { missing: string[]; extra: string[] } {
  const missing = [...reference].filter((l) => !candidate.has(l)).sort();
  const extra = [...candidate].filter((l) => !reference.has(l)).sort();
  return { missing, extra };
}

/**
 * The snapshots of `reference` (the login the current version records: one of Rotor's, or the
 * team's imported one) and `candidate` (the new login), made comparable: a login that is a member
 * of `group` also counts the group's default privileges as its own, because Rotor's logins create
 * objects as the group (`SET role`) and adopt gives the group the imported login's defaults.
 * Everything else is compared as the server reports it, object by object.
 */
export async function comparableSnapshots(
  client: pg.ClientBase,
  reference: string,
  candidate: string,
  group: string,
): Promise<[Set<string>, Set<string>]> {
  const [ref, cand, grp] = await privilegeSnapshots(client, [reference, candidate, group]);
  const { rows } = await client.query<{ m: boolean }>(
    `SELECT pg_has_role(r, $2::name, 'USAGE') AS m FROM unnest($1::name[]) WITH ORDINALITY x(r, i) ORDER BY i`,
    [[reference, candidate], group],
  );
  const defaults = [...grp!].filter((l) => l.startsWith('default privileges '));
  [ref!, cand!].forEach((set, i) => rows[i]?.m && defaults.forEach((l) => set.add(l)));
  return [ref!, cand!];
}
