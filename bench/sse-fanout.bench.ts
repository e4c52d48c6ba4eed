// Live delivery fan-out: 1,000 rotor/client instances on SSE streams to `rotor serve`, timed from
// a rotation to each client holding the new value (method: docs/benchmarks.md).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRotor } from '../src/core/context.js';
import { ensureMasterKeyFile } from '../src/core/crypto/master-key-file.js';
import { applyPolicy } from '../src/core/apply/apply-policy.js';
import { DEFAULT_POLICY_YAML } from '../src/core/policy/default-policy.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { createApiToken } from '../src/core/tokens/create-token.js';
import { ROTATORS } from '../src/rotators/registry.js';
import type { BenchModule, BenchResult } from './harness.js';

const CLIENTS = Number(process.env.ROTOR_BENCH_SSE_CLIENTS ?? 1000);
const ROTATIONS = Number(process.env.ROTOR_BENCH_SSE_ROTATIONS ?? 5);
/** Client processes: apps are separate processes, and one process alone would measure its own event loop. */
const CLIENT_PROCESSES = Number(process.env.ROTOR_BENCH_SSE_PROCS ?? 4);
const MB = 1024 * 1024;

/** The server process's resident memory now and its peak so far (VmRSS, VmHWM), in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** `rotor serve --port 0` from the build (npm run bench builds first); resolves with its port. */
function serve(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const main = process.env.ROTOR_BENCH_CLI ?? join(process.cwd(), 'dist/cli/main.js');
  const child = spawn(process.execPath, [main, 'serve', '--port', '0'], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench', ROTOR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`rotor serve exited (${code}): ${out}`)));
  });
}

function nextMessage<T>(child: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${type} from the child within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m as T);
    };
    child.on('message', onMessage);
  });
}

/** One raw SSE connection (node:http) in this process: when the next rotation event arrives. */
async function rawProbe(
  url: string,
  token: string,
): Promise<{ next(): Promise<number>; close(): void }> {
  let waiting: ((at: number) => void) | undefined;
  const req = httpGet(
    `${url}/v1/events?secrets=JWT_ACCESS_SECRET`,
    { agent: false, headers: { authorization: `Bearer ${token}` } },
    (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (chunk.includes('event: rotation') && waiting) {
          const w = waiting;
          waiting = undefined;
          w(Date.now());
        }
      });
    },
  );
  req.on('error', () => {});
  await new Promise((r) => setTimeout(r, 200));
  return {
    next: () => new Promise<number>((resolve) => (waiting = resolve)),
    close: () => req.destroy(),
  };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

