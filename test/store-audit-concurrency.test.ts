// The audit chain under concurrent writers on one PostgreSQL store: 4 processes × 1,000 appends,
// each in its own write transaction, serialise on the chain head (pg_advisory_xact_lock): the
// chain verifies with no seq gap and no fork, and every worker's rows are there, in its order.
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/core/audit/audit-verify.js';
import { openStore } from '../src/core/store/open-store.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';
import { entryArgs } from './helpers/spawned-entries.js';

const WORKERS = 4;
const APPENDS = 1_000;
const postgres = await requireService('postgres');
const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop();
});

function runWorker(worker: number, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...entryArgs('append-audit'), String(worker), String(APPENDS)],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`worker ${worker}: ${err}`)),
    );
  });
}

describe.skipIf(!postgres.available)('audit appends from several processes', () => {
  it(
    `${WORKERS} processes × ${APPENDS} appends on one PostgreSQL store leave one intact chain`,
    { timeout: 600_000 },
    async () => {
      const db = await createScratchDatabase('conc');
      drops.push(() => db.drop());
      const env = { ROTOR_STORE_URL: db.url };
      const created = await openStore({ stateDir: '.rotor', create: true, env });
      await created.close();

      const started = performance.now();
      const times = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) => runWorker(i + 1, env)),
      );
      const wall = Math.round(performance.now() - started);
      process.stderr.write(
        `audit concurrency: ${WORKERS}×${APPENDS} appends, wall ${wall} ms (workers' append loops: ${times.join(', ')} ms)\n`,
      );

      const store = await openStore({ stateDir: '.rotor', env });
      try {
        const rows = await store.db
          .selectFrom('audit_events')
          .select(['seq', 'entry'])
          .orderBy('seq')
          .execute();
        expect(rows).toHaveLength(WORKERS * APPENDS);
        // No gap: seqs are exactly 1..N (no append was lost or rolled back).
        expect(rows.every((r, i) => r.seq === i + 1)).toBe(true);
        // No fork: every row links to the one before it (strict: gaps are not allowed either).
        expect(await verifyAuditChain(store, { allowSeqGaps: false })).toMatchObject({
          ok: true,
          rows: WORKERS * APPENDS,
          headSeq: WORKERS * APPENDS,
        });
        // Each worker's rows are all there, in the order it wrote them.
        const byWorker = new Map<number, number[]>();
        for (const row of rows) {
          const { details } = JSON.parse(row.entry) as { details: { worker: number; n: number } };
          byWorker.set(details.worker, [...(byWorker.get(details.worker) ?? []), details.n]);
        }
        for (let w = 1; w <= WORKERS; w++)
          expect(byWorker.get(w)).toEqual(Array.from({ length: APPENDS }, (_, i) => i + 1));
        // The writers really interleaved (otherwise this proves nothing about concurrency).
        const switches = rows.filter(
          (r, i) => i > 0 && r.entry.slice(0, 200) !== rows[i - 1]!.entry.slice(0, 200),
        ).length;
        expect(switches).toBeGreaterThan(WORKERS);
      } finally {
        await store.close();
      }
    },
  );
});
