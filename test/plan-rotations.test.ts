// planRotations decides what a scheduler tick rotates and why the rest waits, from values alone.
import { describe, expect, it } from 'vitest';
import { MS } from '../src/core/duration.js';
import {
  manualReason,
  nextAttempt,
  planRotations,
  type AttemptRow,
  type PlanPolicy,
  type PlannedSpec,
} from '../src/core/scheduler/plan-rotations.js';
import { normalizeWindow } from '../src/core/policy/schedule-schema.js';
import type { StatusRow } from '../src/core/status/status.js';

const NOW = Date.parse('2026-03-04T12:00:00Z'); // a Wednesday
const ROTATED = NOW - 100 * MS.d;

function row(over: Partial<StatusRow> & Pick<StatusRow, 'secret' | 'environment'>): StatusRow {
  return {
    kind: 'random',
    state: 'due',
    ageState: 'due',
    owner: null,
    currentSince: ROTATED,
    rotatedAt: ROTATED,
    ageMs: NOW - ROTATED,
    dueSoonAt: ROTATED + 76 * MS.d,
    nextDueAt: ROTATED + 90 * MS.d,
    overdueAt: ROTATED + 181 * MS.d,
    graceUntil: null,
    rotation: null,
    alerts: [],
    ...over,
  };
}

function attempt(over: Partial<AttemptRow> & Pick<AttemptRow, 'secret' | 'environment'>) {
  return {
    cycle: ROTATED,
    attempts: 1,
    state: 'retrying',
    last_attempt_at: NOW - MS.h,
    next_attempt_at: NOW - MS.m,
    last_error: 'ERR_ROTOR_TARGET_UNREACHABLE: connection refused',
    ...over,
  } satisfies AttemptRow;
}

function policy(secrets: Record<string, PlannedSpec>): PlanPolicy {
  return {
    environments: ['staging', 'production'],
    secrets: new Map(Object.entries(secrets)),
    retries: 3,
    generatedKinds: new Set(['random', 'jwt-hmac']),
  };
}

const RANDOM: PlannedSpec = { kind: 'random' };

