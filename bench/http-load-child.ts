// Load generators for the server benchmarks, run in a forked child so they do not share the
// server's event loop: `load` runs autocannon against one URL and posts its figures; `export`
// downloads one URL over and over (discarding the body) until told to stop, and posts how many
// full downloads it finished.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

interface LoadJob {
  kind: 'load';
  url: string;
  headers: Record<string, string>;
  seconds: number;
  connections: number;
  warmupSeconds: number;
}
interface ExportJob {
  kind: 'export';
  url: string;
  headers: Record<string, string>;
}

const THIS_FILE = fileURLToPath(import.meta.url);

type Autocannon = (o: Record<string, unknown>) => Promise<{
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}>;

async function child(job: LoadJob | ExportJob): Promise<void> {
  if (job.kind === 'load') {
    const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
    const common = { url: job.url, connections: job.connections, headers: job.headers };
    if (job.warmupSeconds > 0) await autocannon({ ...common, duration: job.warmupSeconds });
    const r = await autocannon({ ...common, duration: job.seconds });
    const result: LoadResult = {
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      requests: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors,
    };
    process.send!(result);
    return;
  }
  let stop = false;
  process.on('message', () => (stop = true));
  let downloads = 0;
  let bytes = 0;
  process.send!({ started: true });
  while (!stop) {
    const res = await fetch(job.url, { headers: job.headers });
    if (res.status !== 200) throw new Error(`export answered ${res.status}`);
    for await (const chunk of res.body!) {
      bytes += (chunk as Uint8Array).length;
      if (stop) break;
    }
    if (!stop) downloads++;
  }
  process.send!({ downloads, bytes });
}

/** Runs autocannon in a child process and returns its figures. */
export async function runLoad(job: Omit<LoadJob, 'kind'>): Promise<LoadResult> {
  const c = fork(THIS_FILE, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ROTOR_BENCH_HTTP_CHILD: JSON.stringify({ kind: 'load', ...job }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [result] = (await once(c, 'message')) as [LoadResult];
  await once(c, 'exit');
  return result;
}

/** Starts downloading `url` in a loop in a child process; `stop()` ends it and says how many downloads finished. */
export async function startExports(
  job: Omit<ExportJob, 'kind'>,
): Promise<{ stop(): Promise<{ downloads: number; bytes: number }> }> {
  const c = fork(THIS_FILE, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ROTOR_BENCH_HTTP_CHILD: JSON.stringify({ kind: 'export', ...job }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await once(c, 'message');
  return {
    async stop() {
      const done = once(c, 'message');
      c.send('stop');
      const [result] = (await done) as [{ downloads: number; bytes: number }];
      c.kill();
      return result;
    },
  };
}

if (process.env.ROTOR_BENCH_HTTP_CHILD)
  await child(JSON.parse(process.env.ROTOR_BENCH_HTTP_CHILD) as LoadJob | ExportJob);
