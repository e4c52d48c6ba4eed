// `rotor status` and `rotor check` end to end through the built CLI over 1k-100k rows (wall time
// and peak RSS); the seeded data and figures: docs/benchmarks.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/core/store/open-store.js';
import type { Database } from '../src/core/store/schema.js';
import type { Insertable, Kysely } from 'kysely';
import { computeStatus } from '../src/core/status/status.js';
import { medianMs, type BenchModule, type BenchResult } from './harness.js';

const SIZES = [1_000, 10_000, 100_000] as const;
const RUNS = 3;
const DAY = 86_400_000;
const TIME_BUDGET_MS = 2000;
const MEMORY_BUDGET_MB = 300;
/** 10× the rows should cost at most this much more time (linear is 10×). */
const NEAR_LINEAR_MAX_RATIO = 12;
const BATCH = 500;
const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TIME_BIN = '/usr/bin/time';

async function insertBatched<T extends keyof Database>(
  trx: Kysely<Database>,
  table: T,
  rows: Insertable<Database[T]>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) {
    await trx
      .insertInto(table)
      .values(rows.slice(i, i + BATCH))
      .execute();
  }
}

/** Seeds a store with `rows` secret × environment rows; returns the project directory. */
export async function seed(rows: number, now: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `rotor-bench-status-${rows}-`));
  const store = await openStore({ stateDir: join(dir, '.rotor'), create: true, env: {} });
  const envs = ['staging', 'production'];
  const cadences = [
    { targetMs: 90 * DAY, maxMs: 90 * DAY, warnMs: 14 * DAY },
    { targetMs: 180 * DAY, maxMs: 180 * DAY, warnMs: 14 * DAY },
    { targetMs: 180 * DAY, maxMs: 365 * DAY, warnMs: 14 * DAY },
  ];
  const bytes = Buffer.alloc(64, 7);
  try {
    await store.writeTransaction(async (trx) => {
      await trx
        .insertInto('environments')
        .values(envs.map((name, position) => ({ name, position })))
        .execute();
      await trx
        .insertInto('meta')
        .values({ key: 'master_key_rotated_at', value: String(now - 100 * DAY) })
        .execute();
      const secrets: Insertable<Database['secrets']>[] = [];
      const versions: Insertable<Database['versions']>[] = [];
      const rotations: Insertable<Database['rotations']>[] = [];
      let n = 0;
      for (let s = 0; s < rows / envs.length; s++) {
        const name = `BENCH_SECRET_${String(s).padStart(6, '0')}`;
        const spec = {
          name,
          kind: 'random',
          cadence: cadences[s % cadences.length]!,
          graceMs: DAY,
          owner: s % 5 === 0 ? 'platform-team' : undefined,
          environments: envs,
          config: { bytes: 32, encoding: 'base64url' },
        };
        secrets.push({
          name,
          kind: 'random',
          spec: JSON.stringify(spec),
          applied_at: now - 500 * DAY,
        });
        for (const environment of envs) {
          const rotatedAt = now - ((n * 7919) % 400) * DAY - (n % 86_400) * 1000;
          const base = {
            secret: name,
            environment,
            origin: 'generated' as const,
            promoted_at: rotatedAt,
            retired_at: null,
            compromised: 0,
            rotation_id: null,
            meta: '{}',
            master_key_id: 'bench',
          };
          versions.push({
            ...base,
            id: `v-${n}-c`,
            stage: 'current',
            created_at: rotatedAt,
            rotated_at: rotatedAt,
            retire_at: null,
            ciphertext: bytes,
            wrapped_key: bytes,
          });
          versions.push({
            ...base,
            id: `v-${n}-r`,
            stage: 'retired',
            created_at: rotatedAt - 200 * DAY,
            rotated_at: rotatedAt - 200 * DAY,
            retire_at: null,
            ciphertext: null,
            wrapped_key: null,
          });
          if (n % 10 === 0) {
            versions.push({
              ...base,
              id: `v-${n}-p`,
              stage: 'previous',
              created_at: rotatedAt - 90 * DAY,
              rotated_at: rotatedAt - 90 * DAY,
              retire_at: now + DAY,
              ciphertext: bytes,
              wrapped_key: bytes,
            });
          }
          const rotation = {
            secret: name,
            environment,
            method: 'scheduled' as const,
            operator: 'bench',
            request_id: `req-${n}`,
            reason: null,
            step_state: 'done' as const,
            pending_version_id: null,
            error_message: null,
          };
          rotations.push({
            ...rotation,
            id: `r-${n}-ok`,
            state: 'succeeded',
            step: 'promote',
            started_at: rotatedAt,
            updated_at: rotatedAt,
            finished_at: rotatedAt,
            error_code: null,
          });
          if (n % 100 === 1) {
            rotations.push({
              ...rotation,
              id: `r-${n}-f`,
              state: 'failed',
              step: 'verify',
              started_at: now - DAY,
              updated_at: now - DAY,
              finished_at: now - DAY,
              error_code: 'ERR_ROTOR_VERIFY_FAILED',
            });
          } else if (n % 200 === 2) {
            const updated = n % 400 === 2 ? now - 60 * 60_000 : now;
            rotations.push({
              ...rotation,
              id: `r-${n}-run`,
              state: 'running',
              step: 'verify',
              step_state: 'started',
              started_at: now - 60 * 60_000,
              updated_at: updated,
              finished_at: null,
              error_code: null,
            });
          }
          n++;
        }
      }
      await insertBatched(trx, 'secrets', secrets);
      await insertBatched(trx, 'versions', versions);
      await insertBatched(trx, 'rotations', rotations);
    });
  } finally {
    await store.close();
  }
  return dir;
}

