// The per-environment answers of `rotate`, built from what the steps returned (no I/O).
import { formatDuration } from '../duration.js';
import type { Promoted } from './promote.js';
import type { EnvironmentResult } from './rotation-types.js';

interface Where {
  environment: string;
  rotationId: string;
  /** `performance.now()` when the environment's rotation began. */
  started: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function elapsed(where: Where): number {
  return performance.now() - where.started;
}

export function succeededResult(
  where: Where,
  versionId: string,
  next: Promoted,
  emergency: boolean,
): EnvironmentResult {
  const { promoted, finished } = next;
  return {
    environment: where.environment,
    rotationId: where.rotationId,
    outcome: 'succeeded',
    versionId,
    ...(promoted.previousId ? { previousVersionId: promoted.previousId } : {}),
    retiredVersionIds: [...promoted.retired, ...finished.retired],
    ...(promoted.graceUntil ? { graceUntil: iso(promoted.graceUntil) } : {}),
    ...(emergency ? { emergencyActions: finished.actions } : {}),
    ms: elapsed(where),
  };
}

export function standbyResult(
  where: Where,
  versionId: string,
  promoteAfter: number,
): EnvironmentResult {
  return {
    environment: where.environment,
    rotationId: where.rotationId,
    outcome: 'standby',
    versionId,
    promoteAfter: iso(promoteAfter),
    retiredVersionIds: [],
    ms: elapsed(where),
  };
}

/** Asked to continue a standby rotation before its publish-ahead time: nothing changed. */
export function waitingResult(
  where: Where,
  versionId: string,
  wait: { promoteAfter: number; now: number },
): EnvironmentResult {
  const at = iso(wait.promoteAfter);
  return {
    environment: where.environment,
    rotationId: where.rotationId,
    outcome: 'waiting',
    versionId,
    promoteAfter: at,
    retiredVersionIds: [],
    error: {
      code: 'ERR_ROTOR_ROTATION_WAITING',
      message: `standby version ${versionId} is published but may become current only from ${at} (in ${formatDuration(wait.promoteAfter - wait.now)}), so that verifiers' key caches hold it: run this again then`,
    },
    ms: elapsed(where),
  };
}

export function failedResult(
  where: Where,
  error: { code: string; message: string },
): EnvironmentResult {
  return {
    environment: where.environment,
    rotationId: where.rotationId,
    outcome: 'failed',
    retiredVersionIds: [],
    error,
    ms: elapsed(where),
  };
}

export function skippedResult(environment: string): EnvironmentResult {
  return { environment, rotationId: '', outcome: 'skipped', retiredVersionIds: [], ms: 0 };
}
