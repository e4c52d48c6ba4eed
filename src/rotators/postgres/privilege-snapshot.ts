// The effective privileges of one role, as a set of `object privilege` lines, so that a new
// login role can be proven to hold exactly what the old one held before it is promoted.
// Computed with the has_*_privilege functions (which follow role inheritance) and, for default
// privileges, the catalog.
import type pg from 'pg';

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

const QUERIES: readonly string[] = [
  // Databases: CONNECT, CREATE, TEMP on every database that allows connections.
  `SELECT 'database ' || quote_ident(d.datname) || ' ' || p AS line FROM pg_database d, unnest(ARRAY['CONNECT','CREATE','TEMP']) p
     WHERE d.datallowconn AND has_database_privilege($1::name, d.oid, p)`,
  `SELECT 'schema ' || quote_ident(n.nspname) || ' ' || p FROM pg_namespace n, unnest(ARRAY['USAGE','CREATE']) p
     WHERE ${USER_SCHEMAS} AND has_schema_privilege($1::name, n.oid, p)`,
  `SELECT 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || p
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
     WHERE c.relkind IN ('r','v','m','f','p') AND ${USER_SCHEMAS} AND has_table_privilege($1::name, c.oid, p)`,
  `SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname) || ' ' || p
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['SELECT','INSERT','UPDATE','REFERENCES']) p
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','v','m','f','p') AND ${USER_SCHEMAS} AND has_column_privilege($1::name, c.oid, a.attnum, p)`,
  `SELECT 'sequence ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || p
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest(ARRAY['USAGE','SELECT','UPDATE']) p
     WHERE c.relkind = 'S' AND ${USER_SCHEMAS} AND has_sequence_privilege($1::name, c.oid, p)`,
  `SELECT 'function ' || f.oid::regprocedure::text || ' EXECUTE'
     FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace
     WHERE ${USER_SCHEMAS} AND has_function_privilege($1::name, f.oid, 'EXECUTE')`,
  // Default privileges that name the role itself, as grantee or as the creating role.
  `SELECT 'default privileges for ' || CASE WHEN d.defaclrole = r.oid THEN 'objects it creates' ELSE 'objects of ' || quote_ident(pg_get_userbyid(d.defaclrole)) END
          || coalesce(' in schema ' || quote_ident(n.nspname), '') || ' on ' || d.defaclobjtype::text || ': ' || a.privilege_type
          || CASE WHEN d.defaclrole = r.oid THEN ' to ' || CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END ELSE '' END
     FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace CROSS JOIN LATERAL aclexplode(d.defaclacl) a, pg_roles r
     WHERE r.rolname = $1::name AND (a.grantee = r.oid OR d.defaclrole = r.oid)`,
  // Role attributes that widen what a login can do.
  `SELECT 'role attribute ' || x FROM pg_roles r, LATERAL (VALUES ('SUPERUSER', r.rolsuper), ('CREATEDB', r.rolcreatedb), ('CREATEROLE', r.rolcreaterole), ('BYPASSRLS', r.rolbypassrls), ('REPLICATION', r.rolreplication)) v(x, on_)
     WHERE r.rolname = $1::name AND v.on_`,
];

/** Every effective privilege of `role` in the database `client` is connected to. */
export async function privilegeSnapshot(client: pg.ClientBase, role: string): Promise<Set<string>> {
  const lines = new Set<string>();
  for (const text of QUERIES) {
    const { rows } = await client.query<Record<string, string>>(text, [role]);
    for (const row of rows) lines.add(Object.values(row)[0]!);
  }
  return lines;
}

/** What `candidate` lacks and has beyond `reference`, each sorted; both empty when equal. */
export function privilegeDifference(reference: Set<string>, candidate: Set<string>): { missing: string[]; extra: string[] } {
  const missing = [...reference].filter((l) => !candidate.has(l)).sort();
  const extra = [...candidate].filter((l) => !reference.has(l)).sort();
  return { missing, extra };
}