interface Run {
  ms: number;
  maxRssMb: number;
  bytes: number;
  code: number;
}

function runCli(dir: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(
      TIME_BIN,
      ['-f', 'ROTOR_BENCH_MAXRSS_KB=%M', process.execPath, MAIN, ...args],
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? dir,
          ROTOR_OPERATOR: 'bench',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const kb = /ROTOR_BENCH_MAXRSS_KB=(\d+)/.exec(stderr);
      // GNU time adds its own line for a non-zero exit; anything else on stderr is a failure.
      const rest = stderr
        .split('\n')
        .filter(
          (l) =>
            l.trim() &&
            !l.startsWith('ROTOR_BENCH_MAXRSS_KB=') &&
            !l.startsWith('Command exited with non-zero status'),
        )
        .join('\n');
      if (!kb || rest || code === null || code === 3 || (args[0] === 'status' && code !== 0)) {
        return reject(
          new Error(`rotor ${args.join(' ')} failed (exit ${code}): ${stderr.slice(0, 500)}`),
        );
      }
      resolve({ ms, maxRssMb: Number(kb[1]) / 1024, bytes, code });
    });
  });
}

/** One warm-up, then the median wall time and the worst peak RSS of RUNS runs. */
async function measure(
  dir: string,
  args: string[],
): Promise<{ ms: number; maxRssMb: number; bytes: number; code: number }> {
  await runCli(dir, args);
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runCli(dir, args));
  const times = runs.map((r) => r.ms).sort((a, b) => a - b);
  return {
    ms: times[Math.floor(times.length / 2)]!,
    maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)),
    bytes: runs[0]!.bytes,
    code: runs[0]!.code,
  };
}

function label(rows: number): string {
  return rows >= 1000 ? `${rows / 1000}k` : String(rows);
}

async function run(): Promise<BenchResult[]> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  if (!existsSync(TIME_BIN)) throw new Error(`${TIME_BIN} is needed to measure peak memory`);
  const now = Date.now();
  const results: BenchResult[] = [];
  const commands = [
    { name: 'status', args: ['status'] },
    { name: 'check', args: ['check'] },
    { name: 'status --json', args: ['status', '--json'] },
  ];
  const times = new Map<string, number>();
  const baseline = await measure(tmpdir(), ['--version']);
  results.push({
    name: 'rotor --version (process start, for context)',
    value: baseline.ms,
    unit: 'ms',
    notes: `peak ${baseline.maxRssMb.toFixed(1)} MB`,
  });
  for (const rows of SIZES) {
    const dir = await seed(rows, now);
    try {
      // Diagnostic: the core alone, in this process (queries + the linear pass, no process start
      // and no output), so its growth is seen without the fixed cost of starting node.
      const store = await openStore({ stateDir: join(dir, '.rotor'), env: {} });
      try {
        const ms = await medianMs(RUNS, () => computeStatus(store, { now: Date.now() }));
        times.set(`computeStatus@${rows}`, ms);
        results.push({
          name: `computeStatus (in-process) ${label(rows)} rows`,
          value: ms,
          unit: 'ms',
          notes: `${((ms * 1000) / rows).toFixed(2)} µs/row`,
        });
      } finally {
        await store.close();
      }
      for (const command of commands) {
        const m = await measure(dir, command.args);
        times.set(`${command.name}@${rows}`, m.ms);
        const budgeted = rows === 100_000 && command.name !== 'status --json';
        results.push({
          name: `${command.name} ${label(rows)} rows`,
          value: m.ms,
          unit: 'ms',
          ...(budgeted
            ? { target: `< ${TIME_BUDGET_MS} ms at 100k`, pass: m.ms < TIME_BUDGET_MS }
            : {}),
          notes: `${((m.ms * 1000) / rows).toFixed(2)} µs/row, ${(m.bytes / 1e6).toFixed(1)} MB of output, exit ${m.code}`,
        });
        results.push({
          name: `${command.name} ${label(rows)} rows, per row`,
          value: (m.ms * 1000) / rows,
          unit: 'µs',
          notes: 'end-to-end time / rows, nothing subtracted',
        });
        results.push({
          name: `${command.name} ${label(rows)} rows peak RSS`,
          value: m.maxRssMb,
          unit: 'MB',
          target: `< ${MEMORY_BUDGET_MB} MB`,
          pass: m.maxRssMb < MEMORY_BUDGET_MB,
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const command of [...commands, { name: 'computeStatus' }]) {
    for (const [small, large] of [
      [1_000, 10_000],
      [10_000, 100_000],
    ] as const) {
      const a = times.get(`${command.name}@${small}`)!;
      const b = times.get(`${command.name}@${large}`)!;
      const diagnostic = command.name === 'computeStatus';
      results.push({
        name: `${command.name} growth ${label(large)}/${label(small)}`,
        value: b / a,
        unit: '×',
        baseline: {
          name: `${command.name}${diagnostic ? ' (in-process)' : ''} ${label(small)} rows`,
          value: a,
          unit: 'ms',
        },
        ratio: b / a,
        // The target is on the commands, end to end; the core's growth is reported as is.
        ...(diagnostic
          ? { notes: 'diagnostic, no target: linear = 10×' }
          : {
              target: `near-linear: ≤ ${NEAR_LINEAR_MAX_RATIO}× for 10× the rows (linear = 10×, process start included)`,
              pass: b / a <= NEAR_LINEAR_MAX_RATIO,
            }),
      });
    }
  }
  return results;
}

const bench: BenchModule = { name: 'status', run };
export default bench;
