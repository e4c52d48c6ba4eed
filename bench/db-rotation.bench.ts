// Query latency through `rotor/pg` and `rotor/mysql` while DATABASE_URL is rotated, against no
// rotation in the same run; method and figures: docs/benchmarks.md.
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { createPool as createMysqlPool, type RotorMysqlPool } from '../src/sdk/mysql.js';
import { createPool as createPgPool, valueFromStore, type RotorPool } from '../src/sdk/pg.js';
import {
  childProcessRotations,
  createDbProject,
  inProcessRotations,
  type DbEngine,
  type Rotations,
} from './db-fixture.js';
import type { BenchModule, BenchResult } from './harness.js';

const CLIENTS = 16;
const WARMUP_MS = 1500;
const ROTATIONS = 10;
/** Each window of a round lasts at least this long; a rotation window lasts until its retire is done. */
const ROUND_MS = Number(process.env.ROTOR_BENCH_DB_ROUND_MS ?? 1000);
const POLL_MS = 100;

interface Phase {
  name: string;
  /** Time spent in this phase, over all its windows. */
  ms: number;
  lat: number[];
  /** Start time of each query, for placing slow ones against rotation events. */
  at: number[];
  failed: Map<string, number>;
  gcMs: number;
  gcCount: number;
}

interface PhaseStats {
  queries: number;
  failed: number;
  errors: string;
  qps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  gcMs: number;
}

interface Events {
  /** [start, end] of each rotate call, as seen by the app process. */
  rotating: [number, number][];
  swaps: number[];
  rotateMs: number[];
  rotateCpuMs: number[];
  retirePostponed: number;
  /** Failed rotation attempts (retried), with their error. */
  rotateFailed: string[];
  retireMs: number[];
}

const newPhase = (name: string): Phase => ({
  name,
  ms: 0,
  lat: [],
  at: [],
  failed: new Map(),
  gcMs: 0,
  gcCount: 0,
});
const newEvents = (): Events => ({
  rotating: [],
  swaps: [],
  rotateMs: [],
  rotateCpuMs: [],
  retirePostponed: 0,
  retireMs: [],
  rotateFailed: [],
});

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(p: Phase): PhaseStats {
  const sorted = Float64Array.from(p.lat).sort();
  const failed = [...p.failed.values()].reduce((a, b) => a + b, 0);
  return {
    queries: p.lat.length + failed,
    failed,
    errors: [...p.failed].map(([code, n]) => `${code}×${n}`).join(', '),
    qps: (p.lat.length / p.ms) * 1000,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    p999: quantile(sorted, 0.999),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    gcMs: p.gcMs,
  };
}

