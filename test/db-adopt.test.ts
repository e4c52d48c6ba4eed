// `rotor db adopt` for kind: postgres against the machine's PostgreSQL (127.0.0.1:5432, trust
// auth): an ORM-style app user that owns its tables is converted into Rotor's group-role layout
// without downtime, the next rotation works on the adopted objects, and bad input changes
// nothing. Each test makes its own database and roles (random prefix) and drops them.
import { PassThrough } from 'node:stream';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { requireService, SERVICE_URLS, uniquePrefix } from './helpers/services.js';

const service = await requireService('postgres');
const { escapeIdentifier: id } = pg.Client.prototype;

function urlFor(user: string, database: string, password = ''): string {
  return `postgres://${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@127.0.0.1:5432/${database}`;
}

async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

interface Shop {
  prefix: string;
  db: string;
  old: string;
  base: string;
  reporting: string;
  /** Superuser connection to the shop database. */
  admin: string;
  oldUrl: string;
  p: TestProject;
  /** Everything adopt could change, as one comparable string. */
  catalog(): Promise<string>;
  audit(): Promise<
    {
      action: string;
      outcome: string;
      secret: string;
      notes: string;
      details: Record<string, unknown>;
    }[]
  >;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * What ORM migrations leave behind: one login user owns the tables, a sequence, a view and a
 * function and has data in them; it also reads a table owned by someone else and is a member of
 * a reporting role. Extra secrets in rotor.yaml exercise the error paths.
 */
async function shop(
  options: { ownsDatabase?: boolean; strategy?: 'alternate' | 'clone' } = {},
): Promise<Shop> {
  const prefix = uniquePrefix('adopt');
  const db = prefix;
  const old = `${prefix}_app`;
  const base = `${prefix}_grp`;
  const reporting = `${prefix}_reporting`;
  const su = service.url;
  const admin = urlFor('postgres', db);
  cleanups.push(async () => {
    const dbs = await query<{ datname: string }>(
      su,
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [prefix],
    );
    for (const { datname } of dbs) {
      await query(
        su,
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [datname],
      );
      await query(su, `DROP DATABASE IF EXISTS ${id(datname)}`);
    }
    const roles = await query<{ rolname: string }>(
      su,
      'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY length(rolname) DESC',
      [prefix],
    );
    for (const { rolname } of roles) await query(su, `DROP ROLE IF EXISTS ${id(rolname)}`);
  });
  await query(su, `CREATE ROLE ${id(old)} LOGIN PASSWORD 'old-app-password'`);
  // createdb -O app, or an admin-made database with grants.
  await query(su, `CREATE DATABASE ${id(db)}${options.ownsDatabase ? ` OWNER ${id(old)}` : ''}`);
  await query(su, `ALTER ROLE ${id(old)} SET statement_timeout = '30s'`);
  await query(su, `ALTER ROLE ${id(old)} IN DATABASE ${id(db)} SET search_path = "$user", public`);
  await query(su, `CREATE ROLE ${id(reporting)} NOLOGIN`);
  await query(su, `GRANT ${id(reporting)} TO ${id(old)}`);
  await query(su, `CREATE ROLE ${id(`${prefix}_login`)} LOGIN`);
  await query(su, `CREATE ROLE ${id(`${prefix}_weak`)} LOGIN`);
  await query(su, `CREATE ROLE ${id(`${prefix}_limited`)} LOGIN CREATEROLE IN ROLE ${id(old)}`);
  if (!options.ownsDatabase) {
    await query(su, `GRANT CONNECT, TEMP, CREATE ON DATABASE ${id(db)} TO ${id(old)}`);
    await query(admin, `GRANT CREATE ON SCHEMA public TO ${id(old)}`);
  }
  await query(
    admin,
    `CREATE TABLE public.countries (code text PRIMARY KEY); INSERT INTO public.countries VALUES ('FR'), ('DE')`,
  );
  await query(admin, `GRANT SELECT, REFERENCES ON public.countries TO ${id(old)}`);
  await query(
    admin,
    `CREATE TABLE public.audit_feed (at timestamptz DEFAULT now()); GRANT SELECT ON public.audit_feed TO ${id(reporting)}`,
  );
  const oldUrl = urlFor(old, db, 'old-app-password');
  // The app's own default privileges: new tables readable by reporting.
  await query(
    admin,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${id(old)} IN SCHEMA public GRANT SELECT ON TABLES TO ${id(reporting)}`,
  );
  // The migrations, run as the app's own user.
  await query(
    oldUrl,
    `CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
     CREATE TABLE public.orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id int REFERENCES public.users, item text, country text REFERENCES public.countries);
     CREATE SEQUENCE public.invoice_no START 1000;
     CREATE VIEW public.order_counts AS SELECT user_id, count(*) AS n FROM public.orders GROUP BY user_id;
     CREATE FUNCTION public.next_invoice() RETURNS bigint LANGUAGE sql AS $$ SELECT nextval('public.invoice_no') $$;
     INSERT INTO public.users (email) VALUES ('ada@example.com'), ('bob@example.com');
     INSERT INTO public.orders (user_id, item, country) VALUES (1, 'book', 'FR'), (2, 'lamp', 'DE');`,
  );
  const postgresSecret = (name: string, config: string) => `  ${name}:
    kind: postgres
    cadence: 90d
    grace: 24h
    environments: [production]
    config:
      host: 127.0.0.1
      port: 5432
      database: ${db}
${config}`;
  const p = await createProject({
    policy: `version: 1
environments: [staging, production]
secrets:
  API_TOKEN:
    kind: random
    cadence: 90d
${postgresSecret('DATABASE_URL', `      baseRole: ${base}\n      strategy: ${options.strategy ?? 'alternate'}\n      admin: { env: PG_ADMIN_URL }`)}
${postgresSecret('CLASH_URL', `      baseRole: ${prefix}_login\n      admin: { env: PG_ADMIN_URL }`)}
${postgresSecret('SELF_URL', `      baseRole: ${old}\n      admin: { env: PG_ADMIN_URL }`)}
${postgresSecret('WEAK_URL', `      baseRole: ${base}\n      admin: { env: PG_WEAK_URL }`)}
${postgresSecret('LIMITED_URL', `      baseRole: ${base}\n      admin: { env: PG_LIMITED_URL }`)}
${postgresSecret('UNSET_URL', `      baseRole: ${base}\n      admin: { env: PG_UNSET_URL }`)}
`,
  });
  p.env.PG_ADMIN_URL = admin;
  p.env.PG_WEAK_URL = urlFor(`${prefix}_weak`, db);
  p.env.PG_LIMITED_URL = urlFor(`${prefix}_limited`, db);
  const imported = await p.cli(['import', 'DATABASE_URL', '--env', 'production'], {
    stdin: oldUrl,
  });
  expect(imported.code, imported.stderr).toBe(0);
  return {
    prefix,
    db,
    old,
    base,
    reporting,
    admin,
    oldUrl,
    p,
    async catalog() {
      const [row] = await query<{ c: string }>(
        admin,
        `SELECT json_build_object(
           'roles', (SELECT json_agg(json_build_array(a.rolname, a.rolcanlogin, a.rolinherit, a.rolpassword IS NULL, s.setconfig) ORDER BY a.rolname)
                       FROM pg_authid a LEFT JOIN pg_db_role_setting s ON s.setrole = a.oid WHERE starts_with(a.rolname, $1)),
           'members', (SELECT json_agg(json_build_array(g.rolname, r.rolname, m.admin_option) ORDER BY g.rolname, r.rolname)
                         FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
                        WHERE starts_with(g.rolname, $1) OR starts_with(r.rolname, $1)),
           'relations', (SELECT json_agg(json_build_array(c.relname, pg_get_userbyid(c.relowner), c.relacl::text) ORDER BY c.relname)
                           FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
           'functions', (SELECT json_agg(json_build_array(proname, pg_get_userbyid(proowner), proacl::text)) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),
           'schema', (SELECT json_build_array(pg_get_userbyid(nspowner), nspacl::text) FROM pg_namespace WHERE nspname = 'public'),
           'database', (SELECT json_build_array(pg_get_userbyid(datdba), datacl::text) FROM pg_database WHERE datname = current_database()),
           'defaults', (SELECT json_agg(defaclacl::text) FROM pg_default_acl)
         )::text AS c`,
        [prefix],
      );
      return row!.c;
    },
    async audit() {
      const store = await p.rotor().store();
      const rows = await store.db
        .selectFrom('audit_events')
        .select('entry')
        .orderBy('seq')
        .execute();
      await store.close();
      return rows.map((r) => JSON.parse(r.entry));
    },
  };
}

/** What the app does all day: read, write, use the sequence-backed tables and the function. */
async function appWork(url: string, tag: string): Promise<void> {
  await query(url, 'INSERT INTO public.users (email) VALUES ($1)', [`${tag}@example.com`]);
  await query(
    url,
    `INSERT INTO public.orders (user_id, item, country) SELECT id, 'pen', 'FR' FROM public.users WHERE email = $1`,
    [`${tag}@example.com`],
  );
  await query(url, `UPDATE public.orders SET item = item || '!' WHERE item = 'book'`);
  const [counts] = await query<{ n: number }>(
    url,
    'SELECT count(*)::int AS n FROM public.order_counts',
  );
  expect(counts!.n).toBeGreaterThan(0);
  const [invoice] = await query<{ n: string }>(url, 'SELECT public.next_invoice() AS n');
  expect(Number(invoice!.n)).toBeGreaterThanOrEqual(1000);
  expect(
    (await query(url, 'SELECT code FROM public.countries ORDER BY code')).map((r) => r.code),
  ).toEqual(['DE', 'FR']);
  await query(url, 'SELECT count(*) FROM public.audit_feed');
}

describe.skipIf(!service.available)('rotor db adopt (postgres)', () => {
  it('moves an ORM-owned schema to the group role with zero downtime, and the next rotation works on it', async () => {
    const s = await shop();
    const { p } = s;
    const pristine = await s.catalog();

    // --dry-run prints the whole transaction and changes nothing.
    const dry = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('BEGIN;');
    expect(dry.stdout).toContain(`CREATE ROLE ${s.base} NOLOGIN;`);
    expect(dry.stdout).toContain(`GRANT ${s.reporting} TO ${s.base};`);
    expect(dry.stdout).toContain(`GRANT SELECT ON TABLE public.countries TO ${s.base};`);
    expect(dry.stdout).toContain(`REASSIGN OWNED BY ${s.old} TO ${s.base};`);
    expect(dry.stdout).toContain(`GRANT ${s.base} TO ${s.old};`);
    expect(dry.stdout).toContain(`CREATE ROLE ${s.base}_a NOLOGIN INHERIT IN ROLE ${s.base};`);
    expect(dry.stdout).toContain(`ALTER ROLE ${s.base}_b SET role TO '${s.base}';`);
    expect(dry.stdout).toContain(`ALTER ROLE ${s.base}_a SET statement_timeout TO '30s';`);
    expect(dry.stdout).toContain(
      `ALTER ROLE ${s.base}_a IN DATABASE ${s.db} SET search_path TO "$user", public;`,
    );
    expect(dry.stdout).toMatch(
      /-- owned by .*sequence public\.invoice_no.*table public\.orders, table public\.users/,
    );
    expect(dry.stdout).toContain('function public.next_invoice()');
    expect(dry.stdout).toContain('view public.order_counts');
    expect(dry.stdout).toContain('COMMIT;');
    // Default privileges move in the same transaction: nothing is left for a person to run later.
    expect(dry.stdout).toContain(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${s.base} IN SCHEMA public GRANT SELECT ON TABLES TO ${s.reporting};`,
    );
    expect(dry.stdout).not.toContain('after the first rotation');
    expect(dry.stdout).toContain('dry run: nothing was changed');
    expect(dry.stdout).not.toMatch(/PASSWORD|old-app-password/);
    expect(await s.catalog()).toBe(pristine);
    const json = await p.cli([
      'db',
      'adopt',
      'DATABASE_URL',
      '--env',
      'production',
      '--dry-run',
      '--json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      oldUser: s.old,
      group: s.base,
      applied: false,
      dryRun: true,
    });

    // Not a terminal and no --yes: refused, nothing changed.
    const unconfirmed = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production']);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('ERR_ROTOR_CLI_USAGE');
    expect(await s.catalog()).toBe(pristine);

    // The running app holds a session across the change.
    const running = new pg.Client({ connectionString: s.oldUrl });
    await running.connect();
    try {
      const adopted = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
      expect(adopted.code, adopted.stderr).toBe(0);
      expect(adopted.stdout).toMatch(
        /adopted: \d+ privileges of ".*_app" verified effective for ".*_grp"/,
      );
      await running.query(`INSERT INTO public.users (email) VALUES ('during@example.com')`);
      expect((await running.query('SELECT count(*)::int AS n FROM public.users')).rows).toEqual([
        { n: 3 },
      ]);
    } finally {
      await running.end();
    }
    const owners = await query<{ relname: string; owner: string }>(
      s.admin,
      `SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname IN ('users', 'orders', 'invoice_no', 'order_counts', 'countries') ORDER BY relname`,
    );
    expect(owners.map((o) => `${o.relname}:${o.owner}`)).toEqual([
      `countries:postgres`,
      `invoice_no:${s.base}`,
      `order_counts:${s.base}`,
      `orders:${s.base}`,
      `users:${s.base}`,
    ]);
    expect(
      await query(
        s.admin,
        `SELECT rolcanlogin FROM pg_roles WHERE rolname IN ($1, $2, $3) ORDER BY rolname`,
        [s.base, `${s.base}_a`, `${s.base}_b`],
      ),
    ).toEqual([{ rolcanlogin: false }, { rolcanlogin: false }, { rolcanlogin: false }]);
    const adoptRow = (await s.audit()).find((e) => e.action === 'db.adopt');
    expect(adoptRow).toMatchObject({
      secret: 'DATABASE_URL',
      outcome: 'success',
      details: { oldUser: s.old, group: s.base, database: s.db },
    });

    // The old user keeps working in new sessions too: reads, writes, sequences, the function.
    await appWork(s.oldUrl, 'old-after-adopt');

    // The next rotation makes <base>_a current; it works on every adopted object.
    const rotated = await p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const got = await p.cli(['get', 'DATABASE_URL', '--env', 'production']);
    const newUrl = got.stdout.trim();
    expect(decodeURIComponent(new URL(newUrl).username)).toBe(`${s.base}_a`);
    await appWork(newUrl, 'new-login');
    // The old user's role settings came along.
    expect(
      await query(
        newUrl,
        `SELECT current_setting('statement_timeout') AS t, current_setting('search_path') AS p`,
      ),
    ).toEqual([{ t: '30s', p: '"$user", public' }]);
    await query(
      newUrl,
      'CREATE TABLE public.shipments (id serial PRIMARY KEY, order_id bigint REFERENCES public.orders)',
    );
    expect(
      await query(
        s.admin,
        `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname = 'shipments'`,
      ),
    ).toEqual([{ owner: s.base }]);
    // The old user still works after the rotation, and can use what the new login created.
    await appWork(s.oldUrl, 'old-after-rotate');
    await query(s.oldUrl, 'INSERT INTO public.shipments (order_id) VALUES (1)');

    // Adopt again: already adopted, whether it reads the (now rotated) current value or is told the old user.
    const afterRotate = await s.catalog();
    const again = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already adopted');
    const againOld = await p.cli([
      'db',
      'adopt',
      'DATABASE_URL',
      '--env',
      'production',
      '--yes',
      '--from-user',
      s.old,
    ]);
    expect(againOld.code, againOld.stderr).toBe(0);
    expect(againOld.stdout).toContain('already adopted');
    expect(againOld.stdout).not.toContain('BEGIN;');
    expect(await s.catalog()).toBe(afterRotate);
    expect((await s.audit()).filter((e) => e.action === 'db.adopt')).toHaveLength(1);

    // The default privileges adopt moved: tables the first login created got them, the second
    // rotation (to _b) is not refused over them, and tables the next login creates get them too.
    expect(
      await query(s.admin, `SELECT has_table_privilege($1, 'public.shipments', 'SELECT') AS ok`, [
        s.reporting,
      ]),
    ).toEqual([{ ok: true }]);
    p.clock.advance(DAY * 2);
    const second = await p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const urlB = (await p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim();
    expect(decodeURIComponent(new URL(urlB).username)).toBe(`${s.base}_b`);
    await query(urlB, 'CREATE TABLE public.returns (id int)');
    expect(
      await query(s.admin, `SELECT has_table_privilege($1, 'public.returns', 'SELECT') AS ok`, [
        s.reporting,
      ]),
    ).toEqual([{ ok: true }]);
    // The second rotation superseded the imported version (at most two live credentials): the
    // original login is disabled, and the audit records the server's refusal of it.
    expect(
      await query(
        s.admin,
        'SELECT rolcanlogin, rolpassword IS NULL AS nopw FROM pg_authid WHERE rolname = $1',
        [s.old],
      ),
    ).toEqual([{ rolcanlogin: false, nopw: true }]);
    await expect(query(s.oldUrl, 'SELECT 1')).rejects.toMatchObject({ code: '28000' });
    const proofs = (await s.audit()).filter((e) => e.action === 'retire.verified');
    expect(proofs).toHaveLength(1);
    expect(proofs[0]).toMatchObject({
      outcome: 'success',
      notes: expect.stringContaining(`not permitted to log in`),
    });
    p.clock.advance(DAY * 2);
    const retired = await p.cli(['retire', 'DATABASE_URL']);
    expect(retired.code, retired.stderr).toBe(0);
    const versions = await (async () => {
      const store = await p.rotor().store();
      try {
        return await store.db
          .selectFrom('versions')
          .select(['origin', 'stage', 'meta'])
          .where('secret', '=', 'DATABASE_URL')
          .orderBy('created_at')
          .execute();
      } finally {
        await store.close();
      }
    })();
    expect(versions.map((v) => [v.origin, v.stage])).toEqual([
      ['import', 'retired'],
      ['generated', 'retired'],
      ['generated', 'current'],
    ]);
    expect(JSON.parse(versions[0]!.meta)).toMatchObject({ role: s.old, retireProof: 'refused' });
    // Every retired login is refused, and each refusal is in the audit.
    expect(
      (await s.audit()).filter((e) => e.action === 'retire.verified' && e.outcome === 'success'),
    ).toHaveLength(2);
    await appWork(urlB, 'current-after-retire');
  });

