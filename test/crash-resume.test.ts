import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { openVersion } from '../src/core/vault/versions.js';
import type { Actor } from '../src/core/audit/audit-log.js';
import { createProject, type TestProject } from './helpers/project.js';
import { entryArgs } from './helpers/spawned-entries.js';

const actor: Actor = {
  operator: 'alice',
  requestId: '00000000-0000-4000-8000-000000000002',
  method: 'manual',
};
const SECRET = 'JWT_ACCESS_SECRET';
const ENV = 'production';

function crashAt(p: TestProject, point: string, mode = 'normal') {
  return spawnSync(
    process.execPath,
    [...entryArgs('crash-rotate'), p.dir, point, SECRET, ENV, mode],
    {
      encoding: 'utf8',
      env: { ...process.env, ...p.env },
      timeout: 60_000,
    },
  );
}

async function snapshot(p: TestProject) {
  const rotor = p.rotor();
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const rows = await store.db
    .selectFrom('versions')
    .selectAll()
    .where('secret', '=', SECRET)
    .where('environment', '=', ENV)
    .orderBy(sql`rowid`)
    .execute();
  const rotations = await store.db
    .selectFrom('rotations')
    .selectAll()
    .orderBy('started_at')
    .execute();
  const live = rows.filter((r) => r.stage === 'current' || r.stage === 'previous');
  const readable = live.every((r) => openVersion(master, r).length > 0);
  await rotor.close();
  return { rows, rotations, readable, current: rows.filter((r) => r.stage === 'current') };
}

describe('a rotation killed with SIGKILL at any step', { timeout: 120_000 }, () => {
  // Points journaled by the engine; killing after verify:done means the new version is
  // proven and resume promotes it, before that resume rolls back.
  const cases: Array<[string, 'old' | 'new']> = [
    ['create:started', 'old'],
    ['apply:started', 'old'],
    ['verify:started', 'old'],
    ['verify:done', 'new'],
    ['retire:done', 'new'],
    ['promote:done', 'new'],
  ];

  for (const [point, expected] of cases) {
    it(`after ${point} leaves a usable current value, and resume ends with the ${expected} version current`, async () => {
      const p = await createProject();
      const rotor = p.rotor();
      const engine = createRotationEngine({ rotor });
      await engine.rotate(actor, { secret: SECRET, environments: [ENV], method: 'manual' });
      await engine.rotate(actor, { secret: SECRET, environments: [ENV], method: 'manual' });
      await rotor.close();
      const before = await snapshot(p);
      const oldCurrent = before.current[0]!.id;

      const child = crashAt(p, point);
      expect(child.signal, child.stderr).toBe('SIGKILL');

      const crashed = await snapshot(p);
      expect(crashed.current).toHaveLength(1);
      expect(crashed.readable).toBe(true);
      expect(crashed.rotations.at(-1)!.state).toBe('running');

      const resumed = await p.cli(['resume', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      const outcome = JSON.parse(resumed.stdout).outcomes[0];
      expect(outcome.action).toBe(expected === 'old' ? 'rolled-back' : 'completed');

      const after = await snapshot(p);
      expect(after.current).toHaveLength(1);
      expect(after.readable).toBe(true);
      expect(after.rows.filter((r) => r.stage === 'pending')).toEqual([]);
      expect(after.rows.filter((r) => r.stage === 'previous').length).toBeLessThanOrEqual(1);
      expect(after.rotations.filter((r) => r.state === 'running')).toEqual([]);
      if (expected === 'old') expect(after.current[0]!.id).toBe(oldCurrent);
      else expect(after.current[0]!.id).not.toBe(oldCurrent);
      // A rotation that had to be rolled back did not happen: monitoring must say so.
      const check = await p.cli(['check', '--json']);
      const row = JSON.parse(check.stdout).problems?.find(
        (r: { secret: string; environment: string }) =>
          r.secret === SECRET && r.environment === ENV,
      );
      if (expected === 'old') {
        expect(check.code).toBe(2);
        expect(row?.problem, check.stdout).toBe('failed');
      } else expect(row?.problem ?? 'ok').not.toBe('failed');

      // The stale lock of the dead process does not block the next rotation.
      const next = await p.cli(['rotate', SECRET, '--env', ENV, '--json']);
      expect(next.code, next.stdout + next.stderr).toBe(0);
    });
  }

  it('finishes an interrupted emergency rotation by revoking the old version', async () => {
    const p = await createProject();
    const rotor = p.rotor();
    await createRotationEngine({ rotor }).rotate(actor, {
      secret: SECRET,
      environments: [ENV],
      method: 'manual',
    });
    await rotor.close();
    const child = crashAt(p, 'promote:done', 'emergency');
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const resumed = await p.cli(['resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await snapshot(p);
    expect(after.rows.map((r) => [r.stage, r.compromised])).toEqual([
      ['retired', 1],
      ['current', 0],
    ]);
  });
});
