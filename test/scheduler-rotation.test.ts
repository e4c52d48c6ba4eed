import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { RotorError } from '../src/core/errors.js';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import type { AnyRotator } from '../src/core/rotator/rotator-contract.js';
import { insideWindow, nextWindowStart } from '../src/core/scheduler/maintenance-window.js';
import { normalizeWindow } from '../src/core/policy/schedule-schema.js';
import { createScheduler } from '../src/core/scheduler/scheduler.js';
import { randomRotator } from '../src/rotators/random.js';
import { ROTATORS } from '../src/rotators/registry.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import { auditEntries, rotorWithLogs } from './scheduler-helpers.js';
import { entryArgs } from './helpers/spawned-entries.js';

const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);

function tokenPolicy(extra: string, top = ''): string {
  return `version: 1
environments: [production]
${top}secrets:
  TOKEN:
    kind: random
    cadence: 30d
${extra}
  PARTNER_KEY:
    kind: manual
    cadence: 30d
`;
}

async function currentValue(p: TestProject): Promise<string> {
  const got = await p.cli(['get', 'TOKEN', '--env', 'production']);
  expect(got.code, got.stderr).toBe(0);
  return got.stdout.trim();
}

async function rotations(p: TestProject) {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db
    .selectFrom('rotations')
    .select(['secret', 'environment', 'method', 'state'])
    .orderBy('started_at')
    .execute();
  await rotor.close();
  return rows;
}

describe('maintenance windows', () => {
  const berlin = normalizeWindow({
    days: ['sun'],
    hours: '02:30-04:00',
    timezone: 'Europe/Berlin',
  });
  const overnight = normalizeWindow({
    days: ['sat'],
    hours: '23:00-01:00',
    timezone: 'America/New_York',
  });

  it('follow the time zone across a daylight-saving change (Europe/Berlin, 29 March 2026: 02:00 → 03:00)', () => {
    // A winter Sunday: CET, UTC+1.
    expect(insideWindow(berlin, at('2026-03-22T01:15:00Z'))).toBe(false); // 02:15
    expect(insideWindow(berlin, at('2026-03-22T01:45:00Z'))).toBe(true); // 02:45
    expect(insideWindow(berlin, at('2026-03-22T02:59:00Z'))).toBe(true); // 03:59
    // The change night: 02:30 local never happens; the window is 03:00-04:00 CEST.
    expect(insideWindow(berlin, at('2026-03-29T00:45:00Z'))).toBe(false); // 01:45 CET
    expect(insideWindow(berlin, at('2026-03-29T01:00:00Z'))).toBe(true); // 03:00 CEST
    expect(insideWindow(berlin, at('2026-03-29T02:00:00Z'))).toBe(false); // 04:00 CEST
    expect(nextWindowStart(berlin, at('2026-03-29T00:45:00Z'))).toBe(at('2026-03-29T01:00:00Z'));
    // A summer Sunday: CEST, UTC+2, so 00:45Z is already inside.
    expect(insideWindow(berlin, at('2026-04-05T00:45:00Z'))).toBe(true); // 02:45
    expect(nextWindowStart(berlin, at('2026-03-30T12:00:00Z'))).toBe(at('2026-04-05T00:30:00Z'));
  });

  it('crossing midnight belong to the day they open on', () => {
    expect(insideWindow(overnight, at('2026-01-31T03:30:00Z'))).toBe(false); // Fri 22:30
    expect(insideWindow(overnight, at('2026-01-31T05:30:00Z'))).toBe(false); // Sat 00:30: Friday's window is not listed
    expect(insideWindow(overnight, at('2026-02-01T04:30:00Z'))).toBe(true); // Sat 23:30
    expect(insideWindow(overnight, at('2026-02-01T05:30:00Z'))).toBe(true); // Sun 00:30
    expect(insideWindow(overnight, at('2026-02-01T06:00:00Z'))).toBe(false); // Sun 01:00
    expect(insideWindow(overnight, at('2026-02-02T04:30:00Z'))).toBe(false); // Sun 23:30
    expect(nextWindowStart(overnight, at('2026-01-31T05:30:00Z'))).toBe(at('2026-02-01T04:00:00Z'));
  });
});

