// Builds dist/ without a window in which a running `rotor` finds no dist/: compile into a fresh
// sibling folder, then swap it in with renames (the old tree is removed after the swap).
//
// tsc emits every module (the SDK subpaths and the declarations import these). The whole CLI,
// dist/cli/main.js, is then replaced by an esbuild bundle with code splitting: resolving and
// compiling hundreds of small ES modules (kysely alone has ~400) cost ~0.9 s per command, and each
// command's heavy dependencies load only when it runs (see src/cli/commands/index.ts). `rotor`
// itself (dist/cli/rotor.cjs) and the reading commands (status, check, get, run; one bundle with
// a code cache, dist/cli/reading-commands.cjs) are CommonJS: see scripts/build-commonjs.mjs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import {
  bundleBin,
  bundleReadingCommands,
  deferredEntryName,
  writeReadingCodeCache,
} from './build-commonjs.mjs';
import { EXTERNAL, REQUIRE_BANNER } from './bundle-externals.mjs';

/**
 * Modules that a worker thread loads by their own URL (the audit verifier and the store reader it
 * opens): inside the bundle they point at tsc's copy of themselves, which sits beside the bundle.
 */
const LOADED_BY_URL = ['src/core/audit/audit-verify.ts', 'src/core/store/sqlite-audit-reader.ts'];

/**
 * Packages the CLI loads on first use rather than at start-up (see src/cli/lazy/): inside the
 * bundle, the sources' imports of each resolve to a shim that requires a CommonJS bundle of the
 * package from dist/cli/vendor/ when it is first used. zod's shim also defers the schemas that
 * modules build when they load, so a command whose policy comes from the cache loads no zod.
 */
const LAZY = {
  zod: "export { z } from 'zod';",
  yaml: "export { LineCounter, isNode, parseDocument } from 'yaml';",
  pino: "export { pino } from 'pino';",
};

function lazyPackagesPlugin() {
  const filter = new RegExp(`^(${Object.keys(LAZY).join('|')})$`);
  return {
    name: 'rotor-lazy-packages',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        if (args.importer.includes('/node_modules/')) return undefined;
        return { path: resolve(`src/cli/lazy/${args.path}.ts`) };
      });
    },
  };
}

async function bundleVendor(outdir) {
  for (const [name, contents] of Object.entries(LAZY)) {
    await build({
      stdin: { contents, resolveDir: resolve('.'), loader: 'js' },
      outfile: join(outdir, 'vendor', `${name}.cjs`),
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
    });
  }
}

/** A hash of everything the bundle is made from: the policy cache's entries name the build. */
function buildId() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(path).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk('src');
  hash.update(readFileSync('package-lock.json'));
  return hash.digest('hex').slice(0, 32);
}

/**
 * `rotor --help` as commander prints it when stdout is not a terminal, rendered once from tsc's
 * output in a child process (a pipe, so 80 columns as at run time); see src/cli/prebuilt-help.ts.
 */
