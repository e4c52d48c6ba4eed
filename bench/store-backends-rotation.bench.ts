// One rotation of a `random` secret (create → apply → verify → promote, journaled, audited) by the
// engine in-process, on a SQLite store and on a PostgreSQL store, median of N each, in one run;
// reported as a ratio to SQLite (issue 14). Runs alternate between the stores, so a burst of load
// from elsewhere on the machine lands on both.
import { medianMs, type BenchModule, type BenchResult } from './harness.js';
import { loadavg } from 'node:os';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import {
  BENCH_ACTOR,
  benchProject,
  machineLine,
  scratchPostgres,
  type BenchProject,
} from './store-backends-fixture.js';

const RUNS = Number(process.env.ROTOR_BENCH_ROTATIONS ?? 30);

function rotator(project: BenchProject): () => Promise<void> {
  const engine = createRotationEngine({ rotor: project.rotor });
  return async () => {
    const r = await engine.rotate(BENCH_ACTOR, {
      secret: 'SESSION_SECRET',
      environments: ['production'],
      method: 'manual',
    });
    if (!r.ok) throw new Error('rotation failed');
  };
}

async function run(): Promise<BenchResult[]> {
  const pg = await scratchPostgres('benchrot');
  const sqlite = await benchProject({});
  const postgres = await benchProject({ ROTOR_STORE_URL: pg.url });
  try {
    const loadBefore = loadavg()[0]!;
    const rotateSqlite = rotator(sqlite);
    const rotatePostgres = rotator(postgres);
    // Three rounds of medians, interleaved; the median of each store's rounds is reported.
    const s: number[] = [];
    const p: number[] = [];
    for (let round = 0; round < 3; round++) {
      s.push(await medianMs(Math.ceil(RUNS / 3), rotateSqlite));
      p.push(await medianMs(Math.ceil(RUNS / 3), rotatePostgres));
    }
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const onSqlite = mid(s);
    const onPostgres = mid(p);
    const notes = `median of ${RUNS} in 3 interleaved rounds; ${machineLine()}; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after`;
    return [
      { name: 'store-backends: random rotation on SQLite', value: onSqlite, unit: 'ms', notes },
      {
        name: 'store-backends: random rotation on PostgreSQL',
        value: onPostgres,
        unit: 'ms',
        baseline: { name: 'the same rotation on SQLite', value: onSqlite, unit: 'ms' },
        ratio: onPostgres / onSqlite,
        notes,
      },
    ];
  } finally {
    await postgres.close();
    await sqlite.close();
    await pg.drop();
  }
}

const bench: BenchModule = { name: 'store-backends-rotation', run };
export default bench;
