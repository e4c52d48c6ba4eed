// `rotor audit verify` over 1,000,000 rows against one-pass SHA-256 of the same bytes (target: 3×);
// method and figures: docs/benchmarks.md, "audit verify".
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Insertable } from 'kysely';
import {
  canonicalEntry,
  chainHash,
  GENESIS_HASH,
  OUTCOMES,
  type AuditEntry,
} from '../src/core/audit/audit-log.js';
import type * as AuditVerify from '../src/core/audit/audit-verify.js';
import type * as OpenStore from '../src/core/store/open-store.js';
import type * as SqliteAuditReader from '../src/core/store/sqlite-audit-reader.js';
import { METHODS, type AuditEventsTable } from '../src/core/store/schema.js';
import { medianMs, timeIt, type BenchModule } from './harness.js';

const ROWS = Number(process.env.ROTOR_BENCH_AUDIT_ROWS ?? 1_000_000);
const DIST = new URL('../dist/', import.meta.url);
const INSERT_BATCH = 4000; // 6 parameters per row, under SQLite's 32766-variable limit
const HASH_CHUNK = 4096;
const ROUNDS = Number(process.env.ROTOR_BENCH_AUDIT_ROUNDS ?? 5);

const SECRETS = [
  'DATABASE_URL',
  'JWT_ACCESS_SECRET',
  'JWT_REFRESH_SECRET',
  'METRICS_AUTH_TOKEN',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'SMTP_PASSWORD',
  'TWILIO_AUTH_TOKEN',
  null,
];
const ENVS = ['staging', 'production', null];
const OPERATORS = ['alice', 'bob', 'carol.ops', 'scheduler', 'ci-deploy'];
const ACTIONS = [
  'rotate.create',
  'rotate.apply',
  'rotate.verify',
  'rotate.promote',
  'rotate.retire',
  'policy.change',
  'value.read',
  'import',
];
const NOTES = [
  '',
  'promoted after verify',
  'scheduled rotation: due at 90d',
  'emergency: key pasted in a public channel, revoked at once',
  'grace window 24h; deploy hook ok; smoke test ok',
];

function entryFor(i: number, at: number): AuditEntry {
  const secret = SECRETS[i % SECRETS.length]!;
  return {
    v: 1,
    at: new Date(at).toISOString(),
    secret,
    environment: secret === null ? null : ENVS[i % 2]!,
    operator: OPERATORS[i % OPERATORS.length]!,
    method: METHODS[i % METHODS.length]!,
    action: ACTIONS[i % ACTIONS.length]!,
    outcome: OUTCOMES[i % OUTCOMES.length]!,
    requestId: randomUUID(),
    notes: NOTES[i % NOTES.length]!,
    details:
      i % 3 === 0
        ? { rotationId: randomUUID(), versionId: `v_${i.toString(36)}`, step: 'promote' }
        : { attempt: i % 4 },
  };
}

