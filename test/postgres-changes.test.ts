// The PostgreSQL change signal: commits of another connection to the watched tables reach
// onChange through LISTEN/NOTIFY (no notification, no call), the readiness probe's meta row does
// not, and a LISTEN connection killed by the server is re-established.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { openPostgresStore } from '../src/core/store/postgres-adapter.js';
import type { ChangeWatch, Store } from '../src/core/store/open-store.js';
import type { Database } from '../src/core/store/schema.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!postgres.available)('postgresChangeSource', () => {
  let store: Store;
  let other: Store;
  let drop: () => Promise<void> = async () => {};
  let watch: ChangeWatch;
  let calls = 0;
  let url = '';

  const setMeta = (db: Kysely<Database>, key: string, value: string) =>
    db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();

  beforeAll(async () => {
    const db = await createScratchDatabase('changes');
    drop = () => db.drop();
    url = db.url;
    const target = { url: db.url, display: 'test store' };
    store = await openPostgresStore(target, { create: true });
    other = await openPostgresStore(target, { create: false });
    watch = await store.changes!.watch({ onChange: () => void (calls += 1) });
    // The first connect looks once (commits made while no one listened).
    await waitFor('the first look', () => calls >= 1);
  }, 60_000);

  afterAll(async () => {
    await watch?.close();
    await store?.close();
    await other?.close();
    await drop();
  });

  test('a commit of another connection calls onChange; no commit, no call', async () => {
    const before = calls;
    await watch.check();
    await watch.check();
    expect(calls).toBe(before);
    await setMeta(other.db, 'policy_sha256', 'abc');
    await waitFor('onChange after a meta commit', () => calls > before);
    // Statement triggers: an UPDATE of no row is enough to notify.
    const columns = { versions: 'created_at', secrets: 'name', api_tokens: 'created_at' };
    for (const [table, column] of Object.entries(columns)) {
      const seen = calls;
      const col = sql.ref(column);
      await sql`UPDATE ${sql.table(table)} SET ${col} = ${col} WHERE false`.execute(other.db);
      await waitFor(`onChange after a commit to ${table}`, () => calls > seen);
    }
  });

  test('the readiness probe row notifies no one', async () => {
    const { default: pg } = await import('pg');
    const listener = new pg.Client({ connectionString: url });
    const seen: string[] = [];
    await listener.connect();
    try {
      listener.on('notification', (n) => seen.push(n.payload ?? ''));
      await listener.query('LISTEN rotor_changes');
      await setMeta(other.db, 'ready_probe_at', '1');
      await setMeta(other.db, 'policy_text', 'x');
      await waitFor('the policy row notification', () => seen.length > 0);
      expect(seen).toEqual(['meta']);
    } finally {
      await listener.end();
    }
  });

  test('a LISTEN connection terminated by the server is re-established', async () => {
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'rotor-listen' AND datname = current_database()`.execute(
      other.db,
    );
    expect(rows[0]!.n).toBe(1);
    await waitFor('a new LISTEN connection', async () => {
      const { rows: again } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'rotor-listen' AND datname = current_database()`.execute(
        other.db,
      );
      return again[0]!.n === 1;
    });
    const before = calls;
    await setMeta(other.db, 'policy_sha256', 'ghi');
    await waitFor('onChange after the reconnect', () => calls > before);
  }, 60_000);
});
