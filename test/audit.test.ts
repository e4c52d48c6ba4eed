// The audit log's reading side: `verify` names the first edited, deleted, inserted, reordered
// or malformed row after an attacker with file access dropped the append-only triggers; the
// store refuses UPDATE and DELETE while they are in place; listing filters on the hashed entry;
// exports (md, csv, json) escape, quote and re-chain; the CLI's exit codes and errors.
import { createHash, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  recordAudit,
  type Actor,
  type AuditEntry,
  type AuditEventInput,
} from '../src/core/audit/audit-log.js';
import { csvField, exportAudit, markdownCell } from '../src/core/audit/audit-export.js';
import { entryProblem, listAudit } from '../src/core/audit/audit-query.js';
import {
  verifyAuditChain,
  type AuditVerifyResult,
  type VerifyAuditOptions,
} from '../src/core/audit/audit-verify.js';
import { createManualClock } from '../src/core/clock.js';
import { isRotorError } from '../src/core/errors.js';
import { openStore, type Store } from '../src/core/store/open-store.js';
import { runCli } from '../src/cli/program.js';
import type { CliIo } from '../src/cli/io.js';
import { createProject, type TestProject } from './helpers/project.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const ACTOR: Actor = {
  operator: 'alice',
  requestId: '11111111-1111-4111-8111-111111111111',
  method: 'manual',
};

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-audit-'));
  dirs.push(dir);
  return dir;
}

function event(i: number): AuditEventInput {
  return {
    secret: i % 2 === 0 ? 'JWT_ACCESS_SECRET' : 'DATABASE_URL',
    environment: i % 3 === 0 ? 'staging' : 'production',
    action: i % 2 === 0 ? 'rotate.promote' : 'rotate.create',
    outcome: 'success',
    notes: `event ${i}`,
    details: { n: i },
  };
}

interface Log {
  stateDir: string;
  file: string;
  store: Store;
  /** Closes the store, runs `fn` on the raw file as an attacker would, and reopens it. */
  tamper(fn: (db: BetterSqlite3.Database) => void): Promise<Store>;
  rows(): Array<{ seq: number; entry: string; hash: string }>;
}

async function createLog(n: number): Promise<Log> {
  const stateDir = join(tempDir(), '.rotor');
  const clock = createManualClock(T0);
  let store = await openStore({ stateDir, create: true, env: {} });
  stores.push(store);
  for (let i = 1; i <= n; i++) {
    await recordAudit(store, clock, ACTOR, event(i));
    clock.advance(MIN);
  }
  const file = join(stateDir, 'rotor.db');
  const log: Log = {
    stateDir,
    file,
    get store() {
      return store;
    },
    async tamper(fn) {
      await store.close();
      const db = new BetterSqlite3(file);
      db.exec(
        'DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;',
      );
      fn(db);
      db.close();
      store = await openStore({ stateDir, env: {} });
      stores.push(store);
      return store;
    },
    rows() {
      const db = new BetterSqlite3(file, { readonly: true });
      try {
        return db.prepare('SELECT seq, entry, hash FROM audit_events ORDER BY seq').all() as Array<{
          seq: number;
          entry: string;
          hash: string;
        }>;
      } finally {
        db.close();
      }
    },
  };
  return log;
}

function forgedEntry(notes: string): string {
  const e: AuditEntry = {
    v: 1,
    at: new Date(T0 + 2 * MIN + 1).toISOString(),
    secret: 'JWT_ACCESS_SECRET',
    environment: 'production',
    operator: 'mallory',
    method: 'manual',
    action: 'rotate.promote',
    outcome: 'success',
    requestId: randomUUID(),
    notes,
    details: {},
  };
  return canonicalEntry(e);
}

/** Moves rows seq >= from up by one, leaving `from` free (two steps: the PK is checked per row). */
function makeRoom(db: BetterSqlite3.Database, from: number): void {
  db.prepare('UPDATE audit_events SET seq = -seq WHERE seq >= ?').run(from);
  db.prepare('UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0').run();
}