describe('planRotations', () => {
  it('rotates the due and overdue environments of a secret in policy order, in one rotation', () => {
    const plan = planRotations(
      [
        row({ secret: 'SESSION_SECRET', environment: 'production', ageState: 'overdue' }),
        row({ secret: 'SESSION_SECRET', environment: 'staging' }),
      ],
      [],
      policy({ SESSION_SECRET: RANDOM }),
      NOW,
    );
    expect(plan.waiting).toEqual([]);
    expect(plan.rotate).toEqual([
      {
        secret: 'SESSION_SECRET',
        environments: ['staging', 'production'],
        cycles: new Map([
          ['production', { cycle: ROTATED, attempts: 0 }],
          ['staging', { cycle: ROTATED, attempts: 0 }],
        ]),
      },
    ]);
  });

  it('leaves rows that are ok or only due soon alone', () => {
    const plan = planRotations(
      [
        row({ secret: 'A', environment: 'staging', ageState: 'ok' }),
        row({ secret: 'A', environment: 'production', ageState: 'due-soon' }),
        row({ secret: 'B', environment: 'staging', ageState: 'unknown', rotatedAt: null }),
      ],
      [],
      policy({ A: RANDOM, B: RANDOM }),
      NOW,
    );
    expect(plan).toEqual({ rotate: [], waiting: [] });
  });

  it('never plans what a person rotates: operator kinds, auto: false, the master key, secrets no longer in the policy', () => {
    const plan = planRotations(
      [
        row({ secret: 'SMTP_PASSWORD', environment: 'staging' }),
        row({ secret: 'LEGACY', environment: 'staging' }),
        row({ secret: 'ROTOR_MASTER_KEY', environment: '*' }),
        row({ secret: 'REMOVED', environment: 'staging' }),
      ],
      [],
      policy({
        SMTP_PASSWORD: { kind: 'manual' },
        LEGACY: { kind: 'random', auto: false },
        ROTOR_MASTER_KEY: { kind: 'master-key' },
      }),
      NOW,
    );
    expect(plan).toEqual({ rotate: [], waiting: [] });
  });

  it('reports a running rotation as busy and skips a standby one silently (resume promotes it)', () => {
    const rotation = (state: 'running' | 'waiting') => ({
      id: `rot-${state}`,
      state,
      step: 'apply' as const,
      startedAt: NOW - MS.m,
      updatedAt: NOW - MS.m,
      finishedAt: null,
      errorCode: null,
      stuck: false,
      promoteAfter: null,
    });
    const plan = planRotations(
      [
        row({ secret: 'A', environment: 'staging', rotation: rotation('running') }),
        row({ secret: 'B', environment: 'staging', rotation: rotation('waiting') }),
      ],
      [],
      policy({ A: RANDOM, B: RANDOM }),
      NOW,
    );
    expect(plan).toEqual({
      rotate: [],
      waiting: [
        {
          secret: 'A',
          environment: 'staging',
          reason: 'busy',
          detail: 'rotation rot-running is running',
        },
      ],
    });
  });

  it('gives up for the cycle once the attempts are used up, naming the last error', () => {
    const plan = planRotations(
      [row({ secret: 'A', environment: 'staging' })],
      [attempt({ secret: 'A', environment: 'staging', attempts: 4, state: 'failed' })],
      policy({ A: RANDOM }),
      NOW,
    );
    expect(plan.rotate).toEqual([]);
    expect(plan.waiting).toEqual([
      {
        secret: 'A',
        environment: 'staging',
        reason: 'gave-up',
        detail:
          'gave up after 4 failed attempt(s): ERR_ROTOR_TARGET_UNREACHABLE: connection refused; rotate it by hand',
      },
    ]);
  });

  it('waits out a backoff, then retries counting the attempts already made', () => {
    const next = NOW + 30 * MS.m;
    const backingOff = planRotations(
      [row({ secret: 'A', environment: 'staging' })],
      [attempt({ secret: 'A', environment: 'staging', next_attempt_at: next })],
      policy({ A: RANDOM }),
      NOW,
    );
    expect(backingOff).toEqual({
      rotate: [],
      waiting: [
        {
          secret: 'A',
          environment: 'staging',
          reason: 'backoff',
          until: '2026-03-04T12:30:00.000Z',
          detail: 'attempt 2 of 4 from 2026-03-04T12:30:00.000Z',
        },
      ],
    });
    const retrying = planRotations(
      [row({ secret: 'A', environment: 'staging' })],
      [attempt({ secret: 'A', environment: 'staging', attempts: 2 })],
      policy({ A: RANDOM }),
      NOW,
    );
    expect(retrying.waiting).toEqual([]);
    expect(retrying.rotate[0]?.cycles.get('staging')).toEqual({ cycle: ROTATED, attempts: 2 });
  });

  it('ignores attempts of an earlier cadence cycle', () => {
    const plan = planRotations(
      [row({ secret: 'A', environment: 'staging' })],
      [
        attempt({
          secret: 'A',
          environment: 'staging',
          cycle: ROTATED - 90 * MS.d,
          state: 'failed',
        }),
      ],
      policy({ A: RANDOM }),
      NOW,
    );
    expect(plan.waiting).toEqual([]);
    expect(plan.rotate.map((p) => p.secret)).toEqual(['A']);
  });

  it('holds a due secret until its maintenance window opens, saying when', () => {
    const window = normalizeWindow({ days: ['sat'], hours: '02:00-05:00' });
    const plan = planRotations(
      [row({ secret: 'DATABASE_URL', environment: 'production' })],
      [],
      policy({ DATABASE_URL: { kind: 'random', window } }),
      NOW,
    );
    expect(plan).toEqual({
      rotate: [],
      waiting: [
        {
          secret: 'DATABASE_URL',
          environment: 'production',
          reason: 'outside-window',
          until: '2026-03-07T02:00:00.000Z',
          detail: 'maintenance window sat 02:00-05:00 UTC',
        },
      ],
    });
    const inside = Date.parse('2026-03-07T03:00:00Z');
    const open = planRotations(
      [row({ secret: 'DATABASE_URL', environment: 'production' })],
      [],
      policy({ DATABASE_URL: { kind: 'random', window } }),
      inside,
    );
    expect(open.rotate.map((p) => p.environments)).toEqual([['production']]);
  });
});

describe('nextAttempt', () => {
  it('backs off exponentially from backoffMs and gives up after the retries', () => {
    const settings = { retries: 3, backoffMs: 15 * MS.m };
    expect(nextAttempt(0, settings, NOW)).toEqual({
      attempt: 1,
      giveUp: false,
      next: NOW + 15 * MS.m,
    });
    expect(nextAttempt(1, settings, NOW)).toEqual({
      attempt: 2,
      giveUp: false,
      next: NOW + 30 * MS.m,
    });
    expect(nextAttempt(2, settings, NOW)).toEqual({
      attempt: 3,
      giveUp: false,
      next: NOW + 60 * MS.m,
    });
    expect(nextAttempt(3, settings, NOW)).toEqual({ attempt: 4, giveUp: true, next: null });
  });

  it('with no retries, the first failure gives up', () => {
    expect(nextAttempt(0, { retries: 0, backoffMs: MS.m }, NOW)).toEqual({
      attempt: 1,
      giveUp: true,
      next: null,
    });
  });
});

describe('manualReason', () => {
  const generated = new Set(['random']);
  it('names why a person rotates a secret, or nothing when the scheduler does', () => {
    expect(manualReason({ kind: 'random' }, generated)).toBeUndefined();
    expect(manualReason({ kind: 'random', auto: false }, generated)).toBe('auto-disabled');
    expect(manualReason({ kind: 'manual' }, generated)).toBe('operator');
    expect(manualReason({ kind: 'master-key' }, generated)).toBe('master-key');
  });
});