function renderHelp(outdir) {
  const program = pathToFileURL(resolve(outdir, 'program.js')).href;
  const script = `
    const { runCli } = await import(${JSON.stringify(program)});
    let text = '';
    const sink = { isTTY: false, write: (s) => ((text += s), true) };
    const io = { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: process.cwd() };
    if ((await runCli(['--help'], { io })) !== 0) throw new Error('rotor --help failed');
    process.stdout.write(JSON.stringify(text));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out);
}

/** What both bundles are built with. */
function bundleOptions(outdir, define) {
  return {
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunk-[hash]',
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for Node's built-ins.
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
    define,
  };
}

/** main.ts falls back to tsc's reading-commands.js only from sources: it is not part of the bundle. */
function readingBundleExternalPlugin() {
  return {
    name: 'rotor-reading-bundle-external',
    setup(b) {
      b.onResolve({ filter: /^\.\/reading-commands\.js$/ }, (args) =>
        args.importer === resolve('src/cli/main.ts')
          ? { path: args.path, external: true }
          : undefined,
      );
    },
  };
}

/**
 * The names of the migrations this build runs, sorted, as a new SQLite store records them (tsc's
 * output creates one in a scratch directory): the reading commands open a store at exactly these
 * without loading the migrator (src/core/store/sqlite-reads.ts).
 */
function migrationNames(outdir) {
  const openStore = pathToFileURL(resolve(outdir, '..', 'core', 'store', 'open-store.js')).href;
  const script = `
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { openStore } = await import(${JSON.stringify(openStore)});
    const dir = mkdtempSync(join(tmpdir(), 'rotor-build-'));
    try {
      const store = await openStore({ stateDir: dir, create: true, env: {} });
      const rows = await store.db.selectFrom('rotor_migrations').select('name').orderBy('name').execute();
      await store.close();
      process.stdout.write(JSON.stringify(rows.map((r) => r.name)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const names = JSON.parse(out);
  if (!Array.isArray(names) || names.length === 0) throw new Error('no migrations found');
  return names;
}

async function bundleCli(outdir) {
  const help = renderHelp(outdir);
  await bundleVendor(outdir);
  const define = {
    __ROTOR_BUILD_ID__: JSON.stringify(buildId()),
    __ROTOR_HELP__: JSON.stringify(help),
    __ROTOR_MIGRATIONS__: JSON.stringify(migrationNames(outdir)),
  };
  const deferred = await bundleReadingCommands(outdir, define, [
    selfUrlPlugin(outdir),
    lazyPackagesPlugin(),
    bundledSqliteForReadsPlugin(),
  ]);
  await build({
    ...bundleOptions(outdir, define),
    entryPoints: {
      main: 'src/cli/main.ts',
      ...Object.fromEntries(deferred.map((file) => [deferredEntryName(file), file])),
    },
    plugins: [selfUrlPlugin(outdir), lazyPackagesPlugin(), readingBundleExternalPlugin()],
  });
  await bundleBin(outdir, define);
  dropUnusedRequireBanners(outdir);
  writeReadingCodeCache(outdir);
}

/**
 * The reading commands' SQLite path (src/core/store/sqlite-reads.ts) gets better-sqlite3's
 * JavaScript bundled: loading its dozen CommonJS files cost ~15 ms of start-up. It always passes
 * the addon's path (`nativeBinding`), so the bundled copy never searches for the addon from the
 * wrong directory; every other importer keeps the installed package.
 */
function bundledSqliteForReadsPlugin() {
  const reads = resolve('src/core/store/sqlite-reads.ts');
  const lib = createRequire(import.meta.url).resolve('better-sqlite3');
  return {
    name: 'rotor-bundled-sqlite-for-reads',
    setup(b) {
      b.onResolve({ filter: /^better-sqlite3$/ }, (args) =>
        args.importer === reads ? { path: lib } : undefined,
      );
    },
  };
}

/**
 * The banner's createRequire costs ~0.15 ms per module at start-up, and `rotor status` loads
 * about 40 chunks; most never call require. Keep it only where the rest of the chunk names
 * `require` at all (a mention in a comment or string keeps it too, which is harmless).
 */
function dropUnusedRequireBanners(outdir) {
  for (const name of readdirSync(outdir)) {
    if (!name.endsWith('.js')) continue;
    const file = join(outdir, name);
    const text = readFileSync(file, 'utf8');
    if (!text.startsWith(REQUIRE_BANNER)) continue;
    const rest = text.slice(REQUIRE_BANNER.length);
    if (!/\brequire\b/.test(rest)) writeFileSync(file, rest.replace(/^\n/, ''));
  }
}

/**
 * A `rotor` process started before this build (a server, `rotor run --watch`, a test's child)
 * still imports chunks by the names its own build gave them; the previous build's chunks stay
 * beside the new ones (names are content hashes, so they never clash), and older ones go.
 */
function keepPreviousChunks(from, to) {
  if (!existsSync(from)) return;
  const isChunk = (name) => /^chunk-[A-Z0-9]+\.js$/.test(name);
  const current = new Set(
    readdirSync(from)
      .filter(isChunk)
      .filter((n) => !readFileSync(join(from, n), 'utf8').startsWith(PREVIOUS_MARK)),
  );
  for (const name of current) {
    if (existsSync(join(to, name))) continue;
    writeFileSync(join(to, name), PREVIOUS_MARK + readFileSync(join(from, name), 'utf8'));
  }
}

/** First line of a chunk kept from the previous build (dropped at the build after). */
const PREVIOUS_MARK =
  '// rotor: chunk of the previous build, kept for processes still running it\n';

function selfUrlPlugin(outdir) {
  const files = new Map(LOADED_BY_URL.map((file) => [resolve(file), file]));
  return {
    name: 'rotor-self-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const file = files.get(args.path);
        if (!file) return undefined;
        const compiled = resolve(outdir, '..', file.replace(/^src\//, '').replace(/\.ts$/, '.js'));
        const fromBundle = relative(resolve(outdir), compiled);
        const url = `new URL(${JSON.stringify(`./${fromBundle}`)}, import.meta.url).href`;
        const source = readFileSync(args.path, 'utf8').replaceAll('import.meta.url', url);
        return { contents: source, loader: 'ts' };
      });
    },
  };
}

const next = `dist.next-${process.pid}`;
const old = `dist.old-${process.pid}`;
try {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', next], {
    stdio: 'inherit',
  });
  await bundleCli(`${next}/cli`);
  keepPreviousChunks('dist/cli', `${next}/cli`);
  if (existsSync('dist')) renameSync('dist', old);
  renameSync(next, 'dist');
  rmSync(old, { recursive: true, force: true });
} finally {
  rmSync(next, { recursive: true, force: true });
}
