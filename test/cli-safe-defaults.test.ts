// Safe defaults of the first hour (issue 11 §3): init inside git, a lost master key, value
// limits, blank and multi-line values.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addSecrets, cli, freshDir, MAIN } from './helpers/in-process-cli.js';

function git(dir: string, ...args: string[]): string {
  const out = spawnSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: dir },
  });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout;
}

describe('rotor init', () => {
  it('inside a git work tree writes .rotor/.gitignore, says so, and git add . commits neither store nor key', async () => {
    const dir = freshDir();
    git(dir, 'init', '-q');
    const result = await cli(dir, ['init']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('wrote .rotor/.gitignore');
    git(dir, 'add', '.');
    const staged = git(dir, 'diff', '--cached', '--name-only').trim().split('\n');
    expect(staged).toEqual(['rotor.yaml']);
  });

  it('in a subdirectory of a git work tree also writes .rotor/.gitignore', async () => {
    const dir = freshDir();
    git(dir, 'init', '-q');
    const sub = join(dir, 'app');
    spawnSync('mkdir', [sub]);
    expect((await cli(sub, ['init'])).code).toBe(0);
    expect(readFileSync(join(sub, '.rotor', '.gitignore'), 'utf8')).toMatch(/^\*$/m);
  });

  it('outside a git work tree writes no .gitignore and does not mention one', async () => {
    const dir = freshDir();
    const result = await cli(dir, ['init']);
    expect(result.code).toBe(0);
    expect(existsSync(join(dir, '.rotor', '.gitignore'))).toBe(false);
    expect(result.stdout).not.toContain('.gitignore');
  });

  it('with a lost master key: says restore it from your backup, and init --force makes no new key', async () => {
    const dir = freshDir();
    expect((await cli(dir, ['init'])).code).toBe(0);
    expect((await cli(dir, ['apply'])).code).toBe(0);
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], 'smtp-value-123456')).code,
    ).toBe(0);
    const keyFile = join(dir, '.rotor', 'master.key');
    const key = readFileSync(keyFile);
    rmSync(keyFile);

    const lost = await cli(dir, ['export', '--env', 'staging', '--format', 'json']);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING');
    expect(lost.stderr).toContain('Restore it from your backup');
    expect(lost.stderr).not.toContain('rotor init');

    for (const argv of [['init', '--force'], ['init']]) {
      const again = await cli(dir, argv);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
      expect(again.stderr).toContain('restore it from your backup');
      expect(existsSync(keyFile)).toBe(false);
    }

    // The backup brings everything back.
    writeFileSync(keyFile, key, { mode: 0o600 });
    const back = await cli(dir, [
      'export',
      '--env',
      'staging',
      '--format',
      'json',
      '--secret',
      'SMTP_PASSWORD',
    ]);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toEqual({ SMTP_PASSWORD: 'smtp-value-123456' });
  });

  it('init --force refuses while a store exists, and leaves key and policy untouched', async () => {
    const dir = freshDir();
    expect((await cli(dir, ['init'])).code).toBe(0);
    const keyFile = join(dir, '.rotor', 'master.key');
    const key = readFileSync(keyFile, 'utf8');
    const policy = readFileSync(join(dir, 'rotor.yaml'), 'utf8');
    const again = await cli(dir, ['init', '--force']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(readFileSync(join(dir, 'rotor.yaml'), 'utf8')).toBe(policy);
  });

  it('init --force keeps an existing rotor.yaml when there is no store yet', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'rotor.yaml'), 'version: 1\nenvironments: [staging]\nsecrets: {}\n');
    const result = await cli(dir, ['init', '--force']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('kept rotor.yaml');
    expect(existsSync(join(dir, '.rotor', 'master.key'))).toBe(true);
  });
});

const PEM = [
  '-----BEGIN PRIVATE KEY-----',
  'MC4CAQAwBQYDK2VwBCIEIAbc/def+ghijklmnopqrstuvwxyz0123456789ABCD',
  '-----END PRIVATE KEY-----',
].join('\n');
const SERVICE_ACCOUNT = JSON.stringify(
  { type: 'service_account', private_key: `${PEM}\n`, id: 'it\'s "quoted"' },
  null,
  2,
);

