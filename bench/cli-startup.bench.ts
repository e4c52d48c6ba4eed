// Start-up of the `rotor` executable, as whole processes against `node -e 0` in the same run
// (issue 11): the built CLI (run after `npm run build`) in a project holding the runbook's
// inventory, each command and the baseline run in alternation so both see the same machine load;
// median of 5 after one warm-up. Targets: --version/--help <= 1.5x, status, check, get and
// `run -- true` <= 2.5x. Wall time is what a user waits; CPU time (user + system, from
// /usr/bin/time) is the steadier figure on a loaded machine.
//
// Reading commands find the validated rotor.yaml in .rotor/policy-cache.json (written by the
// set-up's commands); `get, rotor.yaml just edited` changes the file before every run, so each
// run validates it again: what the first command after an edit costs (no target, for the record).
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchResult } from './harness.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = 5;

const CASES: ReadonlyArray<{ name: string; args: string[]; target?: number; edit?: boolean }> = [
  { name: '--version', args: ['--version'], target: 1.5 },
  { name: '--help', args: ['--help'], target: 1.5 },
  { name: 'status', args: ['status'], target: 2.5 },
  { name: 'check', args: ['check'], target: 2.5 },
  { name: 'get', args: ['get', 'JWT_ACCESS_SECRET', '--env', 'staging'], target: 2.5 },
  { name: 'run -- true', args: ['run', '--env', 'staging', '--', 'true'], target: 2.5 },
  {
    name: 'get, rotor.yaml just edited',
    args: ['get', 'JWT_ACCESS_SECRET', '--env', 'staging'],
    edit: true,
  },
];

const TIME_BIN = '/usr/bin/time';

/** Wall and CPU (user + system, from /usr/bin/time) milliseconds of one process. */
function spawnMs(args: string[], cwd: string): { wall: number; cpu: number } {
  const start = process.hrtime.bigint();
  const r = spawnSync(TIME_BIN, ['-f', 'cpu %U %S', process.execPath, ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: cwd, ROTOR_OPERATOR: 'bench' },
  });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  const cpuLine = /cpu (\d+\.\d+) (\d+\.\d+)\s*$/.exec(r.stderr);
  // check exits 0-3 by design (due, overdue and never-rotated secrets are states, not failures).
  if (r.status === null || r.status > 3 || !cpuLine)
    throw new Error(`rotor ${args.slice(1).join(' ')} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: (Number(cpuLine[1]) + Number(cpuLine[2])) * 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-startup-'));
  for (const args of [['init'], ['apply'], ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging']])
    spawnMs([MAIN, ...args], dir);
  return dir;
}

async function run(): Promise<BenchResult[]> {
  const dir = project();
  try {
    const results: BenchResult[] = [];
    for (const c of CASES) {
      const base: Array<{ wall: number; cpu: number }> = [];
      const cli: Array<{ wall: number; cpu: number }> = [];
      spawnMs(['-e', '0'], dir);
      spawnMs([MAIN, ...c.args], dir);
      for (let i = 0; i < RUNS; i++) {
        base.push(spawnMs(['-e', '0'], dir));
        if (c.edit) appendFileSync(join(dir, 'rotor.yaml'), `# edit ${i}\n`);
        cli.push(spawnMs([MAIN, ...c.args], dir));
      }
      for (const measure of ['wall', 'cpu'] as const) {
        const value = median(cli.map((x) => x[measure]));
        const baseline = median(base.map((x) => x[measure]));
        const ratio = value / baseline;
        results.push({
          name: `cli start-up (${measure}): rotor ${c.name}`,
          value,
          unit: 'ms',
          baseline: { name: 'node -e 0', value: baseline, unit: 'ms' },
          ratio,
          ...(c.target === undefined
            ? {}
            : { target: `<= ${c.target}x node -e 0`, pass: ratio <= c.target }),
        });
      }
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default { name: 'cli-startup', run } satisfies BenchModule;
