// The dashboard's chain status: verified in full once, then only the rows after the last verified
// head (and the head row itself) on each view; in full again after `fullEveryMs` or once broken.
// These tests pin down what an incremental check detects at once and what waits for the next
// full verification. Tampering is done the way an attacker with the file would: triggers dropped,
// rows updated or deleted with SQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';
import { createIncrementalVerifier } from '../src/core/audit/audit-verify-incremental.js';
import { createManualClock } from '../src/core/clock.js';
import { openStore, type Store } from '../src/core/store/open-store.js';
import { seedAuditLog } from '../bench/audit-log-seed.js';

const FULL_EVERY_MS = 60_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-incr-verify-'));
  const store: Store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env: {} });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  seedAuditLog(store.location, rows);
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const verifier = createIncrementalVerifier({
    clock,
    fullEveryMs: FULL_EVERY_MS,
    verify: { threads: 1 },
  });
  const tamper = (fn: (db: BetterSqlite3.Database) => void) => {
    const db = new BetterSqlite3(store.location);
    db.exec(
      'DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete',
    );
    fn(db);
    db.close();
  };
  const editEntry = (seq: number) =>
    tamper((db) => {
      const { entry } = db.prepare('SELECT entry FROM audit_events WHERE seq = ?').get(seq) as {
        entry: string;
      };
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = ?').run(
        entry.replace('"outcome":"', '"outcome":"x'),
        seq,
      );
    });
  return {
    store,
    clock,
    verifier,
    tamper,
    editEntry,
    append: (n: number) => seedAuditLog(store.location, n, Date.UTC(2027, 0, 1)),
  };
}

describe('incremental chain status', () => {
  test('verifies in full once, then only appended rows, counting every row', async () => {
    const s = await setup(300);
    const first = await s.verifier.status(s.store);
    expect(first).toMatchObject({ ok: true, rows: 300, headSeq: 300, incremental: false });
    s.append(50);
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
    const s = await setup(200);
    await s.verifier.status(s.store);
    s.append(40);
    s.editEntry(220);
    const result = await s.verifier.status(s.store);
    expect(result).toMatchObject({ ok: false, incremental: false, firstBad: { seq: 220 } });
    // Broken stays broken on every later view.
    expect((await s.verifier.status(s.store)).ok).toBe(false);
  });

  test('a row inserted or deleted after the head is found at once', async () => {
    const s = await setup(100);
    await s.verifier.status(s.store);
    s.append(20);
    s.tamper((db) => db.prepare('DELETE FROM audit_events WHERE seq = 110').run());
    expect(await s.verifier.status(s.store)).toMatchObject({
      ok: false,
      firstBad: { seq: 110, problem: 'deleted' },
    });
  });

  test('an edit to the head row itself, or its deletion, is found at once', async () => {
    const edited = await setup(100);
    await edited.verifier.status(edited.store);
    edited.editEntry(100);
    expect(await edited.verifier.status(edited.store)).toMatchObject({
      ok: false,
      firstBad: { seq: 100 },
    });

    const deleted = await setup(100);
    await deleted.verifier.status(deleted.store);
    deleted.append(5);
    deleted.tamper((db) => db.prepare('DELETE FROM audit_events WHERE seq = 100').run());
    expect(await deleted.verifier.status(deleted.store)).toMatchObject({
      ok: false,
      firstBad: { seq: 100, problem: 'deleted' },
    });
  });

  test('an edit before the head waits for the next full verification (at most fullEveryMs)', async () => {
    const s = await setup(100);
    await s.verifier.status(s.store);
    s.editEntry(50);
    // Defined behaviour: the incremental check does not re-read rows before the head.
    expect(await s.verifier.status(s.store)).toMatchObject({ ok: true, incremental: true });
    s.clock.advance(FULL_EVERY_MS);
    expect(await s.verifier.status(s.store)).toMatchObject({
      ok: false,
      incremental: false,
      firstBad: { seq: 50, problem: 'edited' },
    });
  });
});
