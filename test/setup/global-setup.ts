// Once per vitest run, before any test file: bundles the TypeScript entries tests spawn as
// processes (test/helpers/spawned-entries.ts), and builds dist/ when it is missing or older
// than the sources, so tests that start the real `rotor` never run a stale build.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { EXTERNAL, REQUIRE_BANNER } from '../../scripts/bundle-externals.mjs';
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

/**
 * One temporary directory for the whole run, removed when it ends: tests and the processes they
 * start make their directories inside it (os.tmpdir() follows TMPDIR), so a run leaves nothing
 * in /tmp (it left ~2,400 directories, ~95 MB, before). World-writable with the sticky bit, as
 * /tmp is: the private PostgreSQL and MariaDB servers run as their own users.
 */
function useRunTmpdir(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-test-run-'));
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}

export default async function setup(): Promise<() => void> {
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
    // Packages are bundled too, but for those the CLI's bundle also leaves to node_modules:
    // loading kysely's ~400 modules from node_modules cost each crash process ~0.25 s of CPU.
    external: EXTERNAL,
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
  // Inherited by the test workers vitest starts next (see WORKER_ENTRIES).
  process.env.ROTOR_DEV_WORKER_BUNDLES = ENTRY_BUNDLE_DIR;
  return useRunTmpdir();
}