function insertRow(db: BetterSqlite3.Database, seq: number, entry: string, hash: string): void {
  db.prepare(
    'INSERT INTO audit_events (seq, at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(seq, T0, 'JWT_ACCESS_SECRET', 'production', 'rotate.promote', entry, hash);
}

/** Rewrites every hash from `from` on so the chain is internally consistent again. */
function rechain(db: BetterSqlite3.Database): void {
  const rows = db.prepare('SELECT seq, entry FROM audit_events ORDER BY seq').all() as Array<{
    seq: number;
    entry: string;
  }>;
  let prev = GENESIS_HASH;
  const update = db.prepare('UPDATE audit_events SET hash = ? WHERE seq = ?');
  for (const r of rows) {
    prev = chainHash(prev, r.entry);
    update.run(prev, r.seq);
  }
}

function swapSeq(db: BetterSqlite3.Database, a: number, b: number): void {
  db.prepare('UPDATE audit_events SET seq = -1 WHERE seq = ?').run(a);
  db.prepare('UPDATE audit_events SET seq = ? WHERE seq = ?').run(a, b);
  db.prepare('UPDATE audit_events SET seq = ? WHERE seq = -1').run(b);
}

function expectBad(result: AuditVerifyResult, seq: number, problem: string): void {
  expect(result.ok).toBe(false);
  expect(result.firstBad).toMatchObject({ seq, problem });
  expect(result.firstBad?.message).toContain(`${seq}`);
}

describe('verifyAuditChain', () => {
  it('an untouched log verifies, reporting the row count and the hash of the newest row', async () => {
    const log = await createLog(5);
    const result = await verifyAuditChain(log.store);
    const rows = log.rows();
    expect(result).toEqual({ ok: true, rows: 5, headSeq: 5, headHash: rows[4]!.hash });
  });

  it('an empty log verifies with zero rows and the genesis hash', async () => {
    const log = await createLog(0);
    expect(await verifyAuditChain(log.store)).toEqual({
      ok: true,
      rows: 0,
      headSeq: 0,
      headHash: GENESIS_HASH,
    });
  });

  it('an edited entry is named as the first bad row, problem "edited"', async () => {
    const log = await createLog(6);
    const store = await log.tamper((db) => {
      const entry = (
        db.prepare('SELECT entry FROM audit_events WHERE seq = 3').get() as { entry: string }
      ).entry;
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = 3').run(
        entry.replace('"operator":"alice"', '"operator":"bob"'),
      );
    });
    const result = await verifyAuditChain(store);
    expectBad(result, 3, 'edited');
    expect(result.rows).toBe(2);
    expect(result.headSeq).toBe(2);
    expect(result.headHash).toBe(log.rows()[1]!.hash);
  });

  it('an edited hash with its entry untouched is reported as "edited"', async () => {
    const log = await createLog(4);
    const store = await log.tamper((db) =>
      db.prepare('UPDATE audit_events SET hash = ? WHERE seq = 2').run('f'.repeat(64)),
    );
    expectBad(await verifyAuditChain(store), 2, 'edited');
  });

  it('a deleted middle row is named by its missing seq, problem "deleted"', async () => {
    const log = await createLog(6);
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq = 3').run(),
    );
    const result = await verifyAuditChain(store);
    expectBad(result, 3, 'deleted');
    expect(result.rows).toBe(2);
  });

  it('deleting several rows names the first missing one', async () => {
    const log = await createLog(8);
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq IN (4, 5, 6)').run(),
    );
    const result = await verifyAuditChain(store);
    expectBad(result, 4, 'deleted');
    expect(result.firstBad?.message).toMatch(/rows 4–6 are missing/);
  });

  it('deleting the first row is detected', async () => {
    const log = await createLog(3);
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq = 1').run(),
    );
    expectBad(await verifyAuditChain(store), 1, 'deleted');
  });

  it('a deleted row is still caught when the attacker re-chained every hash after it (the seq gap remains)', async () => {
    const log = await createLog(6);
    const store = await log.tamper((db) => {
      db.prepare('DELETE FROM audit_events WHERE seq = 3').run();
      rechain(db);
    });
    const result = await verifyAuditChain(store);
    expectBad(result, 3, 'deleted');
    expect(result.firstBad?.message).toMatch(/re-chained/);
  });

  it('a forged row inserted mid-log with a correct link to the row before it is named as "inserted"', async () => {
    const log = await createLog(6);
    const before = log.rows();
    const store = await log.tamper((db) => {
      makeRoom(db, 3);
      const entry = forgedEntry('nothing to see here');
      insertRow(db, 3, entry, chainHash(before[1]!.hash, entry));
    });
    const result = await verifyAuditChain(store);
    expectBad(result, 3, 'inserted');
    expect(result.rows).toBe(3);
  });

  it('a forged row inserted mid-log with a made-up hash is named as "inserted"', async () => {
    const log = await createLog(6);
    const store = await log.tamper((db) => {
      makeRoom(db, 4);
      insertRow(db, 4, forgedEntry('made up'), 'a'.repeat(64));
    });
    expectBad(await verifyAuditChain(store), 4, 'inserted');
  });

  it('a forged first row is named as "inserted"', async () => {
    const log = await createLog(3);
    const store = await log.tamper((db) => {
      makeRoom(db, 1);
      const entry = forgedEntry('first');
      insertRow(db, 1, entry, chainHash(GENESIS_HASH, entry));
    });
    expectBad(await verifyAuditChain(store), 1, 'inserted');
  });

  it('two rows whose seqs were swapped are reported as "reordered" at the earlier seq', async () => {
    const log = await createLog(6);
    const store = await log.tamper((db) => swapSeq(db, 2, 5));
    expectBad(await verifyAuditChain(store), 2, 'reordered');
  });

  it('two adjacent swapped rows are reported as "reordered"', async () => {
    const log = await createLog(5);
    const store = await log.tamper((db) => swapSeq(db, 3, 4));
    expectBad(await verifyAuditChain(store), 3, 'reordered');
  });

  it('a correctly chained entry that is not JSON is reported as "malformed"', async () => {
    const log = await createLog(4);
    const store = await log.tamper((db) => {
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = 2').run('{"v":1,"at":');
      rechain(db);
    });
    const result = await verifyAuditChain(store);
    expectBad(result, 2, 'malformed');
    expect(result.firstBad?.message).toBe("row 2's entry is not valid JSON");
  });

  it('a correctly chained entry without an operator is reported as "malformed", naming the key', async () => {
    const log = await createLog(4);
    const store = await log.tamper((db) => {
      const entry = JSON.parse(
        (db.prepare('SELECT entry FROM audit_events WHERE seq = 3').get() as { entry: string })
          .entry,
      ) as Record<string, unknown>;
      delete entry.operator;
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = 3').run(JSON.stringify(entry));
      rechain(db);
    });
    const result = await verifyAuditChain(store);
    expectBad(result, 3, 'malformed');
    expect(result.firstBad?.message).toContain('lacks "operator"');
  });

  it('deleting the newest rows leaves a valid shorter chain, which an anchor from an earlier verify catches', async () => {
    const log = await createLog(6);
    const before = await verifyAuditChain(log.store);
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq >= 5').run(),
    );
    const after = await verifyAuditChain(store);
    expect(after).toMatchObject({ ok: true, rows: 4 });
    const anchored = await verifyAuditChain(store, {
      anchor: { seq: before.headSeq, hash: before.headHash },
    });
    expectBad(anchored, 5, 'deleted');
  });

  it('an anchor whose hash no longer matches its row reports that row as "edited"', async () => {
    const log = await createLog(4);
    const result = await verifyAuditChain(log.store, { anchor: { seq: 3, hash: 'b'.repeat(64) } });
    expectBad(result, 3, 'edited');
    expect(
      (await verifyAuditChain(log.store, { anchor: { seq: 3, hash: log.rows()[2]!.hash } })).ok,
    ).toBe(true);
  });

  it('gives the same verdicts whatever the chunk size, across chunk boundaries', async () => {
    const log = await createLog(9);
    const store = await log.tamper((db) => swapSeq(db, 6, 8));
    for (const chunkSize of [1, 2, 3, 5, 100]) {
      expectBad(await verifyAuditChain(store, { chunkSize }), 6, 'reordered');
    }
    const deleted = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq = 4').run(),
    );
    for (const chunkSize of [1, 2, 3, 4, 100])
      expectBad(await verifyAuditChain(deleted, { chunkSize }), 4, 'deleted');
  });

  it('accepts a seq gap over an intact chain only where the database may leave gaps (allowSeqGaps)', async () => {
    const log = await createLog(5);
    const store = await log.tamper((db) => {
      db.prepare('UPDATE audit_events SET seq = seq + 10 WHERE seq >= 3').run();
    });
    expectBad(await verifyAuditChain(store), 3, 'deleted');
    expect(await verifyAuditChain(store, { allowSeqGaps: true })).toMatchObject({
      ok: true,
      rows: 5,
      headSeq: 15,
    });
  });
});