async function project(extraYaml = ''): Promise<string> {
  const dir = freshDir();
  expect((await cli(dir, ['init'])).code).toBe(0);
  if (extraYaml) addSecrets(dir, extraYaml);
  const applied = await cli(dir, ['apply']);
  expect(applied.code, applied.stderr).toBe(0);
  return dir;
}

async function storedCounts(dir: string): Promise<{ versions: number; rotations: number }> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, '.rotor', 'rotor.db'), { readonly: true });
  try {
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { versions: count('versions'), rotations: count('rotations') };
  } finally {
    db.close();
  }
}

describe('value limits', () => {
  it('refuses a value over 64 KiB at import and at rotation, naming the limit and storing nothing', async () => {
    const dir = await project();
    const big = `${'k'.repeat(64 * 1024)}X`;
    const imported = await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], big);
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('ERR_ROTOR_VALUE_INVALID');
    expect(imported.stderr).toContain('65537 bytes, over its limit of 64 KiB');
    expect(imported.stderr).toContain('maxBytes');
    expect(imported.stderr).not.toContain('kkkkkkkk');
    expect(await storedCounts(dir)).toEqual({ versions: 0, rotations: 0 });

    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], 'first-value-1234')).code,
    ).toBe(0);
    const rotated = await cli(dir, ['rotate', 'SMTP_PASSWORD', '--env', 'staging'], big);
    expect(rotated.code).toBe(1);
    expect(rotated.stderr).toContain('over its limit of 64 KiB');
    expect(await storedCounts(dir)).toEqual({ versions: 1, rotations: 0 });
    // Exactly the limit is fine.
    const atLimit = await cli(
      dir,
      ['rotate', 'SMTP_PASSWORD', '--env', 'staging'],
      'k'.repeat(64 * 1024),
    );
    expect(atLimit.code, atLimit.stderr).toBe(0);
  });

  it('takes a per-secret maxBytes from rotor.yaml, and run delivers such a value', async () => {
    const dir = await project(
      '  BIG_BLOB:\n    kind: manual\n    cadence: 180d\n    maxBytes: 100000\n',
    );
    const big = 'b'.repeat(90_000);
    const imported = await cli(dir, ['import', 'BIG_BLOB', '--env', 'staging'], big);
    expect(imported.code, imported.stderr).toBe(0);
    const out = spawnSync(
      process.execPath,
      [
        MAIN,
        'run',
        '--env',
        'staging',
        '--secret',
        'BIG_BLOB',
        '--',
        process.execPath,
        '-e',
        'process.stdout.write(String(process.env.BIG_BLOB.length))',
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'tester' },
      },
    );
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toBe('90000');
    const over = await cli(dir, ['rotate', 'BIG_BLOB', '--env', 'staging'], 'b'.repeat(100_001));
    expect(over.stderr).toContain('over its limit of 100000 bytes');
  });

  it('refuses a maxBytes above what one environment variable can hold', async () => {
    const dir = freshDir();
    expect((await cli(dir, ['init'])).code).toBe(0);
    addSecrets(dir, '  BIG_BLOB:\n    kind: manual\n    cadence: 180d\n    maxBytes: 10000000\n');
    const applied = await cli(dir, ['apply']);
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('maxBytes');
  });

  it('refuses empty and whitespace-only values at import and rotation', async () => {
    const dir = await project();
    for (const blank of [' '.repeat(20), '\t \n  \n'.repeat(6)]) {
      const imported = await cli(dir, ['import', 'S3_ACCESS_KEY_ID', '--env', 'staging'], blank);
      expect(imported.code).toBe(1);
      expect(imported.stderr).toContain('ERR_ROTOR_VALUE_MISSING');
      expect(imported.stderr).toContain('only whitespace');
    }
    expect(await storedCounts(dir)).toEqual({ versions: 0, rotations: 0 });
    expect(
      (await cli(dir, ['import', 'S3_ACCESS_KEY_ID', '--env', 'staging'], 'AKIAEXAMPLE000000001'))
        .code,
    ).toBe(0);
    const rotated = await cli(
      dir,
      ['rotate', 'S3_ACCESS_KEY_ID', '--env', 'staging'],
      ' '.repeat(30),
    );
    expect(rotated.code).toBe(1);
    expect(rotated.stderr).toContain('only whitespace');
    expect(await storedCounts(dir)).toEqual({ versions: 1, rotations: 0 });
  });
});

