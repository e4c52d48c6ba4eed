// The dashboard's chain status: verified in full once, then only the rows after the last verified
// head (and the head row itself) on each view; in full again after `fullEveryMs` or once broken.
// These tests pin down what an incremental check detects at once and what waits for the next
// full verification. Tampering is done the way an attacker with the database would: triggers
// dropped, rows updated or deleted with SQL. Runs over both store backends (SQLite, PostgreSQL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, test } from 'vitest';
import { canonicalEntry, chainHash, GENESIS_HASH } from '../src/core/audit/audit-log.js';
import { createIncrementalVerifier } from '../src/core/audit/audit-verify-incremental.js';
import { createManualClock } from '../src/core/clock.js';
import { openStore, type Store } from '../src/core/store/open-store.js';
import { seededEntry } from '../bench/audit-log-seed.js';
import { forEachBackend, type StoreBackend } from './helpers/store-backends.js';

const FULL_EVERY_MS = 60_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Appends `rows` chained entries of the benchmark's seeded log with plain inserts. */
async function seed(store: Store, rows: number, startAt = Date.UTC(2024, 0, 1)): Promise<void> {
  const head = await store.db
    .selectFrom('audit_events')
    .select('hash')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  let prev = head?.hash ?? GENESIS_HASH;
  const values = Array.from({ length: rows }, (_, i) => {
    const e = seededEntry(i, startAt + i * 1000);
    const entry = canonicalEntry(e);
    prev = chainHash(prev, entry);
    const at = Date.parse(e.at);
    return {
      at,
      secret: e.secret,
      environment: e.environment,
      action: e.action,
      entry,
      hash: prev,
    };
  });
  for (let i = 0; i < values.length; i += 500)
    await store.db
      .insertInto('audit_events')
      .values(values.slice(i, i + 500))
      .execute();
}

async function setup(backend: StoreBackend, rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-incr-verify-'));
  const env = await backend.freshStore();
  const store: Store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await seed(store, rows);
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const verifier = createIncrementalVerifier({
    clock,
    fullEveryMs: FULL_EVERY_MS,
    verify: { threads: 1 },
  });
  let triggers = true;
  const dropTriggers = async () => {
    if (!triggers) return;
    triggers = false;
    const on = store.dialect === 'postgres' ? ' ON audit_events' : '';
    for (const name of ['audit_events_no_update', 'audit_events_no_delete'])
      await sql.raw(`DROP TRIGGER IF EXISTS ${name}${on}`).execute(store.db);
  };
  return {
    store,
    clock,
    verifier,
    async deleteRow(seq: number) {
      await dropTriggers();
      await store.db.deleteFrom('audit_events').where('seq', '=', seq).execute();
    },
    async editEntry(seq: number) {
      await dropTriggers();
      await store.db
        .updateTable('audit_events')
        .set({ entry: sql<string>`replace(entry, '"outcome":"', '"outcome":"x')` })
        .where('seq', '=', seq)
        .execute();
    },
    append: (n: number) => seed(store, n, Date.UTC(2027, 0, 1)),
  };
}

forEachBackend((backend) =>
  describe('incremental chain status', { timeout: 60_000 }, () => {
    test('verifies in full once, then only appended rows, counting every row', async () => {
      const s = await setup(backend, 300);
      const first = await s.verifier.status(s.store);
      expect(first).toMatchObject({ ok: true, rows: 300, headSeq: 300, incremental: false });
      await s.append(50);
      const next = await s.verifier.status(s.store);
      expect(next).toMatchObject({
        ok: true,
        rows: 350,
        headSeq: 350,
        incremental: true,
        fullAt: first.fullAt,
      });
      s.clock.advance(FULL_EVERY_MS);
      expect(await s.verifier.status(s.store)).toMatchObject({
        ok: true,
        rows: 350,
        incremental: false,
      });
    });

    test('an edited row after the last verified head is found at once and named by a full verification', async () => {
      const s = await setup(backend, 200);
      await s.verifier.status(s.store);
      await s.append(40);
      await s.editEntry(220);
      const result = await s.verifier.status(s.store);
      expect(result).toMatchObject({ ok: false, incremental: false, firstBad: { seq: 220 } });
      // Broken stays broken on every later view.
      expect((await s.verifier.status(s.store)).ok).toBe(false);
    });

    test('a row inserted or deleted after the head is found at once', async () => {
      const s = await setup(backend, 100);
      await s.verifier.status(s.store);
      await s.append(20);
      await s.deleteRow(110);
      expect(await s.verifier.status(s.store)).toMatchObject({
        ok: false,
        firstBad: { seq: 110, problem: 'deleted' },
      });
    });

    test('an edit to the head row itself, or its deletion, is found at once', async () => {
      const edited = await setup(backend, 100);
      await edited.verifier.status(edited.store);
      await edited.editEntry(100);
      expect(await edited.verifier.status(edited.store)).toMatchObject({
        ok: false,
        firstBad: { seq: 100 },
      });

      const deleted = await setup(backend, 100);
      await deleted.verifier.status(deleted.store);
      await deleted.append(5);
      await deleted.deleteRow(100);
      expect(await deleted.verifier.status(deleted.store)).toMatchObject({
        ok: false,
        firstBad: { seq: 100, problem: 'deleted' },
      });
    });

    test('an edit before the head waits for the next full verification (at most fullEveryMs)', async () => {
      const s = await setup(backend, 100);
      await s.verifier.status(s.store);
      await s.editEntry(50);
      // Defined behaviour: the incremental check does not re-read rows before the head.
      expect(await s.verifier.status(s.store)).toMatchObject({ ok: true, incremental: true });
      s.clock.advance(FULL_EVERY_MS);
      expect(await s.verifier.status(s.store)).toMatchObject({
        ok: false,
        incremental: false,
        firstBad: { seq: 50, problem: 'edited' },
      });
    });
  }),
);
