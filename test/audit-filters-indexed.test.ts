// Audit filters run as indexed SQL on the hashed entry (migration 0007) in bounded windows:
// they must return exactly the rows the plain filter over every parsed entry returns, in both
// orders, with limits, across window and chunk boundaries, and never trust the unhashed columns.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  type AuditEntry,
} from '../src/core/audit/audit-log.js';
import { iterateAudit, listAudit, type AuditListOptions } from '../src/core/audit/audit-query.js';
import { openStore, type Store } from '../src/core/store/open-store.js';
import { seedAuditLog, seededEntry } from '../bench/audit-log-seed.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let dir: string;
let store: Store;
let file: string;
let all: { seq: number; entry: AuditEntry }[];

/** Odd rows a prefix filter or a string comparison could get wrong. */
const EDGE_ACTIONS = [
  'rotate',
  'rotate-x',
  'rotated',
  'rotate.',
  'rotate/x',
  'rotatf',
  'read.get.extra',
];

function appendRaw(
  db: BetterSqlite3.Database,
  entries: AuditEntry[],
  columns?: { secret: string | null; action: string },
): void {
  let prev =
    (
      db.prepare('SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as
        { hash: string } | undefined
    )?.hash ?? GENESIS_HASH;
  const insert = db.prepare(
    'INSERT INTO audit_events (at, secret, environment, action, entry, hash) VALUES (?, ?, ?, ?, ?, ?)',
  );
  for (const e of entries) {
    const text = canonicalEntry(e);
    prev = chainHash(prev, text);
    insert.run(
      Date.parse(e.at),
      columns ? columns.secret : e.secret,
      e.environment,
      columns ? columns.action : e.action,
      text,
      prev,
    );
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rotor-audit-filters-'));
  store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env: {} });
  file = store.location;
  // 5,000 rows: more than two scan windows.
  seedAuditLog(file, 5_000, Date.UTC(2025, 0, 1));
  const db = new BetterSqlite3(file);
  const base = seededEntry(1, Date.UTC(2025, 5, 1));
  appendRaw(
    db,
    EDGE_ACTIONS.map((action, i) => ({
      ...base,
      action,
      secret: i % 2 ? 'EDGE_SECRET' : null,
      at: new Date(Date.UTC(2025, 5, 1) + i).toISOString(),
    })),
  );
  // Unhashed columns that disagree with the entry (edited outside Rotor): filters follow the entry.
  appendRaw(
    db,
    [
      {
        ...base,
        secret: 'HASHED_SECRET',
        action: 'import',
        at: new Date(Date.UTC(2025, 5, 2)).toISOString(),
      },
    ],
    { secret: 'COLUMN_SECRET', action: 'rotate.promote' },
  );
  seedAuditLog(file, 300, Date.UTC(2025, 6, 1));
  db.close();
  const rows = await store.db
    .selectFrom('audit_events')
    .select(['seq', 'entry'])
    .orderBy('seq')
    .execute();
  all = rows.map((r) => ({ seq: r.seq, entry: JSON.parse(r.entry) as AuditEntry }));
}, 120_000);

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The filter as it was defined before SQL: over every parsed entry. */
function expected(o: AuditListOptions): number[] {
  const hits = all.filter(({ entry: e }) => {
    if (o.secret !== undefined && e.secret !== o.secret) return false;
    if (o.environment !== undefined && e.environment !== o.environment) return false;
    if (o.action !== undefined && e.action !== o.action && !e.action.startsWith(`${o.action}.`))
      return false;
    const at = Date.parse(e.at);
    if (o.since !== undefined && at < o.since) return false;
    if (o.until !== undefined && at > o.until) return false;
    return true;
  });
  const seqs = hits.map((h) => h.seq);
  if ((o.order ?? 'desc') === 'desc') seqs.reverse();
  return o.limit ? seqs.slice(0, o.limit) : seqs;
}

const FILTERS: AuditListOptions[] = [
  {},
  { secret: 'SMTP_PASSWORD' },
  { secret: 'NOT_THERE' },
  { environment: 'production' },
  { secret: 'JWT_ACCESS_SECRET', environment: 'staging' },
  { action: 'rotate' },
  { action: 'rotate.promote' },
  { action: 'read' },
  { action: 'read.get' },
  { action: 'import' },
  { since: Date.UTC(2025, 0, 1, 0, 30), until: Date.UTC(2025, 0, 1, 0, 40) },
  { since: Date.UTC(2025, 5, 1) },
  { until: Date.UTC(2025, 0, 1, 0, 0, 10) },
  { secret: 'EDGE_SECRET', action: 'rotate' },
  { secret: 'HASHED_SECRET' },
  { secret: 'COLUMN_SECRET' },
  { secret: 'DATABASE_URL', since: Date.UTC(2025, 0, 1, 1), until: Date.UTC(2025, 0, 1, 1, 20) },
];

describe('audit filters in SQL', () => {
  for (const filter of FILTERS) {
    test(`${JSON.stringify(filter)}: the same rows as filtering every entry, both orders, with limits and small chunks`, async () => {
      for (const order of ['asc', 'desc'] as const) {
        for (const limit of [0, 1, 37]) {
          for (const chunkSize of [500, 7]) {
            const options = { ...filter, order, limit, chunkSize };
            const got: number[] = [];
            for await (const r of iterateAudit(store, options)) got.push(r.seq);
            expect(got, JSON.stringify(options)).toEqual(expected(options));
          }
        }
      }
    });
  }

  test('a filter never trusts the unhashed columns: the row is found by its entry, not by its columns', async () => {
    expect((await listAudit(store, { secret: 'HASHED_SECRET' })).map((r) => r.secret)).toEqual([
      'HASHED_SECRET',
    ]);
    expect(await listAudit(store, { secret: 'COLUMN_SECRET' })).toEqual([]);
    const imports = await listAudit(store, {
      action: 'import',
      since: Date.UTC(2025, 5, 2),
      until: Date.UTC(2025, 5, 2),
    });
    expect(imports.map((r) => r.secret)).toEqual(['HASHED_SECRET']);
  });

  test('secret and environment filters are answered from their indexes', async () => {
    const db = new BetterSqlite3(file, { readonly: true });
    // The expression of migration 0007, as iterateAudit writes it.
    const field = (name: string) =>
      `(CASE WHEN json_valid(entry) THEN json_extract(entry, '$.${name}') END)`;
    try {
      const plan = (where: string) =>
        (
          db
            .prepare(
              `EXPLAIN QUERY PLAN SELECT seq, entry, hash FROM audit_events WHERE seq > 0 AND seq <= 2048 AND ${where} ORDER BY seq LIMIT 500`,
            )
            .all() as { detail: string }[]
        )
          .map((r) => r.detail)
          .join(' ');
      expect(plan(`${field('secret')} = 'X'`)).toMatch(/USING INDEX audit_entry_secret/);
      expect(plan(`${field('environment')} = 'X'`)).toMatch(/USING INDEX audit_entry_environment/);
    } finally {
      db.close();
    }
  });
});
