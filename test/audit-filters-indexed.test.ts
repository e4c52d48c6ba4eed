// Audit filters run as indexed SQL on the hashed entry (migration 0007) in bounded windows:
// they must return exactly the rows the plain filter over every parsed entry returns, in both
// orders, with limits, across window and chunk boundaries, and never trust the unhashed columns.
// Runs over both store backends (SQLite and PostgreSQL: the same indexed expression, collated "C").
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  type AuditEntry,
} from '../src/core/audit/audit-log.js';
import { iterateAudit, listAudit, type AuditListOptions } from '../src/core/audit/audit-query.js';
import { openStore, type Store } from '../src/core/store/open-store.js';
import { seededEntry } from '../bench/audit-log-seed.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { forEachBackend } from './helpers/store-backends.js';

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

/**
 * Appends chained rows with plain inserts, as an importer (or an attacker re-chaining) would;
 * `columns` overrides the unhashed columns beside the entry.
 */
async function appendRaw(
  store: Store,
  entries: AuditEntry[],
  columns?: { secret: string | null; action: string },
): Promise<void> {
  const head = await store.db
    .selectFrom('audit_events')
    .select('hash')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  let prev = head?.hash ?? GENESIS_HASH;
  const rows = entries.map((e) => {
    const text = canonicalEntry(e);
    prev = chainHash(prev, text);
    return {
      at: Date.parse(e.at),
      secret: columns ? columns.secret : e.secret,
      environment: e.environment,
      action: columns ? columns.action : e.action,
      entry: text,
      hash: prev,
    };
  });
  for (let i = 0; i < rows.length; i += 500)
    await store.db
      .insertInto('audit_events')
      .values(rows.slice(i, i + 500))
      .execute();
}

/** `rows` entries of the benchmark's seeded log, one second apart from `startAt`. */
function seeded(rows: number, startAt: number): AuditEntry[] {
  return Array.from({ length: rows }, (_, i) => seededEntry(i, startAt + i * 1000));
}

/** The filter as it was defined before SQL: over every parsed entry. */
function expected(all: { seq: number; entry: AuditEntry }[], o: AuditListOptions): number[] {
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

forEachBackend((backend) =>
  describe('audit filters in SQL', () => {
    let dir: string;
    let store: Store;
    let all: { seq: number; entry: AuditEntry }[];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'rotor-audit-filters-'));
      const env = await backend.freshStore();
      store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env });
      // 5,000 rows: more than two scan windows.
      await appendRaw(store, seeded(5_000, Date.UTC(2025, 0, 1)));
      const base = seededEntry(1, Date.UTC(2025, 5, 1));
      await appendRaw(
        store,
        EDGE_ACTIONS.map((action, i) => ({
          ...base,
          action,
          secret: i % 2 ? 'EDGE_SECRET' : null,
          at: new Date(Date.UTC(2025, 5, 1) + i).toISOString(),
        })),
      );
      // Unhashed columns that disagree with the entry (edited outside Rotor): filters follow the entry.
      await appendRaw(
        store,
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
      await appendRaw(store, seeded(300, Date.UTC(2025, 6, 1)));
      const rows = await store.db
        .selectFrom('audit_events')
        .select(['seq', 'entry'])
        .orderBy('seq')
        .execute();
      all = rows.map((r) => ({ seq: r.seq, entry: JSON.parse(r.entry) as AuditEntry }));
    }, 180_000);

    afterAll(async () => {
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const filter of FILTERS) {
      test(`${JSON.stringify(filter)}: the same rows as filtering every entry, both orders, with limits and small chunks`, async () => {
        for (const order of ['asc', 'desc'] as const) {
          for (const limit of [0, 1, 37]) {
            for (const chunkSize of [500, 7]) {
              const options = { ...filter, order, limit, chunkSize };
              const got: number[] = [];
              for await (const r of iterateAudit(store, options)) got.push(r.seq);
              expect(got, JSON.stringify(options)).toEqual(expected(all, options));
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

    test.skipIf(backend.name !== 'sqlite')(
      'secret and environment filters are answered from their indexes',
      async () => {
        const db = new BetterSqlite3(store.location, { readonly: true });
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
          expect(plan(`${field('environment')} = 'X'`)).toMatch(
            /USING INDEX audit_entry_environment/,
          );
        } finally {
          db.close();
        }
      },
    );

    test.skipIf(backend.name !== 'postgres')(
      'PostgreSQL answers the secret filter from its index',
      async () => {
        await sql`ANALYZE audit_events`.execute(store.db);
        const { rows } = await sql<{
          'QUERY PLAN': string;
        }>`EXPLAIN SELECT seq FROM audit_events WHERE (rotor_audit_field(entry, 'secret') COLLATE "C") = 'NOT_THERE' ORDER BY seq`.execute(
          store.db,
        );
        expect(rows.map((r) => r['QUERY PLAN']).join(' ')).toMatch(/audit_entry_secret/);
      },
    );
  }),
);
