// The reading commands' synchronous SQLite path (src/core/store/sqlite-reads.ts): the same
// status as the Kysely queries, and only for a store at exactly this build's migrations, so a
// store that needs migrating still migrates and one written by a newer Rotor is still refused.
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/core/store/open-store.js';
import { openSqliteReads } from '../src/core/store/sqlite-reads.js';
import { computeStatus, computeStatusFrom } from '../src/core/status/status.js';
import { sqliteStatusQueries } from '../src/core/status/status-sqlite.js';
import { createProject, DAY } from './helpers/project.js';

const storeFileOf = (dir: string) => join(dir, '.rotor', 'rotor.db');

describe('the synchronous SQLite read path', () => {
  it('computes the same status as the Kysely queries, for every scope', async () => {
    const p = await createProject();
    for (const args of [
      ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging'],
      ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging'],
      ['rotate', 'METRICS_AUTH_TOKEN'],
    ]) {
      const r = await p.cli(args);
      expect(r.code, r.stderr).toBe(0);
    }
    p.clock.advance(100 * DAY);
    const now = p.clock.now();
    const reads = await openSqliteReads(storeFileOf(p.dir));
    const store = await openStore({ stateDir: join(p.dir, '.rotor'), env: p.env });
    try {
      expect(reads).toBeDefined();
      for (const scope of [
        {},
        { secret: 'JWT_ACCESS_SECRET' },
        { environment: 'staging' },
        { secret: 'JWT_ACCESS_SECRET', environment: 'staging' },
        { at: now - 99 * DAY },
      ]) {
        const options = { now, ...scope };
        const viaKysely = await computeStatus(store, options);
        expect(await computeStatusFrom(sqliteStatusQueries(reads!), options)).toEqual(viaKysely);
      }
      expect((await computeStatus(store, { now })).summary.inGrace).toBe(0);
      expect(
        (await computeStatusFrom(sqliteStatusQueries(reads!), { now, at: now - 100 * DAY })).summary
          .inGrace,
      ).toBe(1);
    } finally {
      reads?.close();
      await store.close();
    }
  });

  it("leaves a store behind this build's migrations to openStore (which migrates it)", async () => {
    const p = await createProject();
    const file = storeFileOf(p.dir);
    const db = new BetterSqlite3(file);
    const newest = db
      .prepare<[], string>('SELECT name FROM rotor_migrations ORDER BY name DESC LIMIT 1')
      .pluck()
      .get()!;
    // As if the newest migration had not run yet: only the read path's decision is checked here.
    db.prepare('DELETE FROM rotor_migrations WHERE name = ?').run(newest);
    db.close();
    expect(await openSqliteReads(file)).toBeUndefined();
  });

  it('refuses a store written by a newer Rotor exactly as before', async () => {
    const p = await createProject();
    const file = storeFileOf(p.dir);
    const db = new BetterSqlite3(file);
    db.prepare(
      "INSERT INTO rotor_migrations (name, timestamp) VALUES ('9999_from_a_newer_rotor', '2030-01-01T00:00:00.000Z')",
    ).run();
    db.close();
    expect(await openSqliteReads(file)).toBeUndefined();
    const direct = await openStore({ stateDir: join(p.dir, '.rotor'), env: p.env }).then(
      () => undefined,
      (error: { code?: string; message: string }) => error,
    );
    expect(direct?.code).toMatch(/^ERR_ROTOR_STORE_/);
    for (const args of [['status'], ['get', 'JWT_ACCESS_SECRET', '--env', 'staging']]) {
      const r = await p.cli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${direct!.code}: ${direct!.message}`);
    }
  });
});