// Verify reads through the dialect's bulk reader (SQLite), on a large log in worker threads, one
// range of seqs each; the portable Kysely path explains a break. These tests force the threads
// on small logs and hold every path to the same verdicts.
interface VerifyMode {
  name: string;
  threads?: number;
  verify(store: Store, options?: VerifyAuditOptions): Promise<AuditVerifyResult>;
}
const MODES: VerifyMode[] = [
  {
    name: 'portable queries only (a store without a bulk reader)',
    verify: (s, o) => verifyAuditChain({ db: s.db, guard: s.guard.bind(s), dialect: s.dialect }, o),
  },
  {
    name: 'the bulk reader on the calling thread',
    verify: (s, o) => verifyAuditChain(s, { ...o, threads: 1 }),
  },
  {
    name: 'two worker threads',
    threads: 2,
    verify: (s, o) => verifyAuditChain(s, { ...o, threads: 2, parallelThreshold: 0 }),
  },
  {
    name: 'three worker threads',
    threads: 3,
    verify: (s, o) => verifyAuditChain(s, { ...o, threads: 3, parallelThreshold: 0, chunkSize: 4 }),
  },
];

/** Runs every mode; each must match `expected` (a first bad row, or an intact log's row count) and the others. */
async function expectSameVerdicts(
  store: Store,
  expected: { seq: number; problem: string } | { rows: number },
  options: VerifyAuditOptions = {},
): Promise<AuditVerifyResult> {
  const results: AuditVerifyResult[] = [];
  for (const mode of MODES) {
    const result = await mode.verify(store, options);
    expect(result.threads, mode.name).toBe(mode.threads);
    if ('seq' in expected) expect(result.firstBad, mode.name).toMatchObject(expected);
    else expect(result, mode.name).toMatchObject({ ok: true, ...expected });
    const { threads: _threads, ...verdict } = result;
    results.push(verdict);
  }
  for (const [i, r] of results.entries()) expect(r, MODES[i]!.name).toEqual(results[0]);
  return results[0]!;
}