const bench: BenchModule = {
  name: 'sse-fanout',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-sse-'));
    writeFileSync(join(dir, 'rotor.yaml'), DEFAULT_POLICY_YAML);
    mkdirSync(join(dir, '.rotor'), { mode: 0o700 });
    ensureMasterKeyFile({ stateDir: join(dir, '.rotor'), env: {} });
    const rotor = createRotor({ cwd: dir, env: {}, rotators: ROTATORS });
    const actor = {
      operator: 'bench',
      requestId: '00000000-0000-4000-8000-0000000000b5',
      method: 'manual' as const,
    };
    await rotor.store({ create: true });
    await rotor.masterKey();
    await applyPolicy(rotor, actor);
    const engine = createRotationEngine({ rotor });
    const rotate = async () => {
      const r = await engine.rotate(actor, {
        secret: 'JWT_ACCESS_SECRET',
        environments: ['production'],
        method: 'manual',
      });
      if (!r.ok) throw new Error('rotation failed');
      return r.results[0]!.versionId!;
    };
    await rotate();
    const store = await rotor.store();
    const { token } = await createApiToken(store, rotor.clock, actor, {
      name: 'bench',
      role: 'app',
      secrets: ['JWT_*'],
      environments: ['production'],
    });

    const { child: server, port } = await serve(dir);
    const clients: ChildProcess[] = [];
    try {
      await new Promise((r) => setTimeout(r, 500));
      const idle = memoryOf(server.pid!);

      const url = `http://127.0.0.1:${port}`;
      const probe = await rawProbe(url, token);
      const started = Date.now();
      const per = Math.ceil(CLIENTS / CLIENT_PROCESSES);
      for (let p = 0; p < CLIENT_PROCESSES; p++) {
        const child = fork(
          join(import.meta.dirname, 'sse-fanout-clients.ts'),
          [url, token, String(Math.min(per, CLIENTS - p * per)), String(p * per)],
          { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
        );
        clients.push(child);
        // One at a time: a fleet connects over a while, and four tsx start-ups at once only measure the CPU.
        await nextMessage<{ ms: number; errors: number }>(child, 'ready');
      }
      const ready = { ms: Date.now() - started };
      await new Promise((r) => setTimeout(r, 1_000));
      const connected = memoryOf(server.pid!);

      const latencies: number[] = [];
      const delivered: number[] = [];
      const detected: number[] = [];
      let missing = 0;
      for (let i = 0; i < ROTATIONS; i++) {
        const seen = new Map<string, { receivedAt: number; at: number }[]>();
        const onChanged = (m: {
          type: string;
          versionId: string;
          receivedAt: number;
          at: number;
        }) => {
          if (m.type !== 'changed') return;
          let list = seen.get(m.versionId);
          if (!list) seen.set(m.versionId, (list = []));
          list.push(m);
        };
        for (const c of clients) c.on('message', onChanged);
        const probeAt = probe.next();
        const t0 = Date.now();
        const versionId = await rotate();
        const deadline = Date.now() + 10_000;
        while ((seen.get(versionId)?.length ?? 0) < CLIENTS && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        for (const c of clients) c.off('message', onChanged);
        detected.push((await probeAt) - t0);
        if (process.env.ROTOR_BENCH_VERBOSE)
          process.stderr.write(
            `rotation ${i + 1}: server RSS ${(memoryOf(server.pid!).rss / MB).toFixed(1)} MB\n`,
          );
        const arrivals = seen.get(versionId) ?? [];
        missing += CLIENTS - arrivals.length;
        for (const a of arrivals) {
          delivered.push(a.receivedAt - t0);
          latencies.push(a.at - t0);
        }
        await new Promise((r) => setTimeout(r, 1_000));
      }
      // Acks: every consumer reported the last version (retire would not wait).
      const current = await store.db
        .selectFrom('versions')
        .select('id')
        .where('secret', '=', 'JWT_ACCESS_SECRET')
        .where('environment', '=', 'production')
        .where('stage', '=', 'current')
        .executeTakeFirstOrThrow();
      const acked = await store.db
        .selectFrom('consumer_versions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('version_id', '=', current.id)
        .executeTakeFirstOrThrow();

      const { rss: settledRss, peak } = memoryOf(server.pid!);
      const settled = { rss: settledRss };
      let clientErrors = 0;
      for (const c of clients) {
        c.send({ type: 'stop' });
        clientErrors += (await nextMessage<{ errors: number }>(c, 'stopped', 30_000)).errors;
      }
      probe.close();
      latencies.sort((a, b) => a - b);
      delivered.sort((a, b) => a - b);
      const p99 = percentile(delivered, 99);
      const notes = `${CLIENTS} clients connected in ${ready.ms} ms; ${ROTATIONS} rotations; ${missing} deliveries missing; ${Number(acked.n)}/${CLIENTS} acks of the last version stored; client errors ${clientErrors}; ${CLIENT_PROCESSES} client processes`;
      const results: BenchResult[] = [
        {
          name: 'rotation event at a lone raw SSE probe, median',
          value: detected.sort((a, b) => a - b)[Math.floor(detected.length / 2)]!,
          unit: 'ms',
          notes: "store poll + fan-out, without the clients' own load",
        },
        {
          name: `rotation event at ${CLIENTS} SSE clients, p50`,
          value: percentile(delivered, 50),
          unit: 'ms',
          notes,
        },
        {
          name: `rotation event at ${CLIENTS} SSE clients, p99`,
          value: p99,
          unit: 'ms',
          target: '< 1000 ms',
          pass: missing === 0 && p99 < 1000,
          notes,
        },
        {
          name: `rotation event at ${CLIENTS} SSE clients, max`,
          value: delivered.at(-1) ?? NaN,
          unit: 'ms',
        },
        {
          name: `new value held by ${CLIENTS} clients, p50`,
          value: percentile(latencies, 50),
          unit: 'ms',
          notes: 'event, then GET /v1/secrets/:name/value (audited), then onChange',
        },
        {
          name: `new value held by ${CLIENTS} clients, p99`,
          value: percentile(latencies, 99),
          unit: 'ms',
        },
        {
          name: `rotor serve RSS, ${CLIENTS} clients connected`,
          value: connected.rss / MB,
          unit: 'MB',
          baseline: { name: 'no clients', value: idle.rss / MB, unit: 'MB' },
          ratio: connected.rss / idle.rss,
          target: '< 200 MB',
          pass: connected.rss < 200 * MB,
        },
        {
          name: `rotor serve RSS after ${ROTATIONS} rotations`,
          value: settled.rss / MB,
          unit: 'MB',
          target: '< 200 MB',
          pass: settled.rss < 200 * MB,
        },
        {
          name: `rotor serve peak RSS (VmHWM), connecting + rotations`,
          value: peak / MB,
          unit: 'MB',
          notes:
            "the highest resident size at any moment, including 1,000 clients connecting at once and each rotation's 1,000 reads and acks",
        },
      ];
      return results;
    } finally {
      for (const c of clients) c.kill();
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      server.kill('SIGKILL');
      await rotor.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
