// `npm run bench`: runs every benchmark module, prints a table and writes
// bench/results/latest.json. Modules are listed here; pass names to run a subset.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { BenchModule, BenchResult } from './harness.js';

const MODULES: Array<() => Promise<{ default: BenchModule }>> = [
  () => import('./cli-startup.bench.js'),
  () => import('./run-watch.bench.js'),
  () => import('./rotation.bench.js'),
  () => import('./audit-verify.bench.js'),
  () => import('./audit-checkpoint-verify.bench.js'),
  () => import('./status.bench.js'),
  () => import('./refresh.bench.js'),
  () => import('./jwt-verify.bench.js'),
  () => import('./db-rotation.bench.js'),
  () => import('./db-rotation-wall.bench.js'),
  () => import('./sse-fanout.bench.js'),
  () => import('./server-read.bench.js'),
  () => import('./audit-export-load.bench.js'),
  () => import('./serve-stock.bench.js'),
  () => import('./store-backends-read.bench.js'),
  () => import('./store-backends-rotation.bench.js'),
  () => import('./failover.bench.js'),
];

const only = process.argv.slice(2);
const all: BenchResult[] = [];
for (const load of MODULES) {
  const mod = (await load()).default;
  if (only.length > 0 && !only.includes(mod.name)) continue;
  process.stderr.write(`bench ${mod.name} …\n`);
  const results = await mod.run();
  for (const r of results) {
    all.push(r);
    const ratio =
      r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(2)}× vs ${r.baseline?.name}`;
    const verdict = r.pass === undefined ? '' : r.pass ? '  PASS' : '  MISS';
    process.stdout.write(
      `${r.name.padEnd(48)} ${r.value.toFixed(1).padStart(10)} ${r.unit}${ratio}${r.target ? `  (target: ${r.target})` : ''}${verdict}\n`,
    );
  }
}
mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/latest.json',
  `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results: all }, null, 2)}\n`,
);