  it('refuses bad input with one clear error and changes nothing', async () => {
    const s = await shop();
    const { p } = s;
    const pristine = await s.catalog();
    const cases: [string[], string, RegExp][] = [
      [
        ['db', 'adopt', 'NOPE_URL', '--env', 'production'],
        'ERR_ROTOR_SECRET_UNKNOWN',
        /unknown secret "NOPE_URL"/,
      ],
      [
        ['db', 'adopt', 'API_TOKEN', '--env', 'production', '--from-user', s.old],
        'ERR_ROTOR_CLI_USAGE',
        /API_TOKEN is kind random/,
      ],
      [
        ['db', 'adopt', 'DATABASE_URL', '--env', 'mars'],
        'ERR_ROTOR_ENV_UNKNOWN',
        /unknown environment "mars"/,
      ],
      [
        ['db', 'adopt', 'DATABASE_URL', '--env', 'staging'],
        'ERR_ROTOR_ENV_UNKNOWN',
        /not used in environment "staging"/,
      ],
      [
        ['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--from-user', `${s.prefix}_ghost`],
        'ERR_ROTOR_DB_ROLE_NOT_FOUND',
        /login role "t_adopt_\w+_ghost" does not exist/,
      ],
      [
        ['db', 'adopt', 'CLASH_URL', '--env', 'production', '--from-user', s.old],
        'ERR_ROTOR_DB_ROLE_CONFLICT',
        /baseRole "t_adopt_\w+_login" is an existing LOGIN role/,
      ],
      [
        ['db', 'adopt', 'SELF_URL', '--env', 'production', '--from-user', s.old],
        'ERR_ROTOR_DB_ROLE_CONFLICT',
        /is the application's own login role/,
      ],
      [
        ['db', 'adopt', 'WEAK_URL', '--env', 'production', '--from-user', s.old],
        'ERR_ROTOR_DB_PRIVILEGE_MISSING',
        /admin role "t_adopt_\w+_weak" lacks CREATEROLE/,
      ],
      [
        ['db', 'adopt', 'UNSET_URL', '--env', 'production', '--from-user', s.old],
        'ERR_ROTOR_DB_ADMIN_MISSING',
        /PG_UNSET_URL/,
      ],
      [
        ['db', 'adopt', 'WEAK_URL', '--env', 'production'],
        'ERR_ROTOR_CLI_USAGE',
        /no current version in production.*--from-user/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await p.cli([...args, '--yes']);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout, args.join(' ')).not.toContain('BEGIN;');
    }
    expect(await s.catalog()).toBe(pristine);
    expect((await s.audit()).filter((e) => e.action === 'db.adopt')).toEqual([]);
  });

