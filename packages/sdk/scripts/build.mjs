// Builds @rotor/sdk's dist/ from the repository's src/sdk (and the few core modules it imports):
// an ES module build (dist/esm) and a CommonJS build (dist/cjs, for require() on Node versions
// without require(esm)), each with its type declarations and no source maps (the package ships
// no sources for them to point at). Compiled into a fresh folder, then swapped in.
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const next = join(root, `dist.next-${process.pid}`);
const old = join(root, `dist.old-${process.pid}`);
const dist = join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(next, { recursive: true, force: true });
for (const [config, out] of [
  ['tsconfig.json', 'esm'],
  ['tsconfig.cjs.json', 'cjs'],
]) {
  execFileSync(process.execPath, [tsc, '-p', join(root, config), '--outDir', join(next, out)], {
    stdio: 'inherit',
  });
}
// The package is "type": "module"; this marks the CommonJS build (its .js and .d.ts) as such.
writeFileSync(join(next, 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
