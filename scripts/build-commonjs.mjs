// The CLI's CommonJS files (scripts/build.mjs calls these after the ES module bundle): `rotor`
// itself, dist/cli/rotor.cjs, and the reading commands' bundle, dist/cli/reading-commands.cjs,
// with a V8 code cache made by running them (src/cli/reading-commands-loader.ts loads both).
// An ES module entry costs ~10 ms of loader start-up and Node 20 keeps no code cache for ES
// modules: together a third of `rotor status`'s start-up (docs/benchmarks.md, CLI start-up).
import * as childProcess from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { EXTERNAL } from './bundle-externals.mjs';

/** Defines what an ES module source reads from import.meta in a CommonJS bundle. */
const IMPORT_META_BANNER = "var __rotorUrl = require('node:url').pathToFileURL(__filename).href;";

/** What a dynamic import becomes in the reading bundle (see rewriteDynamicImports). */
const IMPORT_MARK = 'rotor-import:';

function commonjsOptions(outdir, define) {
  return {
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    banner: { js: IMPORT_META_BANNER },
    logLevel: 'warning',
    define: { ...define, 'import.meta.url': '__rotorUrl' },
  };
}

/** dist/cli/rotor.cjs from src/cli/bin.ts: its imports are small and all static. */
export async function bundleBin(outdir, define) {
  await build({
    ...commonjsOptions(outdir, define),
    // esbuild keeps the source's #! line above the banner.
    entryPoints: { rotor: 'src/cli/bin.ts' },
  });
}

/**
 * The ES module entry of the whole CLI's bundle that stands for a deferred source module; beside
 * the other entries, so the URLs that selfUrlPlugin writes hold for its code too.
 */
export function deferredEntryName(file) {
  return `deferred-${relative('src', file).replace(/\.ts$/, '').replaceAll('/', '-')}`;
}

/**
 * Every dynamic import of the reading bundle stays a dynamic import, marked: a Rotor source module
 * becomes an entry of the whole CLI's ES module bundle (`deferred`, filled with their source files
 * here; build.mjs adds them as entry points), a package stays a package.
 */
function deferredImportsPlugin(deferred) {
  return {
    name: 'rotor-deferred-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        if (!args.path.startsWith('.')) return { path: IMPORT_MARK + args.path, external: true };
        if (args.importer.includes('/node_modules/'))
          throw new Error(
            `${args.importer}: a relative dynamic import the reading bundle cannot keep`,
          );
        const file = relative('.', resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')));
        deferred.add(file);
        return { path: `${IMPORT_MARK}./${deferredEntryName(file)}.js`, external: true };
      });
    },
  };
}

/**
 * `node:child_process` (with net's and dgram's modules, ~1 ms) loaded when first used: commander
 * requires it at the top for subcommands that are executables, which Rotor has none of, and of
 * the reading commands only `run` starts a process.
 */
function lazyChildProcessPlugin() {
  return {
    name: 'rotor-lazy-child-process',
    setup(b) {
      b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
        args.namespace === 'rotor-lazy-child-process'
          ? { path: 'node:child_process', external: true }
          : { path: 'child_process', namespace: 'rotor-lazy-child-process' },
      );
      b.onLoad({ filter: /.*/, namespace: 'rotor-lazy-child-process' }, () => ({
        // A getter per export: esbuild's interop copies a CommonJS module's own properties.
        contents: `let loaded;
for (const name of ${JSON.stringify(Object.keys(childProcess))})
  Object.defineProperty(exports, name, { enumerable: true, get: () => (loaded ??= require('node:child_process'))[name] });`,
        loader: 'js',
      }));
    },
  };
}

/**
 * A script compiled with a code cache (vm.Script) has no import() of its own: each marked import
 * calls the loader's `__rotorImport` instead. Any other import( left is a build error.
 */
function rewriteDynamicImports(file) {
  const text = readFileSync(file, 'utf8').replaceAll(`import("${IMPORT_MARK}`, '__rotorImport("');
  const left = /\bimport\s*\(/.exec(text);
  if (left) {
    const line = text.slice(0, left.index).split('\n').length;
    throw new Error(`${file}:${line}: a dynamic import the build did not mark`);
  }
  writeFileSync(file, text);
}

/**
 * dist/cli/reading-commands.cjs from src/cli/reading-commands.ts, one file with everything the
 * reading commands need at start-up. Returns the source modules it imports later (deferred).
 */
export async function bundleReadingCommands(outdir, define, plugins) {
  const deferred = new Set();
  const options = commonjsOptions(outdir, define);
  await build({
    ...options,
    // The loader finds the code cache by this line (src/cli/reading-commands-loader.ts).
    banner: {
      js: `// rotor build ${JSON.parse(define.__ROTOR_BUILD_ID__)}\n${IMPORT_META_BANNER}`,
    },
    // Never called: the bundled better-sqlite3 is always given its addon (build.mjs).
    external: [...options.external, 'bindings'],
    entryPoints: { 'reading-commands': 'src/cli/reading-commands.ts' },
    plugins: [deferredImportsPlugin(deferred), lazyChildProcessPlugin(), ...plugins],
  });
  rewriteDynamicImports(join(outdir, 'reading-commands.cjs'));
  return [...deferred].sort();
}

/** The runbook's inventory with one rotated secret, as the bench measures the commands on. */
function scratchProject(outdir, env) {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-build-cache-'));
  const main = join(outdir, 'main.js');
  for (const args of [['init'], ['apply'], ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging']])
    childProcess.execFileSync(process.execPath, [main, ...args], {
      cwd: dir,
      env: { ...env, HOME: dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  return dir;
}

/**
 * Runs status, check, get and `run -- true` in one process with the bundle loaded as `rotor`
 * loads it, then writes V8's code cache of the script (which then holds every function those
 * commands compiled) beside it. The process gets no Node flags: V8 takes a cache only under the
 * flags it was made with.
 */
export function writeReadingCodeCache(bundleDir) {
  const outdir = resolve(bundleDir);
  const env = { PATH: process.env.PATH, ROTOR_OPERATOR: 'build', NO_COLOR: '1' };
  const dir = scratchProject(outdir, env);
  const loader = pathToFileURL(join(outdir, 'reading-commands-loader.js')).href;
  const script = `
    const { writeFileSync } = await import('node:fs');
    const { loadReadingCommands, CACHED_SCRIPT_NAME } = await import(${JSON.stringify(loader)});
    const dir = ${JSON.stringify(outdir)};
    const { commands, script, cacheFile } = loadReadingCommands(dir, CACHED_SCRIPT_NAME);
    if (!cacheFile) throw new Error('the reading bundle names no build');
    const sink = { isTTY: false, write: () => true };
    const io = { stdout: sink, stderr: sink, stdin: process.stdin, env: { ...process.env, HOME: process.cwd() }, cwd: process.cwd() };
    for (const argv of [['status'], ['check'], ['get', 'JWT_ACCESS_SECRET', '--env', 'staging'], ['run', '--env', 'staging', '--', 'true']])
      if ((await commands.run(argv, { io })) > 3) throw new Error('rotor ' + argv[0] + ' failed');
    writeFileSync(cacheFile, script.createCachedData());`;
  try {
    childProcess.execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { ...env, HOME: dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
