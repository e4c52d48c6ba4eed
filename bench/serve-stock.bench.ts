// The stock `rotor serve` from outside: audited reads against /healthz of the same server, in
// turns; targets ≥ 0.8× throughput, ≤ 2× p99 (method: docs/benchmarks.md).
import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ONE_JWT_POLICY, quietCli } from './bench-cli.js';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createRotor } from '../src/core/context.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { ROTATORS } from '../src/rotators/registry.js';
import type { BenchModule, BenchResult } from './harness.js';
import { runLoad, type LoadResult } from './http-load-child.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SECONDS = Number(process.env.ROTOR_BENCH_SERVER_SECONDS ?? 10);
const CONNECTIONS = 50;

const sum = (rs: LoadResult[]) => ({
  rps: rs.reduce((a, r) => a + r.rps, 0) / rs.length,
  p99: rs.reduce((a, r) => a + r.p99, 0) / rs.length,
  non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
});

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-serve-'));
  const logFile = join(dir, 'serve.log');
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
    const token = (
      await createApiToken(await rotor.store(), rotor.clock, actor, {
        name: 'bench-app',
        role: 'app',
        secrets: ['*'],
        environments: ['*'],
      })
    ).token;
    await rotor.close();

    const log = openSync(logFile, 'w');
    // ROTOR_BENCH_SERVE_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the server.
    const flags = process.env.ROTOR_BENCH_SERVE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    const server = spawn(process.execPath, [...flags, MAIN, 'serve', '--port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench' },
      stdio: ['ignore', 'pipe', log],
    });
    closeSync(log);
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/listening on/.test(out) && Date.now() < deadline && server.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
    if (!base)
      throw new Error(`rotor serve did not start: ${out}\n${readFileSync(logFile, 'utf8')}`);
    try {
      const health = {
        url: `${base}/healthz`,
        headers: {},
        seconds: SECONDS,
        connections: CONNECTIONS,
      };
      const read = {
        url: `${base}/v1/secrets/JWT_ACCESS_SECRET/value?env=production`,
        headers: { authorization: `Bearer ${token}` },
        seconds: SECONDS,
        connections: CONNECTIONS,
      };
      const h: LoadResult[] = [];
      const r: LoadResult[] = [];
      for (let round = 0; round < 2; round++) {
        h.push(await runLoad({ ...health, warmupSeconds: round === 0 ? 2 : 0 }));
        r.push(await runLoad({ ...read, warmupSeconds: round === 0 ? 2 : 0 }));
      }
      const H = sum(h);
      const R = sum(r);
      const logBytes = statSync(logFile).size;
      const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`;
      return [
        {
          name: 'serve-stock: /healthz',
          value: H.rps,
          unit: 'req/s',
          notes: `p99 ${H.p99.toFixed(1)} ms; ${machine}`,
        },
        {
          name: 'serve-stock: audited app read',
          value: R.rps,
          unit: 'req/s',
          baseline: { name: '/healthz of the same server', value: H.rps, unit: 'req/s' },
          ratio: R.rps / H.rps,
          target: '≥ 0.8× /healthz',
          pass: R.rps >= 0.8 * H.rps && R.non2xx === 0,
          notes: `${R.non2xx} non-2xx; request log ${(logBytes / 1e6).toFixed(1)} MB; ${machine}`,
        },
        {
          name: 'serve-stock: audited app read p99',
          value: R.p99,
          unit: 'ms',
          baseline: { name: '/healthz p99', value: H.p99, unit: 'ms' },
          ratio: R.p99 / H.p99,
          target: '≤ 2× /healthz p99',
          pass: R.p99 <= 2 * H.p99,
        },
      ];
    } finally {
      server.kill('SIGTERM');
      await new Promise((res) => server.once('exit', res));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: BenchModule = { name: 'serve-stock', run };
export default bench;