describe('verifyAuditChain across threads (24 rows: two threads split after row 12, three after rows 8 and 16)', () => {
  it('an untouched log verifies the same on every path, and says how many threads shared the scan', async () => {
    const log = await createLog(24);
    const result = await expectSameVerdicts(log.store, { rows: 24 });
    expect(result).toEqual({ ok: true, rows: 24, headSeq: 24, headHash: log.rows()[23]!.hash });
  });

  it('a small log stays on the calling thread unless told otherwise (default threshold)', async () => {
    const log = await createLog(6);
    expect((await verifyAuditChain(log.store, { threads: 4 })).threads).toBeUndefined();
  });

  it('an edited entry in the second range is named as the first bad row', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) => {
      const entry = (
        db.prepare('SELECT entry FROM audit_events WHERE seq = 17').get() as { entry: string }
      ).entry;
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = 17').run(
        entry.replace('"operator":"alice"', '"operator":"bob"'),
      );
    });
    const result = await expectSameVerdicts(store, { seq: 17, problem: 'edited' });
    expect(result).toMatchObject({ rows: 16, headSeq: 16, headHash: log.rows()[15]!.hash });
  });

  it('an edit on the first row of a range is caught by the link across the boundary', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) =>
      db.prepare('UPDATE audit_events SET hash = ? WHERE seq = 13').run('c'.repeat(64)),
    );
    await expectSameVerdicts(store, { seq: 13, problem: 'edited' });
  });

  it('an edit on the last row of a range wins over the break it causes in the next range', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) =>
      db.prepare('UPDATE audit_events SET hash = ? WHERE seq = 12').run('d'.repeat(64)),
    );
    await expectSameVerdicts(store, { seq: 12, problem: 'edited' });
  });

  it('the earliest break wins when several ranges are broken', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) => {
      db.prepare('DELETE FROM audit_events WHERE seq = 20').run();
      db.prepare('UPDATE audit_events SET hash = ? WHERE seq = 5').run('e'.repeat(64));
    });
    await expectSameVerdicts(store, { seq: 5, problem: 'edited' });
  });

  it('deleted rows at a range boundary are named by the first missing seq', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq IN (12, 13)').run(),
    );
    const result = await expectSameVerdicts(store, { seq: 12, problem: 'deleted' });
    expect(result.firstBad?.message).toMatch(/rows 12–13 are missing/);
  });

  it('a deleted and re-chained row in the second range is still "deleted"', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) => {
      db.prepare('DELETE FROM audit_events WHERE seq = 19').run();
      rechain(db);
    });
    await expectSameVerdicts(store, { seq: 19, problem: 'deleted' });
  });

  it('a forged row inserted in the second range is "inserted"', async () => {
    const log = await createLog(24);
    const before = log.rows();
    const store = await log.tamper((db) => {
      makeRoom(db, 18);
      const entry = forgedEntry('late forgery');
      insertRow(db, 18, entry, chainHash(before[16]!.hash, entry));
    });
    await expectSameVerdicts(store, { seq: 18, problem: 'inserted' });
  });

  it('rows swapped across a range boundary are "reordered"', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) => swapSeq(db, 12, 13));
    await expectSameVerdicts(store, { seq: 12, problem: 'reordered' });
    const far = await log.tamper((db) => swapSeq(db, 15, 21));
    await expectSameVerdicts(far, { seq: 12, problem: 'reordered' });
  });

  it('a correctly chained malformed entry in the last range is "malformed"', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) => {
      db.prepare('UPDATE audit_events SET entry = ? WHERE seq = 22').run('{"v":1,"at":');
      rechain(db);
    });
    const result = await expectSameVerdicts(store, { seq: 22, problem: 'malformed' });
    expect(result.firstBad?.message).toBe("row 22's entry is not valid JSON");
  });

  it('a NULL entry (after the NOT NULL constraint was edited out of the schema) is reported as "edited"', async () => {
    const log = await createLog(24);
    await log.tamper((db) => {
      db.unsafeMode(true); // lifts SQLite's defensive mode, which forbids editing the schema table
      db.exec('PRAGMA writable_schema = ON');
      db.prepare(
        "UPDATE sqlite_schema SET sql = replace(sql, '\"entry\" text not null', '\"entry\" text') WHERE name = 'audit_events'",
      ).run();
      db.exec('PRAGMA writable_schema = OFF');
    });
    const store = await log.tamper((db) =>
      db.prepare('UPDATE audit_events SET entry = NULL WHERE seq = 15').run(),
    );
    expect(log.rows()[14]!.entry).toBeNull();
    await expectSameVerdicts(store, { seq: 15, problem: 'edited' });
  });

  it('anchors are checked in whichever range holds them', async () => {
    const log = await createLog(24);
    const rows = log.rows();
    await expectSameVerdicts(
      log.store,
      { rows: 24 },
      { anchor: { seq: 20, hash: rows[19]!.hash } },
    );
    await expectSameVerdicts(
      log.store,
      { seq: 20, problem: 'edited' },
      { anchor: { seq: 20, hash: 'b'.repeat(64) } },
    );
    const store = await log.tamper((db) =>
      db.prepare('DELETE FROM audit_events WHERE seq >= 21').run(),
    );
    await expectSameVerdicts(
      store,
      { seq: 21, problem: 'deleted' },
      { anchor: { seq: 24, hash: rows[23]!.hash } },
    );
  });

  it('a seq gap over an intact chain in the second range is accepted only with allowSeqGaps', async () => {
    const log = await createLog(24);
    const store = await log.tamper((db) =>
      db.prepare('UPDATE audit_events SET seq = seq + 100 WHERE seq >= 16').run(),
    );
    await expectSameVerdicts(store, { seq: 16, problem: 'deleted' });
    const result = await expectSameVerdicts(store, { rows: 24 }, { allowSeqGaps: true });
    expect(result.headSeq).toBe(124);
  });

  it('a worker thread that hits a corrupt page fails with ERR_ROTOR_STORE_CORRUPT, as the calling thread does', async () => {
    const log = await createLog(60);
    await log.store.close();
    const raw = new BetterSqlite3(log.file);
    const leaves = raw
      .prepare(
        "SELECT pageno FROM dbstat WHERE name = 'audit_events' AND pagetype = 'leaf' ORDER BY path",
      )
      .pluck()
      .all() as number[];
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    expect(leaves.length).toBeGreaterThanOrEqual(3);
    // A leaf in the second half, neither the first nor the last: the main thread's own reads do not touch it.
    const fd = openSync(log.file, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, (leaves[leaves.length - 2]! - 1) * pageSize);
    closeSync(fd);
    const store = await openStore({ stateDir: log.stateDir, env: {} });
    stores.push(store);
    for (const options of [{ threads: 2, parallelThreshold: 0 }, { threads: 1 }]) {
      const error = await verifyAuditChain(store, options).catch((e: unknown) => e);
      expect(isRotorError(error, 'ERR_ROTOR_STORE_CORRUPT'), JSON.stringify(options)).toBe(true);
      expect((error as Error).message).toContain(log.file);
    }
  });
});

