// App reads (GET /v1/secrets/:name/value with an app token, audited) through real `rotor serve`
// processes: one on SQLite (the baseline), one on PostgreSQL, and two on one PostgreSQL store with
// the load split across both, in one run; req/s and p50/p99 as ratios to SQLite (issue 14).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  benchProject,
  machineLine,
  scratchPostgres,
  type BenchProject,
} from './store-backends-fixture.js';
import type { BenchModule, BenchResult } from './harness.js';
import { runLoad, type LoadResult } from './http-load-child.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SECONDS = Number(process.env.ROTOR_BENCH_SERVER_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.ROTOR_BENCH_SERVER_CONNECTIONS ?? 50);
const SECRET = 'JWT_ACCESS_SECRET';

interface Served {
  base: string;
  stop(): Promise<void>;
}

/** Starts the built `rotor serve` over the project (no rate limit) and waits until it listens. */
async function serve(project: BenchProject, logDir: string, n: number): Promise<Served> {
  const logFile = join(logDir, `serve-${n}.log`);
  const log = openSync(logFile, 'w');
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, 'serve', '--port', '0', '--rate-limit', '0', '--rate-limit-address', '0'],
    { cwd: project.dir, env: project.env, stdio: ['ignore', 'pipe', log] },
  );
  closeSync(log);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!/listening on/.test(out) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
  const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
  if (!base) {
    child.kill('SIGKILL');
    throw new Error(`rotor serve did not start: ${out}\n${readFileSync(logFile, 'utf8')}`);
  }
  return {
    base,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** Loads every instance at once, the connections split evenly; req/s summed, latencies averaged. */
async function loadAll(bases: string[], token: string): Promise<Figures> {
  const each = Math.max(1, Math.round(CONNECTIONS / bases.length));
  const results: LoadResult[] = await Promise.all(
    bases.map((base) =>
      runLoad({
        url: `${base}/v1/secrets/${SECRET}/value?env=production`,
        headers: { authorization: `Bearer ${token}` },
        seconds: SECONDS,
        connections: each,
        warmupSeconds: 2,
      }),
    ),
  );
  return {
    rps: results.reduce((a, r) => a + r.rps, 0),
    p50: results.reduce((a, r) => a + r.p50, 0) / results.length,
    p99: results.reduce((a, r) => a + r.p99, 0) / results.length,
    non2xx: results.reduce((a, r) => a + r.non2xx, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
  };
}

async function measure(project: BenchProject, logDir: string, instances: number) {
  const servers: Served[] = [];
  try {
    for (let i = 0; i < instances; i++) servers.push(await serve(project, logDir, i));
    const check = await fetch(`${servers[0]!.base}/v1/secrets/${SECRET}/value?env=production`, {
      headers: { authorization: `Bearer ${project.token}` },
    });
    if (check.status !== 200) throw new Error(`bench read failed: ${check.status}`);
    return await loadAll(
      servers.map((s) => s.base),
      project.token,
    );
  } finally {
    for (const s of servers) await s.stop();
  }
}

async function run(): Promise<BenchResult[]> {
  const logDir = mkdtempSync(join(tmpdir(), 'rotor-bench-backends-'));
  const pg = await scratchPostgres('benchread');
  const sqlite = await benchProject({});
  const postgres = await benchProject({ ROTOR_STORE_URL: pg.url });
  try {
    const loadBefore = loadavg()[0]!;
    const a = await measure(sqlite, logDir, 1);
    const b = await measure(postgres, logDir, 1);
    const c = await measure(postgres, logDir, 2);
    const machine = `${machineLine()}; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after`;
    const baseline = { name: 'one serve on SQLite', value: a.rps, unit: 'req/s' };
    const p50 = { name: 'one serve on SQLite, p50', value: a.p50, unit: 'ms' };
    const p99 = { name: 'one serve on SQLite, p99', value: a.p99, unit: 'ms' };
    const row = (label: string, f: Figures): BenchResult[] => [
      {
        name: `store-backends: ${label}`,
        value: f.rps,
        unit: 'req/s',
        baseline,
        ratio: f.rps / a.rps,
        notes: `${f.non2xx} non-2xx, ${f.errors} errors; ${CONNECTIONS} connections, ${SECONDS} s; ${machine}`,
      },
      {
        name: `store-backends: ${label}, p50`,
        value: f.p50,
        unit: 'ms',
        baseline: p50,
        ratio: a.p50 > 0 ? f.p50 / a.p50 : undefined,
      },
      {
        name: `store-backends: ${label}, p99`,
        value: f.p99,
        unit: 'ms',
        baseline: p99,
        ratio: f.p99 / a.p99,
      },
    ];
    return [
      ...row('1 serve on SQLite', a).map((r) => ({ ...r, baseline: undefined, ratio: undefined })),
      ...row('1 serve on PostgreSQL', b),
      ...row('2 serve on one PostgreSQL', c),
    ];
  } finally {
    await postgres.close();
    await sqlite.close();
    await pg.drop();
    rmSync(logDir, { recursive: true, force: true });
  }
}

const bench: BenchModule = { name: 'store-backends-read', run };
export default bench;