const bench: BenchModule = {
  name: 'audit-verify',
  async run() {
    const load = async <T>(path: string): Promise<T> => {
      try {
        return (await import(new URL(path, DIST).href)) as T;
      } catch (error) {
        throw new Error(
          `cannot load ${path} from dist/: run \`npm run build\` first (\`npm run bench\` does)`,
          { cause: error },
        );
      }
    };
    const { verifyAuditChain } = await load<typeof AuditVerify>('core/audit/audit-verify.js');
    const { openStore } = await load<typeof OpenStore>('core/store/open-store.js');
    const { openAuditReader } = await load<typeof SqliteAuditReader>(
      'core/store/sqlite-audit-reader.js',
    );
    const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-audit-'));
    const store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env: {} });
    // The baseline's input: the same entry bytes, concatenated into chunks held in memory.
    const chunks: Buffer[] = [];
    let bytes = 0;
    // The entries themselves, for the in-memory chain diagnostic.
    const texts: string[] = [];
    try {
      const t0 = Date.UTC(2024, 0, 1);
      let prev = GENESIS_HASH;
      let pending: string[] = [];
      for (let start = 0; start < ROWS; start += INSERT_BATCH) {
        const values: Insertable<AuditEventsTable>[] = [];
        for (let i = start; i < Math.min(ROWS, start + INSERT_BATCH); i++) {
          const at = t0 + i * 1000;
          const e = entryFor(i, at);
          const text = canonicalEntry(e);
          prev = chainHash(prev, text);
          values.push({
            at,
            secret: e.secret,
            environment: e.environment,
            action: e.action,
            entry: text,
            hash: prev,
          });
          pending.push(text);
          texts.push(text);
          if (pending.length === HASH_CHUNK) {
            const b = Buffer.from(pending.join(''), 'utf8');
            chunks.push(b);
            bytes += b.length;
            pending = [];
          }
        }
        await store.writeTransaction((trx) =>
          trx.insertInto('audit_events').values(values).execute(),
        );
      }
      if (pending.length > 0) {
        const b = Buffer.from(pending.join(''), 'utf8');
        chunks.push(b);
        bytes += b.length;
      }
      const head = prev;

      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.(); // seeding garbage is not verify's to collect

      // Interleaved rounds: the baseline and both verifies run back to back in every round, so
      // that load from other processes on a shared machine falls on all three alike; the first
      // round warms up and is dropped. Figures are medians over the other rounds.
      let verified = 0;
      let threads = 1;
      let digest = '';
      const samples = {
        verify: [] as number[],
        oneThread: [] as number[],
        baseline: [] as number[],
        ratio: [] as number[],
      };
      for (let round = 0; round <= ROUNDS; round++) {
        gc?.();
        const baseline = await timeIt(() => {
          const h = createHash('sha256');
          for (const c of chunks) h.update(c);
          digest = h.digest('hex');
        });
        gc?.();
        const verify = await timeIt(() => verifyAuditChain(store));
        const r = verify.result;
        if (!r.ok || r.rows !== ROWS || r.headHash !== head)
          throw new Error(`verify disagreed with the seeded chain: ${JSON.stringify(r)}`);
        verified = r.rows;
        threads = r.threads ?? 1;
        gc?.();
        const one = await timeIt(() => verifyAuditChain(store, { threads: 1 }));
        if (
          !one.result.ok ||
          one.result.rows !== ROWS ||
          one.result.headHash !== head ||
          one.result.threads !== undefined
        ) {
          throw new Error(`single-thread verify disagreed: ${JSON.stringify(one.result)}`);
        }
        if (round === 0) continue;
        samples.baseline.push(baseline.ms);
        samples.verify.push(verify.ms);
        samples.oneThread.push(one.ms);
        samples.ratio.push(verify.ms / baseline.ms);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const verifyMs = median(samples.verify);
      const oneThreadMs = median(samples.oneThread);
      const baselineMs = median(samples.baseline);
      const ratios = [...samples.ratio].sort((a, b) => a - b);
      gc?.();
      const readerMs = await medianMs(3, () => {
        const reader = openAuditReader({ file: store.location });
        try {
          let cursor = 0;
          for (;;) {
            const rows = reader.rows(cursor, Number.MAX_SAFE_INTEGER, 1024) as Array<
              [number, string, string]
            >;
            if (rows.length === 0) break;
            cursor = rows[rows.length - 1]![0];
          }
        } finally {
          void reader.close();
        }
      });
      gc?.();
      const readMs = await medianMs(3, async () => {
        let cursor = 0;
        for (;;) {
          const after = cursor;
          const rows = await store.db
            .selectFrom('audit_events')
            .select(['seq', 'entry', 'hash'])
            .where('seq', '>', after)
            .orderBy('seq')
            .limit(4096)
            .execute();
          if (rows.length === 0) break;
          cursor = rows[rows.length - 1]!.seq;
        }
      });
      gc?.();
      const chainMs = await medianMs(3, () => {
        let h = GENESIS_HASH;
        for (const t of texts) h = chainHash(h, t);
        if (h !== head) throw new Error('in-memory chain disagrees with the seeded head');
      });
      const baseline = {
        name: `SHA-256 of the same ${(bytes / 1e6).toFixed(0)} MB of entries, one pass`,
        value: baselineMs,
        unit: 'ms',
      };
      return [
        {
          name: `audit verify, ${verified.toLocaleString('en-US')} rows, ${threads} thread(s) (median of ${ROUNDS})`,
          value: verifyMs,
          unit: 'ms',
          baseline,
          ratio: verifyMs / baselineMs,
          target: '≤ 3× baseline',
          pass: verifyMs / baselineMs <= 3,
          notes: `per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}; baseline digest ${digest.slice(0, 12)}…; ${(bytes / ROWS).toFixed(0)} bytes/entry on average; ${availableParallelism()} CPU(s), load average ${loadavg()[0]!.toFixed(2)} at the end`,
        },
        {
          name: `  diagnostic: verify kept on one thread (threads: 1, median of ${ROUNDS})`,
          value: oneThreadMs,
          unit: 'ms',
          baseline,
          ratio: oneThreadMs / baselineMs,
        },
        {
          name: '  diagnostic: only reading the rows (SQLite bulk reader, raw arrays, 1024 per query)',
          value: readerMs,
          unit: 'ms',
          baseline,
          ratio: readerMs / baselineMs,
        },
        {
          name: '  diagnostic: only reading the rows (Kysely, 4096 per query)',
          value: readMs,
          unit: 'ms',
          baseline,
          ratio: readMs / baselineMs,
        },
        {
          name: '  diagnostic: only chaining the entries in memory',
          value: chainMs,
          unit: 'ms',
          baseline,
          ratio: chainMs / baselineMs,
        },
      ];
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
