// Incremental `rotor audit verify --checkpoints` after 1,000 new rows on a 1,000,000-row log,
// against the full verify in the same run; method: docs/benchmarks.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type * as AuditVerify from '../src/core/audit/audit-verify.js';
import type * as CheckpointPublish from '../src/core/audit/checkpoint-publish.js';
import type * as CheckpointSign from '../src/core/audit/checkpoint-sign.js';
import type * as CheckpointTarget from '../src/core/audit/checkpoint-target.js';
import type * as CheckpointVerify from '../src/core/audit/checkpoint-verify.js';
import type * as OpenStore from '../src/core/store/open-store.js';
import { seedAuditLog } from './audit-log-seed.js';
import { timeIt, type BenchModule } from './harness.js';

const ROWS = Number(process.env.ROTOR_BENCH_AUDIT_ROWS ?? 1_000_000);
const NEW_ROWS = 1000;
const EVERY = 1000;
const ROUNDS = Number(process.env.ROTOR_BENCH_AUDIT_ROUNDS ?? 5);
const FULL_CHECKPOINT_ROUNDS = 3;
const DIST = new URL('../dist/', import.meta.url);

async function load<T>(path: string): Promise<T> {
  try {
    return (await import(new URL(path, DIST).href)) as T;
  } catch (error) {
    throw new Error(`cannot load ${path} from dist/: run \`npm run build\` first`, {
      cause: error,
    });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench: BenchModule = {
  name: 'audit-checkpoint-verify',
  async run() {
    const { verifyAuditChain } = await load<typeof AuditVerify>('core/audit/audit-verify.js');
    const { verifyWithCheckpoints } = await load<typeof CheckpointVerify>(
      'core/audit/checkpoint-verify.js',
    );
    const { auditStoreId } = await load<typeof CheckpointPublish>(
      'core/audit/checkpoint-publish.js',
    );
    const { signCheckpoint } = await load<typeof CheckpointSign>('core/audit/checkpoint-sign.js');
    const { publishToTarget } = await load<typeof CheckpointTarget>(
      'core/audit/checkpoint-target.js',
    );
    const { openStore } = await load<typeof OpenStore>('core/store/open-store.js');
    const { generateKeyPairSync } = await import('node:crypto');

    const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-ckpt-'));
    const store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env: {} });
    const source = { dir: join(dir, 'checkpoints') };
    try {
      // Seed the log and sign a checkpoint every EVERY rows (not measured).
      seedAuditLog(store.location, ROWS);
      const storeId = await auditStoreId(store);
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const raw = new BetterSqlite3(store.location, { readonly: true });
      const heads = raw
        .prepare('SELECT seq, hash FROM audit_events WHERE seq % ? = 0 ORDER BY seq')
        .all(EVERY) as Array<{ seq: number; hash: string }>;
      raw.close();
      for (const h of heads) {
        const at = new Date(Date.UTC(2024, 0, 1) + h.seq * 1000).toISOString();
        await publishToTarget(
          source,
          signCheckpoint({ store: storeId, seq: h.seq, head: h.hash, at }, privateKey),
        );
      }
      seedAuditLog(store.location, NEW_ROWS, Date.UTC(2025, 0, 1));
      (globalThis as { gc?: () => void }).gc?.();

      const samples = {
        full: [] as number[],
        afterFull: [] as number[],
        incremental: [] as number[],
        incrementalCpu: [] as number[],
        all: [] as number[],
      };
      const incremental = async () => {
        const r = await verifyWithCheckpoints(store, { source, publicKey });
        if (!r.ok || r.rows !== NEW_ROWS)
          throw new Error(`incremental verify disagreed: ${JSON.stringify(r)}`);
        return r;
      };
      // Full verify, each followed at once by an incremental one (which then shares the machine
      // with the full verify's exiting worker threads and its garbage: a diagnostic).
      for (let round = 0; round <= ROUNDS; round++) {
        const full = await timeIt(() => verifyAuditChain(store));
        if (!full.result.ok || full.result.rows !== ROWS + NEW_ROWS)
          throw new Error(`full verify disagreed: ${JSON.stringify(full.result)}`);
        const after = await timeIt(incremental);
        if (round === 0) continue;
        samples.full.push(full.ms);
        samples.afterFull.push(after.ms);
      }
      // Incremental verify as a verifier process runs it: on its own, warmed up once.
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 500));
      for (let round = 0; round <= ROUNDS; round++) {
        const cpu0 = process.cpuUsage();
        const incr = await timeIt(incremental);
        const cpu = process.cpuUsage(cpu0);
        if (round === 0) continue;
        samples.incremental.push(incr.ms);
        samples.incrementalCpu.push((cpu.user + cpu.system) / 1000);
      }
      const incrementalRows = NEW_ROWS;
      for (let round = 0; round < FULL_CHECKPOINT_ROUNDS; round++) {
        const all = await timeIt(() =>
          verifyWithCheckpoints(store, { source, publicKey, full: true }),
        );
        if (!all.result.ok || all.result.checkpoints.checked !== heads.length)
          throw new Error(`--full verify disagreed: ${JSON.stringify(all.result.firstBad)}`);
        samples.all.push(all.ms);
      }
      const fullMs = median(samples.full);
      const incrMs = median(samples.incremental);
      const allMs = median(samples.all);
      const baseline = {
        name: `full audit verify of the same ${(ROWS + NEW_ROWS).toLocaleString('en-US')} rows`,
        value: fullMs,
        unit: 'ms',
      };
      const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}, load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} at the end`;
      return [
        {
          name: `audit verify --checkpoints (incremental), ${incrementalRows.toLocaleString('en-US')} new rows on ${ROWS.toLocaleString('en-US')} (median of ${ROUNDS})`,
          value: incrMs,
          unit: 'ms',
          baseline,
          ratio: incrMs / fullMs,
          target: '< 50 ms',
          pass: incrMs < 50,
          notes: `samples ${samples.incremental.map((x) => x.toFixed(1)).join(', ')} ms; ${heads.length} checkpoint files; ${machine}`,
        },
        {
          // CPU time is what the work costs; on a shared machine wall time adds the wait for a core.
          name: '  diagnostic: the same, CPU time of this process (user + system)',
          value: median(samples.incrementalCpu),
          unit: 'ms',
          notes: `samples ${samples.incrementalCpu.map((x) => x.toFixed(1)).join(', ')} ms`,
        },
        {
          name: '  diagnostic: incremental verify run right after each full verify',
          value: median(samples.afterFull),
          unit: 'ms',
          baseline,
          ratio: median(samples.afterFull) / fullMs,
          notes: `samples ${samples.afterFull.map((x) => x.toFixed(1)).join(', ')} ms`,
        },
        {
          name: `  diagnostic: audit verify --checkpoints --full (all ${heads.length} checkpoints + whole chain, median of ${FULL_CHECKPOINT_ROUNDS})`,
          value: allMs,
          unit: 'ms',
          baseline,
          ratio: allMs / fullMs,
        },
      ];
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