/** Of phase B's queries slower than `threshold`, how many started during a rotate call or within 250 ms after a swap. */
function slowNearEvents(
  p: Phase,
  events: Events,
  threshold: number,
): { slow: number; duringRotate: number; afterSwap: number } {
  let slow = 0;
  let duringRotate = 0;
  let afterSwap = 0;
  for (let i = 0; i < p.lat.length; i++) {
    if (p.lat[i]! <= threshold) continue;
    slow++;
    const t = p.at[i]!;
    if (events.rotating.some(([a, b]) => t >= a && t <= b)) duringRotate++;
    else if (events.swaps.some((s) => t >= s - 5 && t <= s + 250)) afterSwap++;
  }
  return { slow, duringRotate, afterSwap };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errorCode(error: unknown): string {
  const e = error as { code?: string | number; errno?: number; message?: string };
  return String(e?.code ?? e?.errno ?? e?.message ?? error);
}

interface Pool {
  query(): Promise<void>;
  readonly swaps: number;
  readonly draining: number;
  on(event: 'swap' | 'error', listener: (arg: unknown) => void): void;
  off(event: 'swap' | 'error', listener: (arg: unknown) => void): void;
  ready(): Promise<void>;
  end(): Promise<void>;
}

/** The two SDK pools behind one shape; `query` runs the bench's statement. */
function wrap(p: RotorPool | RotorMysqlPool, query: () => Promise<void>): Pool {
  return {
    query,
    get swaps() {
      return p.swaps;
    },
    get draining() {
      return p.draining;
    },
    on: (event, listener) => void p.on(event, listener),
    off: (event, listener) => void p.off(event, listener),
    ready: () => p.ready(),
    end: () => p.end(),
  };
}

interface EngineRun {
  a: PhaseStats;
  b: PhaseStats;
  bInProcess: PhaseStats;
  events: Events;
  eventsInProcess: Events;
  near: ReturnType<typeof slowNearEvents>;
  nearInProcess: ReturnType<typeof slowNearEvents>;
  poolErrors: string[];
}

async function runEngine(engine: DbEngine): Promise<EngineRun> {
  const project = await createDbProject(engine);
  let rotations: Rotations | undefined;
  let current: Phase | undefined;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!current) continue;
      current.gcMs += entry.duration;
      current.gcCount++;
    }
  });
  let pool: Pool | undefined;
  const source = valueFromStore({
    dir: project.dir,
    environment: 'production',
    env: {},
    pollMs: POLL_MS,
  });
  let stop = false;
  const loops: Promise<void>[] = [];
  try {
    rotations = await childProcessRotations(project);
    const child = rotations;
    // The first credential, before the app starts.
    await child.rotate();
    if (engine === 'postgres') {
      const p = createPgPool({ source, max: CLIENTS });
      pool = wrap(p, async () => void (await p.query('SELECT id, label FROM public.items')));
    } else {
      const p = createMysqlPool({ source, connectionLimit: CLIENTS });
      pool = wrap(p, async () => void (await p.query('SELECT id, label FROM items')));
    }
    const thePool = pool;
    const poolErrors: string[] = [];
    thePool.on('error', (e) => poolErrors.push(errorCode(e)));
    await thePool.ready();
    gc.observe({ entryTypes: ['gc'] });

    for (let i = 0; i < CLIENTS; i++) {
      loops.push(
        (async () => {
          while (!stop) {
            const phase = current;
            const t = performance.now();
            try {
              await thePool.query();
              if (phase) {
                phase.lat.push(performance.now() - t);
                phase.at.push(t);
              }
            } catch (error) {
              if (phase)
                phase.failed.set(errorCode(error), (phase.failed.get(errorCode(error)) ?? 0) + 1);
            }
          }
        })(),
      );
    }
    await sleep(WARMUP_MS);

    // Interleaved rounds, so that load from other processes on this shared machine falls on every
    // phase alike: A (no rotation) for ROUND_MS, then B (one rotation + retire, engine in a child
    // process), then B' (the same, engine in this process), each at least ROUND_MS long.
    const a = newPhase('A');
    const b = newPhase('B');
    const bi = newPhase("B'");
    const events = newEvents();
    const eventsIn = newEvents();
    const inProcess = inProcessRotations(project);
    let swapEvents = events;
    thePool.on('swap', () => swapEvents.swaps.push(performance.now()));
    const window = async (phase: Phase, work: () => Promise<void>) => {
      const start = performance.now();
      current = phase;
      await work();
      const left = ROUND_MS - (performance.now() - start);
      if (left > 0) await sleep(left);
      current = undefined;
      phase.ms += performance.now() - start;
    };
    const rotateOnce = (driver: Rotations, e: Events) => async () => {
      swapEvents = e;
      const swaps = thePool.swaps;
      const t = performance.now();
      const rotated = await driver.rotate();
      e.rotateMs.push(rotated.ms);
      if (rotated.cpuMs !== undefined) e.rotateCpuMs.push(rotated.cpuMs);
      e.rotateFailed.push(...rotated.failed);
      e.rotating.push([t, performance.now()]);
      await until('the pool to swap', () => thePool.swaps > swaps);
      await until('the old pool to drain', () => thePool.draining === 0);
      const retired = await driver.retire();
      e.retirePostponed += retired.postponed;
      e.retireMs.push(retired.ms);
    };
    try {
      for (let n = 0; n < ROTATIONS; n++) {
        await window(a, async () => {});
        await window(b, rotateOnce(child, events));
        await window(bi, rotateOnce(inProcess, eventsIn));
      }
    } finally {
      await inProcess.close();
    }
    stop = true;
    await Promise.all(loops);
    const aStats = stats(a);
    return {
      a: aStats,
      b: stats(b),
      bInProcess: stats(bi),
      events,
      eventsInProcess: eventsIn,
      near: slowNearEvents(b, events, aStats.p99),
      nearInProcess: slowNearEvents(bi, eventsIn, aStats.p99),
      poolErrors,
    };
  } finally {
    stop = true;
    current = undefined;
    gc.disconnect();
    await Promise.all(loops);
    await pool?.end();
    await source.close();
    await rotations?.close().catch(() => {});
    await project.cleanup();
  }
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

