// The built CLI (dist/, run `npm run build` first) keeps the validated rotor.yaml in
// .rotor/policy-cache.json and loads zod lazily: what it prints must stay exactly what the CLI
// run from sources prints (which caches nothing), edits must be seen at once, and the entry
// must hold no secret value.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliEnv, freshDir, MAIN } from './helpers/in-process-cli.js';

const TIMEOUT = 120_000;
let dir: string;
let yaml: string;

function rotor(args: string[], input = '') {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    env: cliEnv(dir),
    input,
    encoding: 'utf8',
    timeout: TIMEOUT,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cacheFile = () => join(dir, '.rotor', 'policy-cache.json');

beforeAll(() => {
  dir = freshDir('rotor-cli-policy-cache-');
  for (const args of [['init'], ['apply'], ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging']])
    expect(rotor(args).code).toBe(0);
  yaml = readFileSync(join(dir, 'rotor.yaml'), 'utf8');
}, TIMEOUT);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the built CLI with a cached policy', () => {
  it(
    'keeps the validated policy with no secret value and no key in it',
    () => {
      const value = rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
      expect(value.code).toBe(0);
      expect(value.stdout.length).toBeGreaterThan(16);
      expect(existsSync(cacheFile())).toBe(true);
      expect(statSync(cacheFile()).mode & 0o777).toBe(0o600);
      const entry = readFileSync(cacheFile(), 'utf8');
      expect(entry).not.toContain(value.stdout);
      const key = readFileSync(join(dir, '.rotor', 'master.key'), 'utf8').trim();
      expect(entry).not.toContain(key);
      expect(entry).toContain('JWT_ACCESS_SECRET');
      // Read again from the cache: same value.
      expect(rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']).stdout).toBe(value.stdout);
    },
    TIMEOUT,
  );

  it(
    'sees a same-size edit with the same modification time at once',
    () => {
      const file = join(dir, 'rotor.yaml');
      const second = 1_780_000_000;
      utimesSync(file, second, second);
      expect(rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']).code).toBe(0);
      const renamed = yaml.replaceAll('JWT_ACCESS_SECRET', 'JWT_ACCESS_SECRAT');
      writeFileSync(file, renamed);
      utimesSync(file, second, second);
      const r = rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('ERR_ROTOR_SECRET_UNKNOWN');
      expect(r.stderr).toContain('JWT_ACCESS_SECRAT');
      writeFileSync(file, yaml);
    },
    TIMEOUT,
  );

  it(
    'reports an invalid rotor.yaml exactly as the uncached CLI does, every time',
    async () => {
      const file = join(dir, 'rotor.yaml');
      expect(rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']).code).toBe(0);
      for (const broken of [
        yaml.replace('cadence:', 'cadance:'),
        yaml.replace('environments:', 'environments: [staging]\nenvironments:'),
        yaml.replace(/kind: random/, 'kind: randm'),
      ]) {
        writeFileSync(file, broken);
        const expected = await cli(dir, ['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
        expect(expected.stderr).toMatch(/rotor\.yaml:\d+:\d+: /);
        for (let i = 0; i < 2; i++) {
          const r = rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
          expect({ code: r.code, stderr: r.stderr }).toEqual({
            code: expected.code,
            stderr: expected.stderr,
          });
        }
      }
      writeFileSync(file, yaml);
    },
    TIMEOUT,
  );

  it(
    'ignores a damaged entry',
    () => {
      const good = rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging']);
      const entry = readFileSync(cacheFile(), 'utf8');
      writeFileSync(cacheFile(), entry.replace('"staging"', '"stagin"'));
      expect(rotor(['get', 'JWT_ACCESS_SECRET', '--env', 'staging'])).toEqual(good);
      expect(readFileSync(cacheFile(), 'utf8')).toBe(entry);
    },
    TIMEOUT,
  );

  it(
    'prints the same JSON Schema as the CLI run from sources (zod loaded on use)',
    async () => {
      const built = rotor(['schema']);
      const fromSources = await cli(dir, ['schema']);
      expect(built.code).toBe(0);
      expect(built.stdout).toBe(fromSources.stdout);
    },
    TIMEOUT,
  );
});
