// The store, the engine and the audit chain over both backends (SQLite and PostgreSQL), one suite
// in one loop: migrations, append-only audit rows, sealed values, rotate → retire → emergency,
// a crash and `rotor resume`, the lock, audit filters and verify, and the CLI reading it all.
import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { recordAudit, type Actor } from '../src/core/audit/audit-log.js';
import { listAudit } from '../src/core/audit/audit-query.js';
import { verifyAuditChain } from '../src/core/audit/audit-verify.js';
import { acquireLock, lockName } from '../src/core/rotation/lock.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import type { Store } from '../src/core/store/open-store.js';
import { openVersion } from '../src/core/vault/versions.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { forEachBackend, type StoreBackend } from './helpers/store-backends.js';
import { entryArgs } from './helpers/spawned-entries.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-0000000000b1',
  method: 'manual',
};
const SECRET = 'JWT_ACCESS_SECRET';

async function projectOn(backend: StoreBackend): Promise<TestProject> {
  return createProject({ env: await backend.freshStore() });
}

async function versions(store: Store, secret: string, environment: string) {
  return store.db
    .selectFrom('versions')
    .selectAll()
    .where('secret', '=', secret)
    .where('environment', '=', environment)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** What an attacker with write access to the database does first. */
async function dropAuditTriggers(store: Store): Promise<void> {
  for (const name of ['audit_events_no_update', 'audit_events_no_delete']) {
    const on = store.dialect === 'postgres' ? ' ON audit_events' : '';
    await sql.raw(`DROP TRIGGER ${name}${on}`).execute(store.db);
  }
}

forEachBackend((backend) => {
  describe('store', { timeout: 60_000 }, () => {
    it('opens with the dialect named by the environment and refuses to change audit rows', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      const store = await rotor.store();
      expect(store.dialect).toBe(backend.name);
      const head = await store.db
        .selectFrom('audit_events')
        .select('seq')
        .executeTakeFirstOrThrow();
      await expect(
        store.guard(() =>
          store.db
            .updateTable('audit_events')
            .set({ hash: 'f'.repeat(64) })
            .execute(),
        ),
      ).rejects.toMatchObject({ code: 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY' });
      await expect(
        store.guard(() =>
          store.db.deleteFrom('audit_events').where('seq', '=', head.seq).execute(),
        ),
      ).rejects.toMatchObject({ code: 'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY' });
      expect((await verifyAuditChain(store)).ok).toBe(true);
      await rotor.close();
    });

    it('keeps values sealed: the stored bytes do not contain the value, and times are numbers', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      await createRotationEngine({ rotor }).rotate(actor, {
        secret: SECRET,
        environments: ['staging'],
        method: 'manual',
      });
      const store = await rotor.store();
      const [row] = await versions(store, SECRET, 'staging');
      const value = openVersion(await rotor.masterKey(), row!);
      expect(Buffer.isBuffer(row!.ciphertext)).toBe(true);
      expect(row!.ciphertext!.includes(Buffer.from(value))).toBe(false);
      expect(row!.created_at).toBe(p.clock.now());
      expect(typeof row!.created_at).toBe('number');
      await rotor.close();
    });
  });

  describe('engine', { timeout: 120_000 }, () => {
    it('rotates staging then production, keeps the previous version through its grace and retires it', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      const engine = createRotationEngine({ rotor });
      const secret = 'METRICS_AUTH_TOKEN';
      const first = await engine.rotate(actor, { secret, method: 'manual' });
      expect(first.results.map((r) => r.environment)).toEqual(['staging', 'production']);
      p.clock.advance(10 * DAY);
      await engine.rotate(actor, { secret, environments: ['production'], method: 'manual' });
      const store = await rotor.store();
      const [old, current] = await versions(store, secret, 'production');
      expect([old!.stage, current!.stage]).toEqual(['previous', 'current']);
      expect(old!.retire_at).toBe(p.clock.now() + DAY);
      expect(await engine.retire(actor, {})).toEqual([]);
      p.clock.advance(DAY);
      expect(await engine.retire(actor, {})).toEqual([
        { secret, environment: 'production', versionId: old!.id, early: false },
      ]);
      const after = await versions(store, secret, 'production');
      expect(after[0]).toMatchObject({ stage: 'retired', ciphertext: null, wrapped_key: null });
      await rotor.close();
    });

    it('an emergency rotation revokes the previous version at once and marks it compromised', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      const engine = createRotationEngine({ rotor });
      const secret = 'JWT_REFRESH_SECRET';
      await engine.rotate(actor, { secret, environments: ['production'], method: 'manual' });
      p.clock.advance(DAY);
      const result = await engine.rotate(actor, {
        secret,
        environments: ['production'],
        method: 'manual',
        emergency: true,
        reason: 'key leaked in a log',
      });
      expect(result).toMatchObject({ ok: true, method: 'emergency' });
      const store = await rotor.store();
      const rows = await versions(store, secret, 'production');
      expect(rows.map((r) => [r.stage, r.compromised])).toEqual([
        ['retired', 1],
        ['current', 0],
      ]);
      const audit = await listAudit(store, { action: 'rotate.emergency' });
      expect(audit[0]).toMatchObject({ method: 'emergency', outcome: 'success' });
      await rotor.close();
    });

    it('refuses a second rotation while another holds the lock', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      const store = await rotor.store();
      const lock = await acquireLock(store, rotor.clock, lockName(SECRET, 'staging'));
      await expect(
        createRotationEngine({ rotor }).rotate(actor, {
          secret: SECRET,
          environments: ['staging'],
          method: 'manual',
        }),
      ).rejects.toMatchObject({ code: 'ERR_ROTOR_LOCK_HELD' });
      await lock.release();
      expect(await versions(store, SECRET, 'staging')).toEqual([]);
      await rotor.close();
    });

    it('a rotation killed after verify is completed by `rotor resume`', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      await createRotationEngine({ rotor }).rotate(actor, {
        secret: SECRET,
        environments: ['production'],
        method: 'manual',
      });
      await rotor.close();
      const child = spawnSync(
        process.execPath,
        [
          ...entryArgs('crash-rotate'),
          p.dir,
          'verify:done',
          SECRET,
          'production',
          'normal',
          '',
          'ROTOR_STORE_URL',
        ],
        { encoding: 'utf8', env: { ...process.env, ...p.env }, timeout: 90_000 },
      );
      expect(child.signal, child.stderr).toBe('SIGKILL');
      const resumed = await p.cli(['resume', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout).outcomes[0].action).toBe('completed');
      const again = p.rotor();
      const store = await again.store();
      const stages = (await versions(store, SECRET, 'production')).map((v) => v.stage);
      expect(stages).toEqual(['previous', 'current']);
      expect((await verifyAuditChain(store)).ok).toBe(true);
      await again.close();
    });
  });

  describe('audit', { timeout: 60_000 }, () => {
    it('filters on the hashed entry and verifies the chain after a session of rotations', async () => {
      const p = await projectOn(backend);
      expect((await p.cli(['rotate', SECRET, '--env', 'staging'])).code).toBe(0);
      expect((await p.cli(['rotate', 'METRICS_AUTH_TOKEN', '--env', 'staging'])).code).toBe(0);
      const rotor = p.rotor();
      const store = await rotor.store();
      const mine = await listAudit(store, { secret: SECRET, order: 'asc' });
      expect(mine.length).toBeGreaterThan(2);
      expect(new Set(mine.map((r) => r.secret))).toEqual(new Set([SECRET]));
      const rotateRows = await listAudit(store, { action: 'rotate' });
      expect(rotateRows.every((r) => r.action === 'rotate' || r.action.startsWith('rotate.'))).toBe(
        true,
      );
      const result = await verifyAuditChain(store);
      expect(result).toMatchObject({ ok: true });
      expect(result.rows).toBe(result.headSeq);
      await rotor.close();
      const cli = await p.cli(['audit', 'verify', '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      const status = await p.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(SECRET);
    });

    it('names an edited row once an attacker has dropped the triggers', async () => {
      const p = await projectOn(backend);
      const rotor = p.rotor();
      const store = await rotor.store();
      for (let i = 0; i < 4; i++)
        await recordAudit(store, rotor.clock, actor, { action: 'test.event', outcome: 'info' });
      const rows = await store.db.selectFrom('audit_events').select('seq').orderBy('seq').execute();
      const target = rows[rows.length - 2]!.seq; // one of the four rows alice wrote
      await dropAuditTriggers(store);
      await store.db
        .updateTable('audit_events')
        .set({ entry: sql<string>`replace(entry, '"alice"', '"mallory"')` })
        .where('seq', '=', target)
        .execute();
      await rotor.close();
      const reopened = p.rotor();
      const result = await verifyAuditChain(await reopened.store());
      expect(result.ok).toBe(false);
      expect(result.firstBad).toMatchObject({ seq: target, problem: 'edited' });
      await reopened.close();
    });
  });
});
