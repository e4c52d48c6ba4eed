// Secret-read p99 over HTTP with and without a concurrent full audit export (target: within 2×);
// ROTOR_BENCH_EXPORT_ROWS sets the log size; method: docs/benchmarks.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ONE_JWT_POLICY, quietCli } from './bench-cli.js';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor } from '../src/core/context.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { buildApp } from '../src/server/app.js';
import { seedAuditLog } from './audit-log-seed.js';
import type { BenchModule, BenchResult } from './harness.js';
import { runLoad, startExports } from './http-load-child.js';

const ROWS = Number(process.env.ROTOR_BENCH_EXPORT_ROWS ?? 200_000);
const SECONDS = Number(process.env.ROTOR_BENCH_SERVER_SECONDS ?? 10);
const CONNECTIONS = 50;

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-export-'));
  try {
    await quietCli(dir, ['init']);
    writeFileSync(join(dir, 'rotor.yaml'), ONE_JWT_POLICY);
    await quietCli(dir, ['apply']);
    const rotor = createRotor({
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir },
      rotators: ROTATORS,
    });
    const actor: Actor = {
      operator: 'bench',
      requestId: '00000000-0000-4000-8000-000000000000',
      method: 'manual',
    };
    if (
      !(
        await createRotationEngine({ rotor }).rotate(actor, {
          secret: 'JWT_ACCESS_SECRET',
          method: 'manual',
        })
      ).ok
    )
      throw new Error('setup rotation failed');
    const store = await rotor.store();
    const app = (
      await createApiToken(store, rotor.clock, actor, {
        name: 'bench-app',
        role: 'app',
        secrets: ['*'],
        environments: ['*'],
      })
    ).token;
    const auditor = (
      await createApiToken(store, rotor.clock, actor, { name: 'bench-auditor', role: 'auditor' })
    ).token;
    const seedStart = Date.now();
    seedAuditLog(store.location, ROWS);
    const seedMs = Date.now() - seedStart;

    const server = await buildApp({ rotor, requestLogging: false });
    const base = await server.listen({ host: '127.0.0.1', port: 0 });
    const read = {
      url: `${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`,
      headers: { authorization: `Bearer ${app}` },
      seconds: SECONDS,
      connections: CONNECTIONS,
    };
    const quiet = await runLoad({ ...read, warmupSeconds: 2 });
    const exports = await startExports({
      url: `${base}/v1/audit/export?format=json`,
      headers: { authorization: `Bearer ${auditor}` },
    });
    const busy = await runLoad({ ...read, warmupSeconds: 0 });
    const exported = await exports.stop();
    await server.close();
    await rotor.close();

    const machine = `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${availableParallelism()} cores`;
    const baseline = { name: 'app read p99 without export', value: quiet.p99, unit: 'ms' };
    return [
      {
        name: 'export-load: app read p99, no export',
        value: quiet.p99,
        unit: 'ms',
        notes: `${quiet.rps.toFixed(0)} req/s, p50 ${quiet.p50} ms, ${quiet.non2xx} non-2xx; ${machine}`,
      },
      {
        name: 'export-load: app read p99 during full export',
        value: busy.p99,
        unit: 'ms',
        baseline,
        ratio: busy.p99 / quiet.p99,
        target: '≤ 2× p99 without export',
        pass: busy.p99 <= 2 * quiet.p99 && busy.non2xx === 0,
        notes: `${busy.rps.toFixed(0)} req/s, p50 ${busy.p50} ms, ${busy.non2xx} non-2xx; ${ROWS} audit rows seeded in ${(seedMs / 1000).toFixed(1)} s; exporter finished ${exported.downloads} full exports, ${(exported.bytes / 1e6).toFixed(0)} MB during the run; ${machine}`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: BenchModule = { name: 'audit-export-load', run };
export default bench;
