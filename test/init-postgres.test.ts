// `rotor init` with ROTOR_STORE_URL naming a PostgreSQL database that already holds a Rotor store
// refuses, as it refuses an existing SQLite file: a clear ERR_ROTOR_STORE_EXISTS naming the store,
// a non-zero exit, and nothing changed — no rotor.yaml, no .rotor/, above all no new master key,
// and not a row more in the database. An empty database is still initialised.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, cliEnv, freshDir as makeDir, MAIN } from './helpers/in-process-cli.js';
import { createProject, type TestProject } from './helpers/project.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase, postgresDatabaseUrl } from './helpers/store-backends.js';

const postgres = await requireService('postgres');

// Directories this file made (one may hold a master key): removed once its tests are done.
const dirs: string[] = [];
function freshDir(): string {
  const dir = makeDir('rotor-init-pg-');
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!postgres.available)('rotor init against an existing PostgreSQL store', () => {
  let url: string;
  let drop: () => Promise<void> = async () => {};
  let first: TestProject;

  beforeAll(async () => {
    const db = await createScratchDatabase('init');
    url = db.url;
    drop = () => db.drop();
    // The first project initialises the empty database (and applies its policy).
    first = await createProject({ env: { ROTOR_STORE_URL: url } });
  }, 120_000);
  afterAll(() => drop(), 60_000);

  /** Everything Rotor keeps in the database, as text: to show that nothing changed. */
  async function snapshot(): Promise<string> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const parts: unknown[] = [];
      for (const table of ['rotor_migrations', 'meta', 'audit_events', 'secrets', 'versions'])
        parts.push((await client.query(`SELECT * FROM ${table} ORDER BY 1`)).rows);
      return JSON.stringify(parts);
    } finally {
      await client.end();
    }
  }

  test('refuses without a key: the store is named, the key is asked for, nothing is made', async () => {
    const before = await snapshot();
    const dir = freshDir();
    const r = await cli(dir, ['init'], '', { ROTOR_STORE_URL: url });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(r.stderr).toContain(`a store already exists at ${url}`);
    expect(r.stderr).toContain('master key');
    expect(r.stderr).toContain('is missing');
    expect(r.stderr).toContain('init will not make one');
    expect(readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toBe(before);
  }, 60_000);

  test('refuses with the right key too: init sets up new projects only', async () => {
    const before = await snapshot();
    const dir = freshDir();
    const key = readFileSync(join(first.dir, '.rotor', 'master.key'), 'utf8').trim();
    const r = await cli(dir, ['init'], '', { ROTOR_STORE_URL: url, ROTOR_MASTER_KEY: key });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(r.stderr).toContain('init only sets up a new project');
    expect(r.stderr).not.toContain(key);
    expect(readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toBe(before);
  }, 60_000);

  test('--force over an existing rotor.yaml is refused as well, and keeps the file', async () => {
    const before = await snapshot();
    const dir = freshDir();
    const policy = readFileSync(join(first.dir, 'rotor.yaml'), 'utf8');
    writeFileSync(join(dir, 'rotor.yaml'), policy);
    const r = await cli(dir, ['init', '--force'], '', { ROTOR_STORE_URL: url });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(readdirSync(dir)).toEqual(['rotor.yaml']);
    expect(existsSync(join(dir, '.rotor'))).toBe(false);
    expect(await snapshot()).toBe(before);
  }, 60_000);

  test('the built CLI exits non-zero with the same refusal', async () => {
    const before = await snapshot();
    const dir = freshDir();
    const child = spawn(process.execPath, [MAIN, 'init'], {
      cwd: dir,
      env: cliEnv(dir, { ROTOR_STORE_URL: url }),
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, stderr).not.toBe(0);
    expect(stderr).toContain('ERR_ROTOR_STORE_EXISTS');
    expect(readdirSync(dir)).toEqual([]);
    expect(await snapshot()).toBe(before);
  }, 60_000);

  test('a database that does not exist is refused before anything is written', async () => {
    const dir = freshDir();
    const missing = postgresDatabaseUrl(`rotor_missing_${Date.now()}`);
    const r = await cli(dir, ['init'], '', { ROTOR_STORE_URL: missing });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_ROTOR_STORE_NOT_INITIALIZED');
    expect(r.stderr).toContain('does not exist');
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  test('an empty database is initialised, and the first project still opens its store', async () => {
    const empty = await createScratchDatabase('init2');
    try {
      const dir = freshDir();
      const r = await cli(dir, ['init'], '', { ROTOR_STORE_URL: empty.url });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(dir, '.rotor', 'master.key'))).toBe(true);
    } finally {
      await empty.drop();
    }
    const status = await first.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
  }, 120_000);
});
