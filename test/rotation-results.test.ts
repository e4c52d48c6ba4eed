// The engine's pure parts: the per-environment answers of `rotate` and which staged steps run where.
import { describe, expect, it } from 'vitest';
import {
  failedResult,
  skippedResult,
  standbyResult,
  succeededResult,
  waitingResult,
} from '../src/core/rotation/rotation-results.js';
import { stepsFor } from '../src/core/rotation/stages/staged-flow.js';
import type { StageStep } from '../src/core/policy/stage-schema.js';

const where = { environment: 'production', rotationId: 'rot-1', started: performance.now() };
const T = Date.parse('2026-05-01T10:00:00Z');

describe('rotation results', () => {
  it('a success names the new, previous and retired versions and the end of the grace window', () => {
    const result = succeededResult(
      where,
      'v-new',
      {
        parked: false,
        promoted: { previousId: 'v-old', retired: ['v-older'], graceUntil: T },
        finished: { retired: [], actions: [] },
      },
      false,
    );
    expect(result).toEqual({
      environment: 'production',
      rotationId: 'rot-1',
      outcome: 'succeeded',
      versionId: 'v-new',
      previousVersionId: 'v-old',
      retiredVersionIds: ['v-older'],
      graceUntil: '2026-05-01T10:00:00.000Z',
      ms: expect.any(Number) as number,
    });
  });

  it('an emergency success lists what the emergency revoked and did, and has no grace window', () => {
    const result = succeededResult(
      where,
      'v-new',
      {
        parked: false,
        promoted: { previousId: 'v-old', retired: [] },
        finished: { retired: ['v-old'], actions: ['revoked 3 sessions'] },
      },
      true,
    );
    expect(result.retiredVersionIds).toEqual(['v-old']);
    expect(result.emergencyActions).toEqual(['revoked 3 sessions']);
    expect(result.graceUntil).toBeUndefined();
  });

  it('a first version has no previous version', () => {
    const result = succeededResult(
      where,
      'v-1',
      {
        parked: false,
        promoted: { retired: [] },
        finished: { retired: [], actions: [] },
      },
      false,
    );
    expect(Object.keys(result).sort()).toEqual(
      ['environment', 'ms', 'outcome', 'retiredVersionIds', 'rotationId', 'versionId'].sort(),
    );
  });

  it('standby says from when the version may become current', () => {
    expect(standbyResult(where, 'v-new', T)).toMatchObject({
      outcome: 'standby',
      versionId: 'v-new',
      promoteAfter: '2026-05-01T10:00:00.000Z',
      retiredVersionIds: [],
    });
  });

  it('waiting explains, with the time left, that nothing changed', () => {
    const result = waitingResult(where, 'v-new', { promoteAfter: T, now: T - 2 * 3_600_000 });
    expect(result.outcome).toBe('waiting');
    expect(result.promoteAfter).toBe('2026-05-01T10:00:00.000Z');
    expect(result.error?.code).toBe('ERR_ROTOR_ROTATION_WAITING');
    expect(result.error?.message).toBe(
      "standby version v-new is published but may become current only from 2026-05-01T10:00:00.000Z (in 2h), so that verifiers' key caches hold it: run this again then",
    );
  });

  it('failed and skipped carry no versions', () => {
    const error = { code: 'ERR_ROTOR_VERIFY_FAILED', message: 'login refused' };
    expect(failedResult(where, error)).toMatchObject({
      outcome: 'failed',
      rotationId: 'rot-1',
      retiredVersionIds: [],
      error,
    });
    expect(skippedResult('staging')).toEqual({
      environment: 'staging',
      rotationId: '',
      outcome: 'skipped',
      retiredVersionIds: [],
      ms: 0,
    });
  });
});

describe('stepsFor', () => {
  const step = (name: string, stage: StageStep['stage'], environments?: string[]) =>
    ({ name, stage, ...(environments ? { environments } : {}) }) as StageStep;
  const spec = {
    stages: [
      step('restart api', 'deploy'),
      step('restart worker', 'deploy', ['production']),
      step('login works', 'smoke', ['staging']),
      step('healthz', 'health'),
    ],
  };

  it('keeps the steps of an environment in order, those without environments everywhere', () => {
    expect(stepsFor(spec, 'production').map((s) => s.name)).toEqual([
      'restart api',
      'restart worker',
      'healthz',
    ]);
    expect(stepsFor(spec, 'staging').map((s) => s.name)).toEqual([
      'restart api',
      'login works',
      'healthz',
    ]);
  });

  it('narrows to one stage (the deploy hooks a rollback runs again)', () => {
    expect(stepsFor(spec, 'production', 'deploy').map((s) => s.name)).toEqual([
      'restart api',
      'restart worker',
    ]);
  });
});
