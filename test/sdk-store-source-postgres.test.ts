// The SDK's store sources (fromStore, valueFromStore) read a local SQLite store. A project whose
// store moved to PostgreSQL still has the old SQLite file beside it: the sources refuse with one
// error naming the problem and the way out (fromServer), rather than serving its stale values.
// ROTOR_STORE_URL=sqlite:<file> is followed as the CLI follows it.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fromStore } from '../src/sdk/jwt/from-store.js';
import { valueFromStore } from '../src/sdk/values/from-store.js';
import { createProject } from './helpers/project.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');

const POLICY = `version: 1
environments: [production]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 365d
    config: { bytes: 32, encoding: base64url }
  JWT_ACCESS_SECRET:
    kind: jwt-hmac
    cadence: 90d
    config: { algorithm: HS256 }
`;

describe.skipIf(!postgres.available)('store sources on a project whose store is PostgreSQL', () => {
  test('a stale SQLite file left by store migrate is never read: both sources refuse', async () => {
    const db = await createScratchDatabase('sdksrc');
    try {
      const p = await createProject({ policy: POLICY, start: Date.now() });
      expect((await p.cli(['apply'])).code).toBe(0);
      expect((await p.cli(['rotate', 'SESSION_SECRET'])).code).toBe(0);
      expect((await p.cli(['store', 'migrate', '--to', db.url])).code).toBe(0);
      const env = { ...p.env, ROTOR_STORE_URL: db.url };
      // After the move, the store rotates on PostgreSQL; the SQLite file keeps the old value.
      const moved = await p.cli(['rotate', 'SESSION_SECRET'], { env });
      expect(moved.code, moved.stderr).toBe(0);
      const stale = valueFromStore({ dir: p.dir, environment: 'production', env: p.env });
      expect(await stale.load('SESSION_SECRET')).toMatch(/^[\w-]{43}$/);
      await stale.close();

      let valueError: unknown;
      try {
        valueFromStore({ dir: p.dir, environment: 'production', env });
      } catch (error) {
        valueError = error;
      }
      expect(valueError).toMatchObject({ code: 'ERR_ROTOR_VALUE_INVALID' });
      expect((valueError as Error).message).toBe(
        'fromStore and valueFromStore read a local SQLite store, but ROTOR_STORE_URL names a PostgreSQL store: read through `rotor serve` instead, with createClient and fromServer from @rotor/sdk/client (rotor/client)',
      );
      expect(() => fromStore({ dir: p.dir, environment: 'production', env })).toThrow(
        expect.objectContaining({ code: 'ERR_ROTOR_JWT_SOURCE_INVALID' }),
      );
      // The older variable name is refused the same way, and the message says which was read.
      expect(() =>
        valueFromStore({
          dir: p.dir,
          environment: 'production',
          env: { ...p.env, ROTOR_DATABASE_URL: db.url },
        }),
      ).toThrow(/ROTOR_DATABASE_URL names a PostgreSQL store/);
      // The message never carries the URL (it may hold a password).
      expect((valueError as Error).message).not.toContain(db.name);
    } finally {
      await db.drop();
    }
  }, 120_000);
});

describe('store sources follow ROTOR_STORE_URL=sqlite:<file>', () => {
  test('the file the URL names is read, not .rotor/rotor.db', async () => {
    const p = await createProject({ policy: POLICY, start: Date.now() });
    expect((await p.cli(['apply'])).code).toBe(0);
    expect((await p.cli(['rotate', 'SESSION_SECRET'])).code).toBe(0);
    const moved = join(p.dir, 'elsewhere.db');
    renameSync(join(p.dir, '.rotor', 'rotor.db'), moved);
    const source = valueFromStore({
      dir: p.dir,
      environment: 'production',
      env: { ...p.env, ROTOR_STORE_URL: 'sqlite:elsewhere.db' },
    });
    try {
      expect(await source.load('SESSION_SECRET')).toMatch(/^[\w-]{43}$/);
    } finally {
      await source.close();
    }
    const missing = valueFromStore({ dir: p.dir, environment: 'production', env: p.env });
    await expect(missing.load('SESSION_SECRET')).rejects.toMatchObject({
      code: 'ERR_ROTOR_STORE_NOT_INITIALIZED',
    });
    await missing.close();
  }, 60_000);
});
