// Start-up of the `rotor` executable, as whole processes against `node -e 0` in the same run
// (issue 11): the built CLI as npm links it (dist/cli/rotor.cjs, after `npm run build`) in a
// project holding the runbook's inventory, each command and the baseline run in alternation so
// both see the same machine load; median of 11 after one warm-up (the issue asks for 5; more
// steadies the ratio). Targets: --version/--help <= 1.5x, status, check, get and `run -- true`
// <= 2.5x. Wall time is what a user waits; CPU time (user + system, measured by bash in a second
// run of each) is the steadier figure on a loaded machine.
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

const MAIN = fileURLToPath(new URL('../dist/cli/rotor.cjs', import.meta.url));
const RUNS = 11;

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

const ENV = (cwd: string) => ({ PATH: process.env.PATH, HOME: cwd, ROTOR_OPERATOR: 'bench' });

/** Fails the bench when a process did not do its job (check exits 0-3 by design: states). */
function mustSucceed(args: string[], r: { status: number | null; stderr: string }): void {
  if (r.status === null || r.status > 3)
    throw new Error(`${args.slice(0, 3).join(' ')} failed (${r.status}): ${r.stderr}`);
}

/**
 * Wall milliseconds of one process, started directly; then its CPU milliseconds (user + system)
 * from a second run under bash, whose `times` reports its children to the millisecond
 * (/usr/bin/time rounds to 10 ms, as much as `node -e 0` costs in all).
 */
function spawnMs(args: string[], cwd: string, before = () => {}): { wall: number; cpu: number } {
  before();
  const start = process.hrtime.bigint();
  const direct = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: ENV(cwd) });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  mustSucceed(args, direct);
  before();
  const script = '"$@"; code=$?; times >&2; exit $code';
  const timed = spawnSync('bash', ['-c', script, 'bash', process.execPath, ...args], {
    cwd,
    encoding: 'utf8',
    env: ENV(cwd),
  });
  mustSucceed(args, timed);
  const children = /(\d+)m(\d+\.\d+)s (\d+)m(\d+\.\d+)s\s*$/.exec(timed.stderr);
  if (!children) throw new Error(`no CPU times from bash: ${timed.stderr}`);
  const [um, us, sm, ss] = children.slice(1).map(Number);
  return { wall, cpu: ((um! + sm!) * 60 + us! + ss!) * 1000 };
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
        const edit = () => appendFileSync(join(dir, 'rotor.yaml'), `# edit ${i}\n`);
        cli.push(spawnMs([MAIN, ...c.args], dir, c.edit ? edit : undefined));
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