describe('scheduled rotations', { timeout: 60_000 }, () => {
  it('rotate a due secret only at or after its target age and only inside its window, here across the DST change in Europe/Berlin; manual secrets are never rotated', async () => {
    const p = await createProject({
      start: at('2026-02-20T12:00:00Z'),
      policy: tokenPolicy(
        '    window: { days: [sun], hours: "02:30-04:00", timezone: Europe/Berlin }',
      ),
    });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const imported = await p.cli(
      ['import', 'PARTNER_KEY', '--env', 'production', '--rotated-at', '2026-01-01'],
      { stdin: 'partner-key-value-1' },
    );
    expect(imported.code, imported.stderr).toBe(0);
    const before = await currentValue(p);
    const { rotor, logs } = rotorWithLogs(p);
    const scheduler = createScheduler({ rotor });

    p.clock.set(at('2026-03-15T01:45:00Z')); // inside the window, due soon: not yet
    expect((await scheduler.tick()).rotations).toEqual([]);
    p.clock.set(at('2026-03-22T01:45:00Z')); // inside the window, due at 12:00: not yet
    expect((await scheduler.tick()).rotations).toEqual([]);
    p.clock.set(at('2026-03-29T00:45:00Z')); // due, but 01:45 CET is before the window
    const waiting = await scheduler.tick();
    expect(waiting.rotations).toEqual([]);
    expect(waiting.waiting).toEqual([
      {
        secret: 'TOKEN',
        environment: 'production',
        reason: 'outside-window',
        until: '2026-03-29T01:00:00.000Z',
        detail: 'maintenance window sun 02:30-04:00 Europe/Berlin',
      },
    ]);
    p.clock.set(at('2026-03-29T01:00:00Z')); // 03:00 CEST: the window is open
    const done = await scheduler.tick();
    expect(done.rotations).toMatchObject([
      { secret: 'TOKEN', environment: 'production', outcome: 'rotated', attempt: 1 },
    ]);
    const after = await currentValue(p);
    expect(after).not.toBe(before);
    expect((await scheduler.tick()).rotations).toEqual([]);

    expect(await rotations(p)).toEqual([
      { secret: 'TOKEN', environment: 'production', method: 'manual', state: 'succeeded' },
      { secret: 'TOKEN', environment: 'production', method: 'scheduled', state: 'succeeded' },
    ]);
    const audit = await auditEntries(rotor);
    const start = audit.find((e) => e.action === 'rotate.start' && e.method === 'scheduled')!;
    expect(start.secret).toBe('TOKEN');
    const everything = [...audit.map((e) => e.raw), ...logs, JSON.stringify(done)].join('\n');
    for (const value of [before, after, 'partner-key-value-1'])
      expect(everything).not.toContain(value);
    await scheduler.stop();
    await rotor.close();
  });

  it('a window crossing midnight in America/New_York lets the rotation start after midnight on the day after a listed day', async () => {
    const p = await createProject({
      start: at('2026-01-01T00:00:00Z'),
      policy: tokenPolicy(
        '    window: { days: [sat], hours: "23:00-01:00", timezone: America/New_York }',
      ),
    });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const scheduler = createScheduler({ rotor: p.rotor() });
    p.clock.set(at('2026-01-31T05:30:00Z')); // Saturday 00:30: the early part of Friday's window, not listed
    expect((await scheduler.tick()).waiting).toMatchObject([
      { secret: 'TOKEN', reason: 'outside-window', until: '2026-02-01T04:00:00.000Z' },
    ]);
    p.clock.set(at('2026-02-01T05:30:00Z')); // Sunday 00:30: Saturday's window, after midnight
    expect((await scheduler.tick()).rotations).toMatchObject([
      { secret: 'TOKEN', outcome: 'rotated' },
    ]);
    await scheduler.stop();
  });

  it('auto: false keeps the scheduler from rotating a generated secret', async () => {
    const p = await createProject({ policy: tokenPolicy('    auto: false') });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const scheduler = createScheduler({ rotor: p.rotor() });
    p.clock.advance(40 * DAY);
    const report = await scheduler.tick();
    expect(report.rotations).toEqual([]);
    expect(report.reminders).toMatchObject([
      { secret: 'TOKEN', slot: 'overdue-10', outcome: 'no-channel' },
    ]);
    expect(await rotations(p)).toHaveLength(1);
    await scheduler.stop();
  });

  it('retires previous versions whose grace has passed, and tries a postponed one again next tick', async () => {
    const p = await createProject({ policy: tokenPolicy('    grace: 1h') });
    const state = { inUse: true };
    const sticky: AnyRotator = {
      ...randomRotator,
      async retire() {
        if (state.inUse)
          throw new RotorError(
            'ERR_ROTOR_RETIRE_POSTPONED',
            'the old token still has live sessions',
          );
      },
    };
    const { rotor } = rotorWithLogs(
      p,
      ROTATORS.map((r) => (r.kind === 'random' ? sticky : r)),
    );
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const scheduler = createScheduler({ rotor });
    p.clock.advance(30 * MIN);
    expect((await scheduler.tick()).retired).toEqual([]);
    p.clock.advance(31 * MIN);
    const postponed = await scheduler.tick();
    expect(postponed.retired).toMatchObject([
      { secret: 'TOKEN', environment: 'production', postponed: true },
    ]);
    state.inUse = false;
    p.clock.advance(MIN);
    const retired = await scheduler.tick();
    expect(retired.retired).toEqual([
      {
        secret: 'TOKEN',
        environment: 'production',
        versionId: postponed.retired[0]!.versionId,
        early: false,
      },
    ]);
    expect((await scheduler.tick()).retired).toEqual([]);
    const actions = (await auditEntries(rotor))
      .filter((e) => e.action.startsWith('retire'))
      .map((e) => [e.action, e.method]);
    expect(actions.slice(-2)).toEqual([
      ['retire.postponed', 'scheduled'],
      ['retire', 'scheduled'],
    ]);
    await scheduler.stop();
    await rotor.close();
  });

  it('finishes a rotation whose process was killed after verify', async () => {
    const p = await createProject({ policy: tokenPolicy('') });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const before = await currentValue(p);
    const child = spawnSync(
      process.execPath,
      [
        ...entryArgs('crash-rotate'),
        p.dir,
        'verify:done',
        'TOKEN',
        'production',
        'normal',
        String(p.clock.now()),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, ...p.env },
        timeout: 60_000,
      },
    );
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect((await rotations(p)).at(-1)!.state).toBe('running');
    const scheduler = createScheduler({ rotor: p.rotor() });
    const report = await scheduler.tick();
    expect(report.resumed).toMatchObject([
      { secret: 'TOKEN', environment: 'production', action: 'completed' },
    ]);
    expect((await rotations(p)).at(-1)!.state).toBe('succeeded');
    expect(await currentValue(p)).not.toBe(before);
    await scheduler.stop();
  });

  it('retries a failing scheduled rotation with exponential backoff (kept in the store across restarts), gives up after the retries, and rotor check is CRITICAL', async () => {
    const p = await createProject({
      policy: tokenPolicy('', 'scheduler: { retries: 2, backoff: 15m }\n'),
    });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const state = { fail: true };
    const failing: AnyRotator = {
      ...randomRotator,
      async verify(ctx, material) {
        if (state.fail)
          throw new RotorError('ERR_ROTOR_VERIFY_FAILED', 'the target refused the new key');
        return randomRotator.verify(ctx, material);
      },
    };
    const rotators = ROTATORS.map((r) => (r.kind === 'random' ? failing : r));
    // Every tick from a fresh process-like instance: nothing survives but the store.
    const tickFresh = async () => {
      const { rotor } = rotorWithLogs(p, rotators);
      const scheduler = createScheduler({ rotor });
      try {
        return await scheduler.tick();
      } finally {
        await scheduler.stop();
        await rotor.close();
      }
    };
    const due = p.clock.now() + 30 * DAY;
    p.clock.set(due);
    const first = await tickFresh();
    expect(first.rotations).toEqual([
      {
        secret: 'TOKEN',
        environment: 'production',
        outcome: 'failed',
        attempt: 1,
        rotationId: expect.any(String),
        nextAttemptAt: new Date(due + 15 * MIN).toISOString(),
        error: { code: 'ERR_ROTOR_VERIFY_FAILED', message: 'the target refused the new key' },
      },
    ]);
    expect((await p.cli(['check'])).code).toBe(2);

    p.clock.set(due + 14 * MIN);
    expect((await tickFresh()).waiting).toMatchObject([
      { secret: 'TOKEN', reason: 'backoff', until: new Date(due + 15 * MIN).toISOString() },
    ]);
    p.clock.set(due + 15 * MIN);
    expect((await tickFresh()).rotations).toMatchObject([
      { outcome: 'failed', attempt: 2, nextAttemptAt: new Date(due + 45 * MIN).toISOString() },
    ]);
    p.clock.set(due + 44 * MIN);
    expect((await tickFresh()).rotations).toEqual([]);
    p.clock.set(due + 45 * MIN);
    expect((await tickFresh()).rotations).toMatchObject([{ outcome: 'gave-up', attempt: 3 }]);
    p.clock.set(due + 2 * DAY);
    state.fail = false; // fixed, but the scheduler has given up: a person rotates it
    const afterGivingUp = await tickFresh();
    expect(afterGivingUp.waiting).toMatchObject([{ secret: 'TOKEN', reason: 'gave-up' }]);
    // A person has to act now: the secret gets reminders like a manual one.
    expect(afterGivingUp.reminders).toEqual([
      {
        secret: 'TOKEN',
        environment: 'production',
        slot: 'overdue-2',
        channel: 'none',
        target: '',
        outcome: 'no-channel',
      },
    ]);
    expect(await rotations(p)).toHaveLength(4);

    const check = await p.cli(['check']);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('TOKEN/production');
    const { rotor } = rotorWithLogs(p, rotators);
    const scheduler = (await auditEntries(rotor)).filter((e) => e.action.startsWith('scheduler.'));
    expect(scheduler.map((e) => [e.action, e.outcome, e.details.attempt])).toEqual([
      ['scheduler.retry', 'info', 1],
      ['scheduler.retry', 'info', 2],
      ['scheduler.gave-up', 'failure', 3],
    ]);
    await rotor.close();

    // A rotation by hand succeeds and starts a new cycle: check is no longer critical.
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    expect((await p.cli(['check'])).code).not.toBe(2);
  });

  it('a phase that fails is reported and the later phases still run', async () => {
    const p = await createProject({ policy: tokenPolicy('') });
    expect((await p.cli(['rotate', 'TOKEN'])).code).toBe(0);
    const rotor = p.rotor();
    const real = createRotationEngine({ rotor });
    const engine = {
      ...real,
      async resume(): Promise<never> {
        throw new RotorError('ERR_ROTOR_STORE_CORRUPT', 'the journal could not be read');
      },
    };
    const scheduler = createScheduler({ rotor, engine });
    p.clock.advance(30 * DAY);
    const report = await scheduler.tick();
    expect(report.errors).toEqual([
      {
        phase: 'resume',
        code: 'ERR_ROTOR_STORE_CORRUPT',
        message: 'the journal could not be read',
      },
    ]);
    expect(report.rotations).toMatchObject([{ secret: 'TOKEN', outcome: 'rotated' }]);
    await scheduler.stop();
    await rotor.close();
  });
});