  it('a failure inside the transaction rolls everything back: an admin that may not re-grant what the app was granted', async () => {
    const s = await shop();
    const pristine = await s.catalog();
    // LIMITED_URL's admin has CREATEROLE and membership in the app user, but may not grant
    // privileges on objects it does not own (public.countries, schema public).
    const r = await s.p.cli([
      'db',
      'adopt',
      'LIMITED_URL',
      '--env',
      'production',
      '--from-user',
      s.old,
      '--yes',
    ]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toContain('BEGIN;');
    expect(r.stderr).toContain('ERR_ROTOR_DB_PRIVILEGE_MISSING');
    expect(r.stderr).toMatch(
      /`REASSIGN OWNED BY .*` failed: permission denied.*the transaction was rolled back, nothing was changed/,
    );
    expect(await s.catalog()).toBe(pristine);
    await appWork(s.oldUrl, 'after-failed-adopt');
    const failure = (await s.audit()).find((e) => e.action === 'db.adopt');
    expect(failure).toMatchObject({
      secret: 'LIMITED_URL',
      outcome: 'failure',
      details: { error: 'ERR_ROTOR_DB_PRIVILEGE_MISSING' },
    });
  });

  it('refuses to commit when the old user would lose a privilege (a NOINHERIT app role), rolling back', async () => {
    const s = await shop();
    await query(service.url, `ALTER ROLE ${id(s.old)} NOINHERIT`);
    const pristine = await s.catalog();
    const r = await s.p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain('ERR_ROTOR_DB_GRANTS_DIFFER');
    expect(r.stderr).toMatch(
      /"t_adopt_\w+_app" would lose: column public\.order_counts\.n INSERT; .* more \(is it NOINHERIT\? .*rolled back/,
    );
    expect(await s.catalog()).toBe(pristine);
  });
  it('adopts an app user that owns the database itself (createdb -O app): the group becomes the owner', async () => {
    const s = await shop({ ownsDatabase: true });
    // Another database where it owns one table and was granted another: adopt works on the configured one only.
    const side = `${s.db}_side`;
    await query(service.url, `CREATE DATABASE ${id(side)}`);
    await query(
      urlFor('postgres', side),
      `CREATE TABLE mine (id int); ALTER TABLE mine OWNER TO ${id(s.old)}; CREATE TABLE theirs (id int); GRANT SELECT ON theirs TO ${id(s.old)}`,
    );
    const dry = await s.p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--dry-run']);
    expect(dry.stdout).toContain(`database ${s.db}`);
    expect(dry.stdout).toContain(`also owns objects in ${side}: REASSIGN OWNED works per database`);
    expect(dry.stdout).toContain(
      `was also granted privileges in ${side}, which adopt (connected to ${s.db}) does not copy`,
    );
    expect(dry.stdout).not.toContain('ON DATABASE');
    const r = await s.p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(
      await query(
        s.admin,
        'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()',
      ),
    ).toEqual([{ owner: s.base }]);
    await appWork(s.oldUrl, 'old');
    // Made by the old user after adopt: it owns it, so adopt is not done yet; running it again moves it.
    await query(s.oldUrl, 'CREATE TABLE public.old_made (id int)');
    const again = await s.p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`moving to "${s.base}": table public.old_made\n`);
    expect(again.stdout).toMatch(
      /BEGIN;\nSET LOCAL lock_timeout = '5s';\nREASSIGN OWNED BY \w+ TO \w+;\nCOMMIT;/,
    );
    const rotated = await s.p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const newUrl = (await s.p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim();
    await appWork(newUrl, 'new');
    await query(newUrl, 'CREATE TABLE public.new_made (id int)');
    await query(newUrl, 'INSERT INTO public.old_made VALUES (1)');
  });

  it('asks for confirmation on a terminal: anything but yes changes nothing', async () => {
    const s = await shop();
    const pristine = await s.catalog();
    const run = async (answer: string) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      let err = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      stderr.on('data', (d: Buffer) => (err += d.toString()));
      const stdin = Object.assign(new PassThrough(), { isTTY: true });
      stdin.end(answer);
      const code = await runCli(['db', 'adopt', 'DATABASE_URL', '--env', 'production'], {
        io: { stdout, stderr, stdin, env: s.p.env, cwd: s.p.dir },
        clock: s.p.clock,
      });
      return { code, out, err };
    };
    const no = await run('n\n');
    expect(no.code).toBe(1);
    expect(no.err).toMatch(
      /Run these \d+ statements on t_adopt_\w+ \(production\) in one transaction\? \[y\/N\]/,
    );
    expect(no.out).toContain('not confirmed: nothing was changed');
    expect(await s.catalog()).toBe(pristine);
    const yes = await run('yes\n');
    expect(yes.code, yes.err).toBe(0);
    expect(yes.out).toContain('adopted:');
    expect(await s.catalog()).not.toBe(pristine);
  });
  it('clone: adopt creates no login roles; after the grace window, retire disables and drops the old user once it has no sessions', async () => {
    const s = await shop({ strategy: 'clone' });
    const r = await s.p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(`CREATE ROLE ${s.base}_a`);
    const rotated = await s.p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const newUrl = (await s.p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim();
    await appWork(newUrl, 'clone-login');
    await appWork(s.oldUrl, 'old-in-grace');
    s.p.clock.advance(2 * DAY);
    const retired = await s.p.cli(['retire', 'DATABASE_URL']);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.stdout).toMatch(/retired DATABASE_URL\/production/);
    expect(await query(s.admin, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [s.old])).toEqual([]);
    await appWork(newUrl, 'clone-login-after-retire');
  });
});

