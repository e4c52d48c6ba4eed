// `rotor` as npm links it: dist/cli/rotor.cjs (src/cli/bin.ts), CommonJS so that it starts without
// the ES module loader, running the reading commands from their CommonJS bundle with the build's
// V8 code cache (src/cli/reading-commands-loader.ts) and every other command through the whole
// CLI, dist/cli/main.js. It must be the same CLI as main.js: output, errors and exit codes.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, freshDir, MAIN } from './helpers/in-process-cli.js';

const DIST = join(process.cwd(), 'dist', 'cli');
const BIN = join(DIST, 'rotor.cjs');
// One process costs ~0.1 s quiet; the file runs ~30 of them, at most a few at a time.
const TIMEOUT = 120_000;
const execFileP = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function rotor(entry: string, dir: string, argv: string[], env = {}): Promise<Outcome> {
  try {
    const r = await execFileP(process.execPath, [entry, ...argv], {
      cwd: dir,
      env: cliEnv(dir, env),
      timeout: TIMEOUT,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout: string; stderr: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * The two runs start together but may end seconds apart on a busy machine: `status` prints the
 * time it computed at and each secret's age (and pads its columns to the widest).
 */
function withoutClock(outcome: Outcome): Outcome {
  const strip = (text: string) =>
    text
      .replace(/\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d\.\d+Z)?/g, '<date>')
      .replace(/"ageMs":\d+/g, '"ageMs":<age>')
      .replace(/\b\d+[smhd]\b/g, '<age>')
      .replace(/ +/g, ' ');
  return { code: outcome.code, stdout: strip(outcome.stdout), stderr: strip(outcome.stderr) };
}

let dir: string;
beforeAll(async () => {
  expect(existsSync(BIN), 'run `npm run build` first').toBe(true);
  dir = freshDir('rotor-bin-');
  for (const argv of [['init'], ['apply'], ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging']])
    expect((await rotor(BIN, dir, argv)).code).toBe(0);
}, TIMEOUT);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rotor as npm links it (dist/cli/rotor.cjs)', () => {
  it('is what package.json names as the executable, a CommonJS file with a #! line', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { bin: { rotor: string } };
    expect(pkg.bin.rotor).toBe('dist/cli/rotor.cjs');
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it(
    'answers exactly as the whole CLI does, for reading commands, other commands and errors',
    async () => {
      const cases: string[][] = [
        ['--version'],
        ['--help'],
        ['status'],
        ['status', '--json', '--env', 'staging'],
        ['check'],
        ['get', 'JWT_ACCESS_SECRET', '--env', 'staging'],
        [
          'run',
          '--env',
          'staging',
          '--',
          process.execPath,
          '-e',
          'console.log(process.env.JWT_ACCESS_SECRET.length)',
        ],
        ['get', 'JWT_ACCES_SECRET', '--env', 'staging'],
        ['get', 'JWT_ACCESS_SECRET', '--env', 'nowhere'],
        ['status', '--no-such-flag'],
        ['audit', 'list', '--secret', 'NOPE'],
        ['history', 'JWT_ACCESS_SECRET'],
        ['nonsense'],
      ];
      for (const argv of cases) {
        const [fromBin, fromMain] = await Promise.all([
          rotor(BIN, dir, argv),
          rotor(MAIN, dir, argv),
        ]);
        expect(withoutClock(fromBin), argv.join(' ')).toEqual(withoutClock(fromMain));
      }
      const get = await rotor(BIN, dir, ['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
      expect(get.stdout.trim().length).toBeGreaterThanOrEqual(20);
      const typo = await rotor(BIN, dir, ['get', 'JWT_ACCES_SECRET', '--env', 'staging']);
      expect(typo.code).not.toBe(0);
      expect(typo.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
    },
    TIMEOUT,
  );

  it(
    'reports a RotorError raised in a deferred part (the PostgreSQL store) by its code, not as a bug',
    async () => {
      // The store URL names a port nothing listens on: the PostgreSQL store loads from the ES
      // module bundle and throws its own copy of RotorError.
      const env = { ROTOR_STORE_URL: 'postgres://rotor@127.0.0.1:9/rotor' };
      for (const argv of [['status'], ['get', 'JWT_ACCESS_SECRET', '--env', 'staging']]) {
        const r = await rotor(BIN, dir, argv, env);
        expect(r.stderr, argv[0]).toContain('ERR_ROTOR_STORE_UNAVAILABLE');
        expect(r.code, argv[0]).toBe(1);
      }
    },
    TIMEOUT,
  );

  it('loads the reading bundle with the code cache the build made, which this Node accepts', () => {
    // A process of its own without flags: V8 takes a cache only under the flags it was made with.
    const loader = join(DIST, 'reading-commands-loader.js');
    const script = `const { loadReadingCommands } = await import(${JSON.stringify(loader)});
      const loaded = loadReadingCommands(${JSON.stringify(DIST)});
      console.log(JSON.stringify({ rejected: loaded.cacheRejected, cacheFile: loaded.cacheFile, run: typeof loaded.commands.run }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: TIMEOUT,
    });
    expect(r.stderr).toBe('');
    // The cache is named by the build the bundle's first line names: V8 itself checks only the
    // source's length, so a bundle never meets another build's cache.
    const build = /^\/\/ rotor build ([0-9a-f]{32})\n/.exec(
      readFileSync(join(DIST, 'reading-commands.cjs'), 'utf8'),
    )?.[1];
    expect(build).toBeDefined();
    expect(JSON.parse(r.stdout)).toEqual({
      rejected: false,
      cacheFile: join(DIST, `reading-commands.${build}.cache`),
      run: 'function',
    });
  });

  it('ships a code cache that holds code, not the strings its build run saw', () => {
    // The build makes the cache by running status, get and run in a scratch project (a real
    // rotated secret) under a rotor-build-cache-* directory. V8 serializes the code and the
    // source's literals, not runtime strings: the scratch path, which every read saw, is absent.
    const [cache] = readdirSync(DIST).filter((f) => /^reading-commands\.[0-9a-f]+\.cache$/.test(f));
    const bytes = readFileSync(join(DIST, cache!)).toString('latin1');
    expect(bytes).toContain('runCommandTree');
    expect(bytes).not.toContain('rotor-build-cache-');
  });

  it('every import the reading bundle defers names a file of dist/cli or a dependency', () => {
    const text = readFileSync(join(DIST, 'reading-commands.cjs'), 'utf8');
    expect(text).not.toMatch(/\bimport\s*\(/);
    const targets = [...text.matchAll(/__rotorImport\("([^"]+)"\)/g)].map((m) => m[1]!);
    expect(targets).toEqual(
      expect.arrayContaining(['./deferred-core-store-open-store.js', 'jose']),
    );
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    const declared = new Set(
      ['dependencies', 'optionalDependencies', 'peerDependencies'].flatMap((k) =>
        Object.keys(pkg[k] ?? {}),
      ),
    );
    for (const target of new Set(targets)) {
      if (target.startsWith('./')) expect(existsSync(join(DIST, target)), target).toBe(true);
      else
        expect(declared.has(target.replace(/^(@[^/]+\/[^/]+|[^/]+).*$/, '$1')), target).toBe(true);
    }
  });
});
