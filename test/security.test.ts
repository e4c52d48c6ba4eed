// Proves the security rules end to end with the built CLI as a real process: no secret value
// in argv-derived output, stdout/stderr of non-reading commands, debug logs, audit exports, or
// the database file; a corrupted store and values on argv get one clear error.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kidVariableNames } from '../src/core/delivery/kid-variable.js';

const CLI = join(process.cwd(), 'dist/cli/main.js');
/**
 * The set-up below runs the CLI ~30 times as real processes: ~0.3 s each on a quiet 2-core
 * machine, 1.5-2 s each at load average 11 (measured). Sized for the loaded case with margin.
 */
const SETUP_TIMEOUT_MS = 300_000;

interface Run {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

function makeRunner(dir: string) {
  const runs: Run[] = [];
  const rotor = (args: string[], stdin = ''): Run => {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      cwd: dir,
      input: stdin,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        ROTOR_OPERATOR: 'sec-test',
        ROTOR_LOG_LEVEL: 'trace',
        NO_COLOR: '1',
      },
      timeout: 30_000,
    });
    const run = { args, code: r.status, stdout: r.stdout, stderr: r.stderr };
    runs.push(run);
    return run;
  };
  return { runs, rotor };
}

describe('no secret value leaks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-sec-'));
  const { runs, rotor } = makeRunner(dir);
  const imported = {
    SMTP_PASSWORD: 'smtp-Imported-Value-7f3a9c1e',
    DATABASE_URL: 'postgres://app:db-Imported-Pass-5b2d@db:5432/app',
    S3_SECRET_ACCESS_KEY: 's3-Imported-Secret-Key-c0ffee42',
  };
  const values = new Set<string>(Object.values(imported));

  beforeAll(() => {
    expect(existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
    expect(rotor(['init']).code).toBe(0);
    expect(rotor(['apply']).code).toBe(0);
    for (const [name, value] of Object.entries(imported)) {
      const r = rotor(
        ['import', name, '--env', 'production', '--rotated-at', '2026-01-01'],
        `${value}\n`,
      );
      expect(r.code, r.stderr).toBe(0);
    }
    for (const name of ['JWT_ACCESS_SECRET', 'JWT_REFRESH_SECRET', 'METRICS_AUTH_TOKEN']) {
      expect(rotor(['rotate', name]).code).toBe(0);
      expect(rotor(['rotate', name, '--env', 'production']).code).toBe(0);
    }
    expect(
      rotor([
        'rotate',
        'JWT_REFRESH_SECRET',
        '--env',
        'production',
        '--emergency',
        '--reason',
        'drill',
      ]).code,
    ).toBe(0);
    expect(
      rotor(['rotate', 'SMTP_PASSWORD', '--env', 'production'], 'smtp-Rotated-Value-99aa88bb\n')
        .code,
    ).toBe(0);
    values.add('smtp-Rotated-Value-99aa88bb');
    rotor(['status']);
    rotor(['status', '--json']);
    rotor(['check', '--json']);
    rotor(['retire']);
    rotor(['audit', 'list']);
    rotor(['audit', 'export', '--format', 'csv']);
    rotor(['audit', 'export', '--format', 'json']);
    rotor(['audit', 'export', '--format', 'md']);
    rotor(['audit', 'verify']);
    rotor(['master-key', 'rotate']);
    // Collect every live value through the reading commands.
    for (const env of ['staging', 'production']) {
      const exported = rotor(['export', '--env', env, '--format', 'json']);
      expect(exported.code, exported.stderr).toBe(0);
      const variables = JSON.parse(exported.stdout) as Record<string, string>;
      // JWT keys come with non-secret companions (NAME_KID, NAME_PREVIOUS_UNTIL, …): a kid
      // descriptor, a grace end, a policy word. They are not values; they must not hold one.
      const companions = new Set(Object.keys(variables).flatMap(kidVariableNames));
      for (const [name, v] of Object.entries(variables)) if (!companions.has(name)) values.add(v);
      for (const name of Object.keys(variables).filter((n) => companions.has(n))) {
        for (const value of values)
          expect(variables[name]!.includes(value), `${name} holds a secret value`).toBe(false);
      }
    }
    values.add(readFileSync(join(dir, '.rotor/master.key'), 'utf8').trim());
  }, SETUP_TIMEOUT_MS);

  it('collected the values it looks for', () => {
    expect(values.size).toBeGreaterThan(8);
  });

  it('never prints a value from a command other than get, export or run (debug logging on)', () => {
    const writers = runs.filter((r) => !['get', 'export', 'run'].includes(r.args[0]!));
    expect(writers.length).toBeGreaterThan(15);
    for (const run of writers) {
      for (const value of values) {
        expect(run.stdout.includes(value), `stdout of rotor ${run.args.join(' ')}`).toBe(false);
        expect(run.stderr.includes(value), `stderr of rotor ${run.args.join(' ')}`).toBe(false);
      }
    }
    // Reading commands print values on stdout only, never in their logs.
    for (const run of runs.filter((r) => ['get', 'export', 'run'].includes(r.args[0]!))) {
      for (const value of values)
        expect(run.stderr.includes(value), `stderr of rotor ${run.args.join(' ')}`).toBe(false);
    }
  });

  it('keeps no value in plaintext in the database files', () => {
    for (const file of ['rotor.db', 'rotor.db-wal']) {
      const path = join(dir, '.rotor', file);
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      for (const value of values) {
        expect(bytes.includes(Buffer.from(value, 'utf8')), `${file} contains a value`).toBe(false);
        expect(
          bytes.includes(Buffer.from(value, 'utf16le')),
          `${file} contains a value (utf16)`,
        ).toBe(false);
      }
    }
  });
});

describe('bad input at the edge', () => {
  it('a value on argv is refused without echoing it, and nothing is stored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-argv-'));
    const { rotor } = makeRunner(dir);
    rotor(['init']);
    rotor(['apply']);
    for (const args of [
      ['import', 'SMTP_PASSWORD', '--env', 'production', '--value', 'argv-Secret-123456'],
      ['import', 'SMTP_PASSWORD', '--env', 'production', '--value=argv-Secret-123456'],
      ['rotate', 'SMTP_PASSWORD', '--env', 'production', '--password=argv-Secret-123456'],
    ]) {
      const r = rotor(args);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).not.toContain('argv-Secret-123456');
    }
    const status = rotor(['status', '--json']);
    const rows = JSON.parse(status.stdout).rows as {
      secret: string;
      environment: string;
      state: string;
    }[];
    expect(
      rows.find((r) => r.secret === 'SMTP_PASSWORD' && r.environment === 'production')!.state,
    ).toBe('unknown');
  });

  it('a corrupted store file gets one error naming the file and a non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-corrupt-'));
    const { rotor } = makeRunner(dir);
    rotor(['init']);
    rotor(['apply']);
    const db = join(dir, '.rotor/rotor.db');
    writeFileSync(db, Buffer.concat([Buffer.from('this is not sqlite'), Buffer.alloc(4096, 7)]));
    for (const args of [['status'], ['rotate', 'METRICS_AUTH_TOKEN'], ['audit', 'verify']]) {
      const r = rotor(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toContain('ERR_ROTOR_STORE_CORRUPT');
      expect(r.stderr).toContain(db);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const check = rotor(['check']);
    expect(check.code).toBe(3);
  });

  it('a missing store tells the operator to run init', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-empty-'));
    const r = makeRunner(dir).rotor(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_ROTOR_STORE_NOT_INITIALIZED|ERR_ROTOR_POLICY_NOT_FOUND/);
  });
});
