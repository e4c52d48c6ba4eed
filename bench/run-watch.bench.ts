// How fast an emergency rotation reaches a command under `rotor run --watch` (issue 11 §4: within
// 2 s): from the moment `rotor rotate --emergency` returns to the moment the restarted child
// starts with the new value. Built CLI (after `npm run build`), a real child; median of 5.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BenchModule, BenchResult } from './harness.js';

const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = 5;
const CHILD = `require('node:fs').appendFileSync('starts.log', Date.now() + '\\n'); setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;

function rotor(dir: string, args: string[]): void {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench' },
  });
  if (r.status !== 0) throw new Error(`rotor ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

const starts = (dir: string) =>
  existsSync(join(dir, 'starts.log'))
    ? readFileSync(join(dir, 'starts.log'), 'utf8').split('\n').filter(Boolean).map(Number)
    : [];

async function waitForStarts(dir: string, n: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (starts(dir).length < n) {
    if (Date.now() > deadline) throw new Error('the child did not start');
    await sleep(5);
  }
  return starts(dir)[n - 1]!;
}

async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-bench-watch-'));
  writeFileSync(join(dir, 'child.cjs'), CHILD);
  for (const args of [['init'], ['apply'], ['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging']])
    rotor(dir, args);
  const watcher = spawn(
    process.execPath,
    [
      MAIN,
      'run',
      '--env',
      'staging',
      '--secret',
      'METRICS_AUTH_TOKEN',
      '--watch',
      '--',
      process.execPath,
      'child.cjs',
    ],
    {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'bench' },
      stdio: 'ignore',
    },
  );
  try {
    await waitForStarts(dir, 1);
    const samples: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      rotor(dir, [
        'rotate',
        'METRICS_AUTH_TOKEN',
        '--env',
        'staging',
        '--emergency',
        '--reason',
        'bench',
      ]);
      const rotated = Date.now();
      samples.push((await waitForStarts(dir, i + 2)) - rotated);
    }
    samples.sort((a, b) => a - b);
    const value = samples[Math.floor(samples.length / 2)]!;
    return [
      {
        name: 'run --watch: emergency reaches the child',
        value,
        unit: 'ms',
        target: '<= 2000 ms (restart included)',
        pass: value <= 2000,
        notes: `samples ${samples.join(', ')} ms; poll 250 ms`,
      },
    ];
  } finally {
    watcher.kill('SIGTERM');
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }
}

export default { name: 'run-watch', run } satisfies BenchModule;