const maria = await requireService('mariadb');

async function mariadb<T>(url: string, run: (db: mysql.Connection) => Promise<T>): Promise<T> {
  const db = await mysql.createConnection({ uri: url });
  try {
    return await run(db);
  } finally {
    await db.end();
  }
}

describe.skipIf(!maria.available)('rotor db adopt (mysql, MariaDB)', () => {
  it('gives the role every grant of the app user, which keeps working; the next rotations work; bad input changes nothing', async () => {
    const prefix = uniquePrefix('myadopt');
    const db = prefix;
    const ref = `${prefix}_ref`;
    const old = `${prefix}_app`;
    const role = `${prefix}_rw`;
    const admin = SERVICE_URLS.mariadb;
    cleanups.push(() =>
      mariadb(admin, async (c) => {
        for (const u of [old, `${prefix}_a`, `${prefix}_b`, `${prefix}_other`])
          await c.query(`DROP USER IF EXISTS '${u}'@'%'`);
        await c.query(`DROP ROLE IF EXISTS \`${role}\``);
        await c.query(`DROP DATABASE IF EXISTS \`${db}\``);
        await c.query(`DROP DATABASE IF EXISTS \`${ref}\``);
      }),
    );
    await mariadb(admin, async (c) => {
      await c.query(`CREATE DATABASE \`${db}\``);
      await c.query(`CREATE DATABASE \`${ref}\``);
      await c.query(`CREATE TABLE \`${ref}\`.countries (code CHAR(2) PRIMARY KEY)`);
      await c.query(`INSERT INTO \`${ref}\`.countries VALUES ('DE'), ('FR')`);
      await c.query(`CREATE USER '${old}'@'%' IDENTIFIED BY 'old-app-password'`);
      await c.query(`CREATE USER '${prefix}_other'@'%' IDENTIFIED BY 'x'`);
      await c.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, CREATE VIEW ON \`${db}\`.* TO '${old}'@'%'`,
      );
      await c.query(`GRANT SELECT ON \`${ref}\`.countries TO '${old}'@'%'`);
    });
    const oldUrl = `mysql://${old}:old-app-password@127.0.0.1:3306/${db}`;
    await mariadb(oldUrl, async (c) => {
      await c.query(
        'CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, label TEXT, country CHAR(2))',
      );
      await c.query(`INSERT INTO items (label, country) VALUES ('book', 'FR'), ('lamp', 'DE')`);
      await c.query('CREATE VIEW item_count AS SELECT COUNT(*) AS n FROM items');
    });
    const secret = (name: string, r: string) => `  ${name}:
    kind: mysql
    cadence: 90d
    grace: 24h
    config:
      host: 127.0.0.1
      port: 3306
      database: ${db}
      role: ${r}
      baseUser: ${prefix}
      admin: { env: ${name === 'WEAK_URL' ? 'MYSQL_WEAK_URL' : 'MYSQL_ADMIN_URL'} }`;
    const p = await createProject({
      policy: `version: 1\nenvironments: [production]\nsecrets:\n${secret('DATABASE_URL', role)}\n${secret('CLASH_URL', `${prefix}_other`)}\n${secret('WEAK_URL', `${prefix}_rw2`)}\n`,
    });
    p.env.MYSQL_ADMIN_URL = admin;
    p.env.MYSQL_WEAK_URL = `mysql://${prefix}_other:x@127.0.0.1:3306/${db}`;
    expect(
      (await p.cli(['import', 'DATABASE_URL', '--env', 'production'], { stdin: oldUrl })).code,
    ).toBe(0);
    const catalog = () =>
      mariadb(admin, async (c) => {
        const [users] = await c.query<mysql.RowDataPacket[]>(
          `SELECT User, Host, is_role FROM mysql.user WHERE User LIKE ? ORDER BY User`,
          [`${prefix}%`],
        );
        const grants: string[] = [];
        for (const u of users) {
          const [g] = await c.query<mysql.RowDataPacket[]>(
            u.is_role === 'Y'
              ? `SHOW GRANTS FOR \`${u.User}\``
              : `SHOW GRANTS FOR '${u.User}'@'${u.Host}'`,
          );
          grants.push(...g.map((r) => String(Object.values(r)[0])));
        }
        return JSON.stringify({ users, grants });
      });
    const appWork = async (url: string, label: string) =>
      mariadb(url, async (c) => {
        await c.query(`INSERT INTO items (label, country) VALUES (?, 'FR')`, [label]);
        await c.query(`UPDATE items SET label = CONCAT(label, '!') WHERE label = 'book'`);
        const [[count]] = await c.query<mysql.RowDataPacket[][]>('SELECT n FROM item_count');
        expect(Number((count as mysql.RowDataPacket).n)).toBeGreaterThan(2);
        const [codes] = await c.query<mysql.RowDataPacket[]>(
          `SELECT code FROM \`${ref}\`.countries ORDER BY code`,
        );
        expect(codes.map((r) => r.code)).toEqual(['DE', 'FR']);
      });
    const pristine = await catalog();

    const dry = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`CREATE ROLE \`${role}\`;`);
    expect(dry.stdout).toContain(
      `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX, ALTER, CREATE VIEW ON \`${db}\`.* TO \`${role}\`;`,
    );
    expect(dry.stdout).toContain(`GRANT SELECT ON \`${ref}\`.\`countries\` TO \`${role}\`;`);
    expect(dry.stdout).toMatch(/view item_count in .* run as DEFINER/);
    expect(dry.stdout).not.toMatch(/IDENTIFIED|PASSWORD|old-app-password|BEGIN/);
    expect(await catalog()).toBe(pristine);

    const adopted = await p.cli(['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--yes']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toMatch(/adopted: 2 privileges of ".*_app@%" verified effective/);
    await appWork(oldUrl, 'old-after-adopt');

    const rotated = await p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const newUrl = (await p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim();
    expect(new URL(newUrl).username).toBe(`${prefix}_a`);
    await appWork(newUrl, 'new-login');
    await appWork(oldUrl, 'old-after-rotate');

    const afterRotate = await catalog();
    const again = await p.cli([
      'db',
      'adopt',
      'DATABASE_URL',
      '--env',
      'production',
      '--yes',
      '--from-user',
      old,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already adopted');
    expect(await catalog()).toBe(afterRotate);

    p.clock.advance(2 * DAY);
    const second = await p.cli(['rotate', 'DATABASE_URL', '--env', 'production']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    await appWork(
      (await p.cli(['get', 'DATABASE_URL', '--env', 'production'])).stdout.trim(),
      'second-login',
    );
    // The second rotation superseded the imported version: the original user is locked, proven.
    await expect(mariadb(oldUrl, async () => undefined)).rejects.toMatchObject({ errno: 4151 });
    const audit = await (async () => {
      const store = await p.rotor().store();
      try {
        return (
          await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute()
        ).map((r) => JSON.parse(r.entry) as { action: string; outcome: string });
      } finally {
        await store.close();
      }
    })();
    expect(audit.filter((e) => e.action === 'retire.verified')).toEqual([
      expect.objectContaining({ outcome: 'success' }),
    ]);

    const settled = await catalog();
    for (const [args, code] of [
      [
        ['db', 'adopt', 'DATABASE_URL', '--env', 'production', '--from-user', `${prefix}_ghost`],
        'ERR_ROTOR_DB_ROLE_NOT_FOUND',
      ],
      [
        ['db', 'adopt', 'CLASH_URL', '--env', 'production', '--from-user', old],
        'ERR_ROTOR_DB_ROLE_CONFLICT',
      ],
      [
        ['db', 'adopt', 'WEAK_URL', '--env', 'production', '--from-user', old],
        'ERR_ROTOR_DB_PRIVILEGE_MISSING',
      ],
    ] as const) {
      const r = await p.cli([...args, '--yes']);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(code);
    }
    expect(await catalog()).toBe(settled);
  });
});