describe('chainHash', () => {
  it('hashes exactly the UTF-8 of "previous hash, newline, entry", whatever the characters and length', () => {
    const prev = chainHash(GENESIS_HASH, 'x');
    const entries = [
      '',
      'plain',
      'zoë "op" \u2028 \u0001 😀',
      'lone \uD800 high',
      '\uDC00 lone low',
      'end\uD83D',
      'ÿ\u0100',
      'x'.repeat(70_000),
      'é'.repeat(30_000),
      '😀'.repeat(12_000),
    ];
    for (const entry of entries) {
      expect(chainHash(prev, entry), JSON.stringify(entry.slice(0, 20))).toBe(
        createHash('sha256').update(`${prev}\n${entry}`, 'utf8').digest('hex'),
      );
      expect(chainHash(GENESIS_HASH, entry)).toBe(
        createHash('sha256').update(`${GENESIS_HASH}\n${entry}`, 'utf8').digest('hex'),
      );
    }
  });
});

describe('the append-only store', () => {
  it('refuses UPDATE of an audit row with ERR_ROTOR_STORE_AUDIT_APPEND_ONLY and changes nothing', async () => {
    const log = await createLog(2);
    const before = log.rows();
    const error = await log.store
      .guard(() =>
        log.store.db
          .updateTable('audit_events')
          .set({ entry: '{}' })
          .where('seq', '=', 1)
          .execute(),
      )
      .catch((e: unknown) => e);
    expect(isRotorError(error, 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY')).toBe(true);
    expect((error as Error).message).toBe(
      'audit rows are append-only: the store refused to change or delete one',
    );
    expect(log.rows()).toEqual(before);
  });

  it('refuses DELETE of an audit row with ERR_ROTOR_STORE_AUDIT_APPEND_ONLY and keeps the row', async () => {
    const log = await createLog(2);
    const error = await log.store
      .guard(() => log.store.db.deleteFrom('audit_events').where('seq', '=', 2).execute())
      .catch((e: unknown) => e);
    expect(isRotorError(error, 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY')).toBe(true);
    expect(log.rows()).toHaveLength(2);
    expect((await verifyAuditChain(log.store)).ok).toBe(true);
  });

  it('refuses UPDATE and DELETE from a raw SQLite connection while the triggers are in place', async () => {
    const log = await createLog(2);
    await log.store.close();
    const db = new BetterSqlite3(log.file);
    try {
      expect(() => db.prepare("UPDATE audit_events SET entry = '{}' WHERE seq = 1").run()).toThrow(
        /ERR_ROTOR_STORE_AUDIT_APPEND_ONLY/,
      );
      expect(() => db.prepare('DELETE FROM audit_events').run()).toThrow(
        /ERR_ROTOR_STORE_AUDIT_APPEND_ONLY/,
      );
    } finally {
      db.close();
    }
    expect(log.rows()).toHaveLength(2);
  });
});

describe('listAudit', () => {
  it('lists newest first by default and honours limit', async () => {
    const log = await createLog(5);
    const rows = await listAudit(log.store, { limit: 2 });
    expect(rows.map((r) => r.seq)).toEqual([5, 4]);
    expect(rows[0]).toMatchObject({
      operator: 'alice',
      method: 'manual',
      notes: 'event 5',
      requestId: ACTOR.requestId,
      hash: log.rows()[4]!.hash,
    });
  });

  it('filters on the hashed entry: secret, environment, action prefix and an inclusive time range', async () => {
    const log = await createLog(6);
    expect(
      (await listAudit(log.store, { secret: 'DATABASE_URL', order: 'asc' })).map((r) => r.seq),
    ).toEqual([1, 3, 5]);
    expect(
      (await listAudit(log.store, { environment: 'staging', order: 'asc' })).map((r) => r.seq),
    ).toEqual([3, 6]);
    expect(
      (await listAudit(log.store, { action: 'rotate', order: 'asc' })).map((r) => r.seq),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      (await listAudit(log.store, { action: 'rotate.create', order: 'asc' })).map((r) => r.seq),
    ).toEqual([1, 3, 5]);
    expect((await listAudit(log.store, { action: 'rotate.pro' })).map((r) => r.seq)).toEqual([]);
    expect(
      (await listAudit(log.store, { since: T0 + MIN, until: T0 + 3 * MIN, order: 'asc' })).map(
        (r) => r.seq,
      ),
    ).toEqual([2, 3, 4]);
  });

  it('pages through the log in chunks without losing or repeating rows', async () => {
    const log = await createLog(7);
    expect((await listAudit(log.store, { chunkSize: 2 })).map((r) => r.seq)).toEqual([
      7, 6, 5, 4, 3, 2, 1,
    ]);
    expect(
      (await listAudit(log.store, { chunkSize: 3, order: 'asc', secret: 'JWT_ACCESS_SECRET' })).map(
        (r) => r.seq,
      ),
    ).toEqual([2, 4, 6]);
  });

  it('refuses to display a row whose entry is not JSON, naming the row', async () => {
    const log = await createLog(3);
    const store = await log.tamper((db) =>
      db.prepare("UPDATE audit_events SET entry = 'garbage' WHERE seq = 2").run(),
    );
    const error = await listAudit(store).catch((e: unknown) => e);
    expect(isRotorError(error, 'ERR_ROTOR_AUDIT_CHAIN_BROKEN')).toBe(true);
    expect((error as Error).message).toBe(
      'audit row 2 is malformed (its entry is not valid JSON): run `rotor audit verify`',
    );
  });
});

describe('entry validation', () => {
  it('accepts what canonicalEntry writes, including escapes, unicode and exponents', () => {
    const text = canonicalEntry({
      v: 1,
      at: new Date(T0).toISOString(),
      secret: null,
      environment: null,
      operator: 'zoë "the op" \\ o\'brien',
      method: 'emergency',
      action: 'rotate.emergency',
      outcome: 'failure',
      requestId: randomUUID(),
      notes: 'line1\nline2\t\u0001 | pipes \u2028',
      details: { z: 1.5e-7, a: -3, big: 1e21, ok: true, none: null, s: 'x"y' },
    });
    expect(entryProblem(text)).toBeUndefined();
  });

  it('names what is wrong with a non-canonical entry', () => {
    expect(entryProblem('[1]')).toBe('is not a JSON object');
    expect(entryProblem('{"v":1}')).toMatch(/^lacks "at", "secret"/);
    const good = JSON.parse(
      canonicalEntry({
        v: 1,
        at: new Date(T0).toISOString(),
        secret: null,
        environment: null,
        operator: 'a',
        method: 'api',
        action: 'x',
        outcome: 'info',
        requestId: 'r',
        notes: '',
        details: {},
      }),
    ) as Record<string, unknown>;
    expect(entryProblem(JSON.stringify({ ...good, extra: 1 }))).toBe('has unexpected "extra"');
    expect(entryProblem(JSON.stringify({ ...good, method: 'cron' }))).toMatch(
      /"method" is not one of/,
    );
    expect(entryProblem(JSON.stringify(good, null, 1))).toMatch(/not in canonical form/);
  });
});

describe('export formatting', () => {
  it('escapes Markdown cells so a note cannot break the table or inject HTML', () => {
    expect(markdownCell('a | b')).toBe('a \\| b');
    expect(markdownCell('one\ntwo\r\nthree')).toBe('one<br>two<br>three');
    expect(markdownCell('<script>&')).toBe('&lt;script&gt;&amp;');
    expect(markdownCell('back\\slash')).toBe('back\\\\slash');
  });

  it('quotes CSV fields per RFC 4180 only when needed', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(42)).toBe('42');
  });

  it('streams through a slow Writable, waiting for drain instead of buffering everything', async () => {
    const log = await createLog(30);
    let writes = 0;
    let text = '';
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, cb) {
        writes++;
        text += chunk.toString();
        setImmediate(cb);
      },
    });
    const { rows } = await exportAudit(log.store, slow, { format: 'csv', batch: 4 });
    expect(rows).toBe(30);
    expect(writes).toBeGreaterThan(5);
    expect(text.split('\r\n')).toHaveLength(32);
  });
});