function describe(label: string, s: PhaseStats): string {
  return `${label}: ${s.queries} queries, ${s.failed} failed${s.errors ? ` (${s.errors})` : ''}, ${s.qps.toFixed(0)} q/s, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, p99.9 ${ms(s.p999)}, max ${ms(s.max)}, GC ${s.gcMs.toFixed(0)} ms`;
}

const bench: BenchModule = {
  name: 'db-rotation',
  async run() {
    const results: BenchResult[] = [];
    for (const engine of ['postgres', 'mariadb'] as const) {
      let r: EngineRun;
      const load0 = loadavg()
        .map((l) => l.toFixed(1))
        .join(' ');
      try {
        r = await runEngine(engine);
      } catch (error) {
        results.push({
          name: `db-rotation ${engine}`,
          value: 0,
          unit: 'ms',
          pass: false,
          notes: `did not run: ${errorCode(error)} ${(error as Error).message ?? ''}`,
        });
        continue;
      }
      const ratio = r.b.p99 / r.a.p99;
      const ratioIn = r.bInProcess.p99 / r.a.p99;
      const ev = (e: Events) =>
        `rotate median ${ms(median(e.rotateMs))} (max ${ms(Math.max(...e.rotateMs))})${e.rotateCpuMs.length ? `, rotating process CPU median ${ms(median(e.rotateCpuMs))}` : ''}, retire postponed ${e.retirePostponed}× over ${ROTATIONS}, retire median ${ms(median(e.retireMs))}${e.rotateFailed.length ? `; failed rotation attempts (retried): ${e.rotateFailed.join(' | ')}` : ''}`;
      const near = (n: EngineRun['near']) =>
        `${n.slow} queries slower than p99(A): ${n.duringRotate} started during a rotate call, ${n.afterSwap} within 250 ms after a swap`;
      process.stderr.write(
        [
          `  ${engine} (load average before ${load0}, after ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')})`,
          `    ${describe('A (no rotation)', r.a)}`,
          `    ${describe(`B (${ROTATIONS} rotations, engine in a child process)`, r.b)}`,
          `      ${ev(r.events)}; ${near(r.near)}`,
          `    ${describe(`B' (${ROTATIONS} rotations, engine in this process)`, r.bInProcess)}`,
          `      ${ev(r.eventsInProcess)}; ${near(r.nearInProcess)}`,
          `    pool errors: ${r.poolErrors.length ? r.poolErrors.join(', ') : 'none'}`,
          '',
        ].join('\n'),
      );
      const failed = r.a.failed + r.b.failed + r.bInProcess.failed;
      results.push(
        {
          name: `db-rotation ${engine}: p99, 10 rotations (B)`,
          value: r.b.p99,
          unit: 'ms',
          baseline: { name: 'p99, no rotation (A)', value: r.a.p99, unit: 'ms' },
          ratio,
          target: 'p99(B)/p99(A) ≤ 1.5, 0 failed queries',
          pass: ratio <= 1.5 && r.a.failed + r.b.failed === 0,
          notes: `${describe('A', r.a)}; ${describe('B', r.b)}; ${ev(r.events)}; ${near(r.near)}`,
        },
        {
          name: `db-rotation ${engine}: p50, 10 rotations (B)`,
          value: r.b.p50,
          unit: 'ms',
          baseline: { name: 'p50, no rotation (A)', value: r.a.p50, unit: 'ms' },
          ratio: r.b.p50 / r.a.p50,
        },
        {
          name: `db-rotation ${engine}: p99, engine in-process (diag)`,
          value: r.bInProcess.p99,
          unit: 'ms',
          baseline: { name: 'p99, no rotation (A)', value: r.a.p99, unit: 'ms' },
          ratio: ratioIn,
          notes: `${describe("B'", r.bInProcess)}; ${ev(r.eventsInProcess)}; ${near(r.nearInProcess)}`,
        },
        {
          name: `db-rotation ${engine}: failed queries (A+B+B')`,
          value: failed,
          unit: 'queries',
          target: '0',
          pass: failed === 0,
          notes: [r.a.errors, r.b.errors, r.bInProcess.errors].filter(Boolean).join('; ') || 'none',
        },
      );
    }
    return results;
  },
};
export default bench;