describe('multi-line values', () => {
  it('import accepts a PEM key and service-account JSON; run, export (every format) and get return them exactly', async () => {
    const dir = await project();
    expect((await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], `${PEM}\n`)).code).toBe(
      0,
    );
    const sa = await cli(dir, ['import', 'DATABASE_URL', '--env', 'staging'], SERVICE_ACCOUNT);
    expect(sa.code, sa.stderr).toBe(0);
    const expected = { SMTP_PASSWORD: PEM, DATABASE_URL: SERVICE_ACCOUNT };
    const names = Object.keys(expected);

    const secrets = names.flatMap((n) => ['--secret', n]);
    const json = await cli(dir, ['export', '--env', 'staging', '--format', 'json', ...secrets]);
    expect(JSON.parse(json.stdout)).toEqual(expected);

    const shell = await cli(dir, ['export', '--env', 'staging', '--format', 'shell', ...secrets]);
    writeFileSync(join(dir, 'env.sh'), shell.stdout);
    const script = `set -eu; . "$1"; shift; for n in "$@"; do printf '%s\\0' "\${!n}"; done`;
    const sourced = spawnSync('bash', ['-c', script, 'bash', join(dir, 'env.sh'), ...names], {
      encoding: 'utf8',
    });
    expect(sourced.stdout.split('\0').slice(0, 2)).toEqual([PEM, SERVICE_ACCOUNT]);

    const dotenv = await cli(dir, ['export', '--env', 'staging', ...secrets]);
    expect(dotenv.code, dotenv.stderr).toBe(0);
    writeFileSync(join(dir, '.env'), dotenv.stdout);
    const read = spawnSync(
      process.execPath,
      [
        `--env-file=${join(dir, '.env')}`,
        '-e',
        `process.stdout.write(JSON.stringify({ SMTP_PASSWORD: process.env.SMTP_PASSWORD, DATABASE_URL: process.env.DATABASE_URL }))`,
      ],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    );
    expect(JSON.parse(read.stdout)).toEqual(expected);

    const run = spawnSync(
      process.execPath,
      [
        MAIN,
        'run',
        '--env',
        'staging',
        ...secrets,
        '--',
        process.execPath,
        '-e',
        `process.stdout.write(JSON.stringify({ SMTP_PASSWORD: process.env.SMTP_PASSWORD, DATABASE_URL: process.env.DATABASE_URL }))`,
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dir, ROTOR_OPERATOR: 'tester' },
      },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expected);

    const get = await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging']);
    expect(get.stdout).toBe(PEM);
  });

  it('a manual rotation accepts a multi-line value', async () => {
    const dir = await project();
    expect(
      (await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], 'first-value-1234')).code,
    ).toBe(0);
    const rotated = await cli(dir, ['rotate', 'SMTP_PASSWORD', '--env', 'staging'], `${PEM}\n`);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await cli(dir, ['get', 'SMTP_PASSWORD', '--env', 'staging'])).stdout).toBe(PEM);
  });
});

describe('multi-line values in the SDK', () => {
  it('valueFromStore and valueFromEnv hand a PEM key and service-account JSON over exactly', async () => {
    const { valueFromStore } = await import('../src/sdk/values/from-store.js');
    const { valueFromEnv } = await import('../src/sdk/values/from-env.js');
    const dir = await project();
    expect((await cli(dir, ['import', 'SMTP_PASSWORD', '--env', 'staging'], `${PEM}\n`)).code).toBe(
      0,
    );
    expect(
      (await cli(dir, ['import', 'DATABASE_URL', '--env', 'staging'], SERVICE_ACCOUNT)).code,
    ).toBe(0);
    const store = valueFromStore({ dir, environment: 'staging', env: {} });
    try {
      expect(await store.load('SMTP_PASSWORD')).toBe(PEM);
      expect(await store.load('DATABASE_URL')).toBe(SERVICE_ACCOUNT);
    } finally {
      await store.close?.();
    }
    const env = valueFromEnv({ env: { SMTP_PASSWORD: PEM } });
    expect(await env.load('SMTP_PASSWORD')).toBe(PEM);
  });
});
