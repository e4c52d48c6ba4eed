// An app token reading one secret over HTTP (audited) against SQLite and the in-process read path;
// target ≥ 10,000 req/s, p99 < 10 ms (method: docs/benchmarks.md).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { runCli } from '../src/cli/program.js';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor } from '../src/core/context.js';
import { readOneValue } from '../src/core/delivery/read-values.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { storeFile } from '../src/core/store/open-store.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { openVersion } from '../src/core/vault/versions.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { buildApp } from '../src/server/app.js';
import type { BenchModule, BenchResult } from './harness.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const SECRET = 'JWT_ACCESS_SECRET';
const ENVIRONMENT = 'production';
const DURATION_S = Number(process.env.ROTOR_BENCH_SERVER_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.ROTOR_BENCH_SERVER_CONNECTIONS ?? 10);
const TARGET_RPS = 10_000;
const TARGET_P99_MS = 10;

const POLICY = `version: 1
environments: [staging, production]
secrets:
  ${SECRET}:
    kind: jwt-hmac
    cadence: 90d
    grace: 1h
    config: { algorithm: HS256 }
`;

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

/** The load generator, in the forked child: autocannon against the URL it is given. */
async function loadChild(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as (
    options: Record<string, unknown>,
  ) => Promise<{
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  }>;
  const { url, token, seconds, connections } = JSON.parse(process.env.ROTOR_BENCH_LOAD!) as {
    url: string;
    token: string;
    seconds: number;
    connections: number;
  };
  const headers = { authorization: `Bearer ${token}` };
  await autocannon({ url, connections, duration: 2, headers }); // warm-up
  const r = await autocannon({ url, connections, duration: seconds, headers });
  const result: LoadResult = {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
  process.send!(result);
}

function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

async function cli(dir: string, args: string[]): Promise<void> {
  const stdin = new PassThrough();
  stdin.end();
  const code = await runCli(args, {
    io: {
      stdout: sink(),
      stderr: sink(),
      stdin,
      env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench' },
      cwd: dir,
    },
  });
  if (code !== 0) throw new Error(`rotor ${args.join(' ')} failed (${code})`);
}

/** Operations per second of `fn` over about `ms` milliseconds. */
async function opsPerSecond(ms: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < 200; i++) await fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-server-'));
  const env = { PATH: process.env.PATH, HOME: dir };
  try {
    await cli(dir, ['init']);
    writeFileSync(join(dir, 'rotor.yaml'), POLICY);
    await cli(dir, ['apply']);
    const rotor = createRotor({ cwd: dir, env, rotators: ROTATORS });
    const actor: Actor = {
      operator: 'bench',
      requestId: '00000000-0000-4000-8000-000000000000',
      method: 'manual',
    };
    const rotated = await createRotationEngine({ rotor }).rotate(actor, {
      secret: SECRET,
      method: 'manual',
    });
    if (!rotated.ok) throw new Error('setup rotation failed');
    const store = await rotor.store();
    const { token } = await createApiToken(store, rotor.clock, actor, {
      name: 'bench-app',
      role: 'app',
      secrets: [SECRET],
      environments: [ENVIRONMENT],
    });
    const master = await rotor.masterKey();

    // Baseline 1: straight from SQLite, one prepared statement and the decrypt, no audit.
    const db = new BetterSqlite3(storeFile(join(dir, '.rotor')), { readonly: true });
    const select = db.prepare(
      "SELECT * FROM versions WHERE secret = ? AND environment = ? AND stage = 'current'",
    );
    const direct = await opsPerSecond(3000, () =>
      openVersion(master, select.get(SECRET, ENVIRONMENT) as Parameters<typeof openVersion>[1]),
    );
    db.close();
    // Baseline 2: the core read path in-process (what the route calls), audit row included.
    const core = await opsPerSecond(3000, () =>
      readOneValue(rotor, actor, { secret: SECRET, environment: ENVIRONMENT, stage: 'current' }),
    );

    const app = await buildApp({
      rotor,
      requestLogging: false,
      rateLimit: process.env.ROTOR_BENCH_NO_RATE_LIMIT
        ? false
        : { max: 1_000_000_000, timeWindowMs: 60_000 },
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `${address}/v1/secrets/${SECRET}/value?env=${ENVIRONMENT}`;
    const check = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    if (check.status !== 200)
      throw new Error(`bench read failed: ${check.status} ${await check.text()}`);
    const auditBefore = Number(
      (
        await store.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

    const cpuBefore = process.cpuUsage();
    const child = fork(THIS_FILE, [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        ROTOR_BENCH_LOAD_CHILD: '1',
        ROTOR_BENCH_LOAD: JSON.stringify({
          url,
          token,
          seconds: DURATION_S,
          connections: CONNECTIONS,
        }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [load] = (await once(child, 'message')) as [LoadResult];
    await once(child, 'exit');
    const cpu = process.cpuUsage(cpuBefore);
    const auditAfter = Number(
      (
        await store.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    await app.close();
    await rotor.close();

    // Served requests (warm-up included) = read rows written; the server's CPU per request is what
    // bounds its throughput on one idle core, whatever else the machine is doing.
    const served = auditAfter - auditBefore;
    const cpuUsPerRequest = (cpu.user + cpu.system) / served;
    const notes = `${CONNECTIONS} connections, ${DURATION_S} s after a 2 s warm-up; ${load.requests} requests, ${load.non2xx} non-2xx, ${load.errors} errors; ${auditAfter - auditBefore} read.get audit rows written; p50 ${load.p50} ms`;
    const baseline = {
      name: 'SQLite read + decrypt, in-process, no audit',
      value: direct,
      unit: 'ops/s',
    };
    return [
      { name: 'server: SQLite read + decrypt (no HTTP, no audit)', value: direct, unit: 'ops/s' },
      {
        name: 'server: core readOneValue (audited, no HTTP)',
        value: core,
        unit: 'ops/s',
        baseline,
        ratio: core / direct,
      },
      {
        name: 'server: app token read over HTTP',
        value: load.rps,
        unit: 'req/s',
        baseline,
        ratio: load.rps / direct,
        target: `≥ ${TARGET_RPS} req/s`,
        pass: load.rps >= TARGET_RPS && load.non2xx === 0,
        notes,
      },
      {
        name: 'server: app token read over HTTP, p99',
        value: load.p99,
        unit: 'ms',
        target: `< ${TARGET_P99_MS} ms`,
        pass: load.p99 < TARGET_P99_MS,
      },
      {
        name: 'server: CPU per HTTP read (server process)',
        value: cpuUsPerRequest,
        unit: 'µs',
        notes: `≈ ${Math.round(1e6 / cpuUsPerRequest)} req/s on one idle core; load average at the end ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.ROTOR_BENCH_LOAD_CHILD === '1') await loadChild();

const bench: BenchModule = { name: 'server-read', run };
export default bench;
