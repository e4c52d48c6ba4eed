// Once per vitest run, before any test file: bundles the TypeScript entries tests spawn as
// processes (test/helpers/spawned-entries.ts), and builds dist/ when it is missing or older
// than the sources, so tests that start the real `rotor` never run a stale build.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUILT, ROOT } from '../helpers/serve-process.js';
import { ENTRY_BUNDLE_DIR, SPAWNED_ENTRIES, WORKER_ENTRIES } from '../helpers/spawned-entries.js';

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newestMtime(join(path, name))), 0);
}

function ensureFreshBuild(): void {
  const inputs = ['src', 'scripts', 'package-lock.json', 'tsconfig.json'].map((p) => join(ROOT, p));
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= Math.max(...inputs.map(newestMtime))) return;
  process.stderr.write('global setup: dist/ is missing or older than src/: npm run build\n');
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
}

export default async function setup(): Promise<void> {
  ensureFreshBuild();
  await build({
    entryPoints: Object.fromEntries(
      Object.entries({ ...SPAWNED_ENTRIES, ...WORKER_ENTRIES }).map(([name, source]) => [
        name,
        join(ROOT, source),
      ]),
    ),
    outdir: ENTRY_BUNDLE_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Packages load from node_modules as they do for the sources; only the TypeScript is bundled.
    packages: 'external',
    logLevel: 'warning',
  });
  // Inherited by the test workers vitest starts next (see WORKER_ENTRIES).
  process.env.ROTOR_DEV_WORKER_BUNDLES = ENTRY_BUNDLE_DIR;
}
