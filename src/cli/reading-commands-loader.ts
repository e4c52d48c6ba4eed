// Loads the reading commands' CommonJS bundle, dist/cli/reading-commands.cjs (scripts/build.mjs),
// compiled with the V8 code cache the build made for it beside it: an ES module entry costs ~10 ms
// of loader start-up and Node 20 keeps no code cache for ES modules, so `rotor status` spent a
// third of its start-up there. V8 checks the cache against this Node and its flags and, when it
// does not fit (another Node version), compiles the source as usual.
//
// The bundle's dynamic imports come out of the build as calls to `__rotorImport` (a script compiled
// this way has no import() of its own): the deferred parts it names (./deferred-*.js, the PostgreSQL
// store, database kinds) are ES module entries of the whole CLI's bundle beside it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import type * as ReadingCommandsModule from './reading-commands.js';

export type ReadingCommands = typeof ReadingCommandsModule;

export const READING_BUNDLE = 'reading-commands.cjs';

/** The parameters the bundle's code sees, as Node gives a CommonJS module (and __rotorImport). */
const WRAPPER_PARAMS = 'exports, require, module, __filename, __dirname, __rotorImport';

export interface LoadedReadingCommands {
  commands: ReadingCommands;
  /** The compiled script (the build asks it for a code cache after running the commands). */
  script: Script;
  /** Where this bundle's code cache is (or would be): named by the build the bundle is from. */
  cacheFile: string | undefined;
  /** Whether V8 refused the code cache; undefined when there was none. */
  cacheRejected: boolean | undefined;
}

/**
 * The bundle's first line names its build (scripts/build-commonjs.mjs), and the cache file is
 * named by it: V8 checks a cache against the source's length only, so a bundle and a cache from
 * two builds (a rebuild swapping dist/ while `rotor` starts) must never meet.
 */
function codeCacheFile(dir: string, bundle: string): string | undefined {
  const build = /^\/\/ rotor build ([0-9a-f]+)\n/.exec(bundle)?.[1];
  return build === undefined ? undefined : join(dir, `reading-commands.${build}.cache`);
}

/**
 * The name stack traces give the bundle when its code comes from the cache: V8 keeps the name the
 * script had when the cache was made (the build's), not the one it is given here.
 */
export const CACHED_SCRIPT_NAME = 'rotor/dist/cli/reading-commands.cjs';

/**
 * Loads the bundle in `dir`, or returns undefined when there is none (running from sources).
 * `scriptName` names the script (the build names it CACHED_SCRIPT_NAME); its path by default.
 */
export function loadReadingCommands(
  dir: string,
  scriptName?: string,
): LoadedReadingCommands | undefined {
  const file = join(dir, READING_BUNDLE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const cacheFile = codeCacheFile(dir, text);
  let cachedData: Buffer | undefined;
  try {
    cachedData = cacheFile === undefined ? undefined : readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const source = `(function (${WRAPPER_PARAMS}) {${text}\n})`;
  const script = new Script(source, {
    filename: scriptName ?? file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as ReadingCommands };
  const importHere = (specifier: string): Promise<unknown> =>
    import(specifier.startsWith('.') ? pathToFileURL(join(dir, specifier)).href : specifier);
  const init = script.runInThisContext() as (...args: unknown[]) => void;
  init(module.exports, createRequire(file), module, file, dir, importHere);
  return {
    commands: module.exports,
    script,
    cacheFile,
    cacheRejected: cachedData ? script.cachedDataRejected === true : undefined,
  };
}