/** Parses RFC 4180 CSV (quoted fields with doubled quotes and embedded line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  return rows;
}

describe('rotor audit (CLI)', () => {
  let project: TestProject;
  afterEach(() => {
    if (project) rmSync(project.dir, { recursive: true, force: true });
  });

  async function addEvents(...inputs: AuditEventInput[]): Promise<void> {
    const rotor = project.rotor();
    try {
      await recordAudit(
        await rotor.store(),
        project.clock,
        { operator: 'ops|team', requestId: randomUUID(), method: 'emergency' },
        ...inputs,
      );
    } finally {
      await rotor.close();
    }
  }

  async function tamperProject(sqlText: string): Promise<void> {
    const db = new BetterSqlite3(join(project.dir, '.rotor', 'rotor.db'));
    db.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
    db.exec(sqlText);
    db.close();
  }

  it('`rotor audit` shows the init and apply events as a table, newest first', async () => {
    project = await createProject();
    const { code, stdout } = await project.cli(['audit']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^SEQ\s+TIME\s+SECRET\s+ENV\s+OPERATOR\s+METHOD\s+ACTION\s+OUTCOME\s+NOTES$/,
    );
    const seqs = lines.slice(1, -1).map((l) => Number(l.split(/\s+/)[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(stdout).toMatch(/\binit\b/);
    expect(stdout).toMatch(/policy\.add/);
    expect(stdout).toContain('tester');
    expect(lines.at(-1)).toMatch(/event\(s\), newest first/);
  });

  it("`rotor audit list --secret --json` returns only that secret's events, with seq and hash", async () => {
    project = await createProject();
    const { code, stdout } = await project.cli([
      'audit',
      'list',
      '--secret',
      'JWT_ACCESS_SECRET',
      '--json',
    ]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as {
      events: Array<{ seq: number; secret: string; hash: string; action: string }>;
      count: number;
    };
    expect(out.count).toBeGreaterThan(0);
    for (const e of out.events) {
      expect(e.secret).toBe('JWT_ACCESS_SECRET');
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('the table neutralises control characters and escape sequences from stored notes', async () => {
    project = await createProject();
    await addEvents({
      action: 'note',
      outcome: 'info',
      notes: 'evil \u001b[31mred\u001b[0m\nsecond line',
    });
    const { stdout } = await project.cli(['audit', '--limit', '1']);
    expect(stdout).not.toContain('\u001b');
    expect(stdout).toContain('evil ?[31mred?[0m second line');
  });

  it('`rotor audit verify` exits 0 and prints the rows checked and the head hash', async () => {
    project = await createProject();
    const rows = new BetterSqlite3(join(project.dir, '.rotor', 'rotor.db'), { readonly: true })
      .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC')
      .all() as Array<{ seq: number; hash: string }>;
    const { code, stdout } = await project.cli(['audit', 'verify']);
    expect(code).toBe(0);
    expect(stdout).toContain(`audit log intact: ${rows.length} row(s) checked`);
    expect(stdout).toContain(`head: row ${rows[0]!.seq}, hash ${rows[0]!.hash}`);
    const json = await project.cli(['audit', 'verify', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      rows: rows.length,
      headSeq: rows[0]!.seq,
      headHash: rows[0]!.hash,
    });
    const anchored = await project.cli([
      'audit',
      'verify',
      '--anchor',
      `${rows[0]!.seq}:${rows[0]!.hash}`,
    ]);
    expect(anchored.code).toBe(0);
  });

  it('`rotor audit verify` exits 1 naming the first bad row after the file was tampered with', async () => {
    project = await createProject();
    await tamperProject(
      'UPDATE audit_events SET entry = replace(entry, \'"tester"\', \'"someone"\') WHERE seq = 2',
    );
    const { code, stdout } = await project.cli(['audit', 'verify']);
    expect(code).toBe(1);
    expect(stdout).toContain('audit log TAMPERED: first bad row 2 (edited)');
    expect(stdout).toContain('1 row(s) intact before it');
    const json = await project.cli(['audit', 'verify', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      rows: 1,
      firstBad: { seq: 2, problem: 'edited' },
      error: { code: 'ERR_ROTOR_AUDIT_CHAIN_BROKEN' },
    });
  });

  it('`rotor audit verify --anchor` exits 1 when the newest rows were deleted', async () => {
    project = await createProject();
    const before = JSON.parse((await project.cli(['audit', 'verify', '--json'])).stdout) as {
      headSeq: number;
      headHash: string;
    };
    await tamperProject(`DELETE FROM audit_events WHERE seq = ${before.headSeq}`);
    expect((await project.cli(['audit', 'verify'])).code).toBe(0);
    const anchored = await project.cli([
      'audit',
      'verify',
      '--anchor',
      `${before.headSeq}:${before.headHash}`,
    ]);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toContain(`first bad row ${before.headSeq} (deleted)`);
  });

  it('exports the runbook table as Markdown, escaping pipes and line breaks', async () => {
    project = await createProject();
    await addEvents({
      secret: 'JWT_ACCESS_SECRET',
      environment: 'production',
      action: 'rotate.emergency',
      outcome: 'success',
      notes: 'leaked | in chat\nrevoked at once',
    });
    const { code, stdout } = await project.cli(['audit', 'export', '--format', 'md']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('| Date | Secret | Operator | Method | Notes |');
    expect(lines[1]).toBe('| --- | --- | --- | --- | --- |');
    expect(lines.at(-1)).toBe(
      `| ${new Date(project.clock.now()).toISOString()} | JWT_ACCESS_SECRET (production) | ops\\|team | emergency | rotate.emergency (success): leaked \\| in chat<br>revoked at once |`,
    );
    // Every row has exactly the five cells: no unescaped pipe split one.
    for (const line of lines) expect(line.replace(/\\\|/g, '').split('|')).toHaveLength(7);
  });

  it('exports CSV with every field, quoted per RFC 4180', async () => {
    project = await createProject();
    await addEvents({
      secret: 'SMTP_PASSWORD',
      environment: 'staging',
      action: 'rotate.verify',
      outcome: 'failure',
      notes: 'said "no", then\nhung up',
      details: { code: 'ERR_X' },
    });
    const { code, stdout } = await project.cli(['audit', 'export', '--format', 'csv']);
    expect(code).toBe(0);
    const rows = parseCsv(stdout);
    expect(rows[0]).toEqual([
      'seq',
      'at',
      'secret',
      'environment',
      'operator',
      'method',
      'action',
      'outcome',
      'request_id',
      'notes',
      'details',
      'hash',
    ]);
    const last = rows.at(-1)!;
    expect(last.slice(2, 10)).toEqual([
      'SMTP_PASSWORD',
      'staging',
      'ops|team',
      'emergency',
      'rotate.verify',
      'failure',
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      'said "no", then\nhung up',
    ]);
    expect(JSON.parse(last[10]!)).toEqual({ code: 'ERR_X' });
    expect(last[11]).toMatch(/^[0-9a-f]{64}$/);
    expect(stdout).toContain('"said ""no"", then\nhung up"');
    expect(rows.slice(1).map((r) => Number(r[0]))).toEqual(rows.slice(1).map((_, i) => i + 1));
  });

  it('exports JSON as one array whose fields rebuild the canonical entries and re-chain to the stored hashes', async () => {
    project = await createProject();
    await addEvents({
      action: 'note',
      outcome: 'info',
      notes: 'ünïcode "quoted"',
      details: { b: 2, a: 'x', '10': 1, '2': null },
    });
    const { code, stdout } = await project.cli(['audit', 'export', '--format', 'json']);
    expect(code).toBe(0);
    const records = JSON.parse(stdout) as Array<AuditEntry & { seq: number; hash: string }>;
    expect(records.length).toBeGreaterThan(2);
    let prev = GENESIS_HASH;
    for (const { seq: _seq, hash, ...entry } of records) {
      prev = chainHash(prev, canonicalEntry(entry));
      expect(prev).toBe(hash);
    }
  });

  it('`--output` writes the export to a file with mode 0600 and prints a summary', async () => {
    project = await createProject();
    const { code, stdout } = await project.cli([
      'audit',
      'export',
      '--format',
      'csv',
      '--output',
      'audit.csv',
    ]);
    expect(code).toBe(0);
    const file = join(project.dir, 'audit.csv');
    expect(stdout).toMatch(/^exported \d+ audit event\(s\) as csv to audit\.csv\n$/);
    expect(readFileSync(file, 'utf8').startsWith('seq,at,')).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const json = await project.cli([
      'audit',
      'export',
      '--format',
      'md',
      '--output',
      'audit.md',
      '--json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      format: 'md',
      output: join(project.dir, 'audit.md'),
    });
  });

  it('an unknown export format is ERR_ROTOR_INVALID_ARGUMENT naming the choices, and writes nothing', async () => {
    project = await createProject();
    const { code, stdout, stderr } = await project.cli([
      'audit',
      'export',
      '--format',
      'xml',
      '--output',
      'audit.xml',
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'rotor: ERR_ROTOR_INVALID_ARGUMENT: unknown export format "xml": use one of md, csv, json\n',
    );
    expect(existsSync(join(project.dir, 'audit.xml'))).toBe(false);
  });

  it('a bad date is ERR_ROTOR_DATE_INVALID; --since, --until and ages filter by time', async () => {
    project = await createProject();
    const bad = await project.cli(['audit', 'list', '--since', '2026-02-30']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ERR_ROTOR_DATE_INVALID: invalid --since "2026-02-30"');
    const badJson = await project.cli(['audit', 'export', '--until', 'yesterday', '--json']);
    expect(JSON.parse(badJson.stdout)).toMatchObject({
      error: { code: 'ERR_ROTOR_DATE_INVALID' },
    });
    project.clock.advance(10 * 86_400_000);
    await addEvents({ action: 'later', outcome: 'info' });
    const recent = JSON.parse((await project.cli(['audit', '--since', '1d', '--json'])).stdout) as {
      events: Array<{ action: string }>;
    };
    expect(recent.events.map((e) => e.action)).toEqual(['later']);
    const early = JSON.parse(
      (await project.cli(['audit', '--until', '2026-01-01', '--json'])).stdout,
    ) as { events: Array<{ action: string }> };
    expect(early.events.map((e) => e.action)).not.toContain('later');
    expect(early.events.length).toBeGreaterThan(0);
  });

  it('a bad --limit or --anchor is ERR_ROTOR_CLI_USAGE', async () => {
    project = await createProject();
    const limit = await project.cli(['audit', '--limit', 'ten']);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toContain('ERR_ROTOR_CLI_USAGE: invalid --limit "ten"');
    const anchor = await project.cli(['audit', 'verify', '--anchor', 'abc']);
    expect(anchor.code).toBe(1);
    expect(anchor.stderr).toContain('ERR_ROTOR_CLI_USAGE: invalid --anchor "abc"');
  });

  it('reading the audit of a directory without a store is ERR_ROTOR_STORE_NOT_INITIALIZED', async () => {
    const dir = tempDir();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    stdout.resume();
    const stdin = new PassThrough();
    stdin.end();
    const io: CliIo = {
      stdout,
      stderr,
      stdin,
      env: { ROTOR_OPERATOR: 'tester', NO_COLOR: '1' },
      cwd: dir,
    };
    const code = await runCli(['audit', 'verify'], { io });
    expect(code).toBe(1);
    expect(err).toContain('ERR_ROTOR_STORE_NOT_INITIALIZED');
  });
});
