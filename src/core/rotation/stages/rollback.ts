// Rolling back a promotion whose staged flow failed: the environment goes back to the previous
// version (still valid, its grace has just begun), its deploy hooks run again, the new one is revoked.
import { appendAudit, recordAudit } from '../../audit/audit-log.js';
import { RotorError } from '../../errors.js';
import { getVersion, moveStage, versionInStage, type VersionRow } from '../../vault/versions.js';
import { endRotation, failPromoted } from '../journal.js';
import { retireVersion } from '../retire.js';
import {
  errorInfo,
  stored,
  where,
  type EngineServices,
  type RotationRun,
} from '../rotation-run.js';
import { runStep } from './run-step.js';
import { stepDeps, stepsFor, stepTarget } from './staged-flow.js';

/**
 * Answers the error to throw. The new version is revoked (or, while it still has live sessions,
 * left for the next `rotor retire`). Without a previous version there is nothing to go back to:
 * the rotation fails with the new version current.
 */
export async function rollBackPromotion(
  services: EngineServices,
  run: RotationRun,
  failure: RotorError,
): Promise<RotorError> {
  services.progress({ ...where(run), step: 'rollback', phase: 'start' });
  const previous = await versionInStage(run.store.db, run.spec.name, run.environment, 'previous');
  if (!previous || previous.stage !== 'previous' || !previous.ciphertext) {
    await failPromoted(
      services,
      run,
      failure,
      `${failure.message}; there is no previous version to go back to, so version ${run.versionId} stays current: fix the failing step and run it by hand`,
    );
    services.progress({
      ...where(run),
      step: 'rollback',
      phase: 'failed',
      detail: 'no previous version',
    });
    return new RotorError(
      'ERR_ROTOR_STAGE_FAILED',
      `${failure.message}; no previous version to roll back to, the new version stays current`,
      { cause: failure, details: failure.details },
    );
  }
  await restorePrevious(services, run, previous, failure);
  await services.hook('rollback:done');
  await redeploy(services, run, previous);
  const rolledBack = await getVersion(run.store.db, run.versionId);
  if (rolledBack?.stage === 'previous') {
    await retireVersion(services, run, rolledBack, {
      compromised: false,
      early: false,
      reason: `rolled back: ${failure.message}`,
    });
  }
  services.progress({ ...where(run), step: 'rollback', phase: 'done' });
  return new RotorError(
    'ERR_ROTOR_STAGE_FAILED',
    `${failure.message}; rolled back: ${run.environment} is on the previous version again`,
    { cause: failure, details: failure.details },
  );
}

/**
 * Swaps stages in one transaction: the previous version is current again; the new one becomes
 * previous with its grace already over, so a postponed revocation is finished by the next retire.
 */
async function restorePrevious(
  services: EngineServices,
  run: RotationRun,
  previous: VersionRow,
  failure: RotorError,
): Promise<void> {
  const { rotor } = services;
  const now = rotor.clock.now();
  await run.store.writeTransaction(async (trx) => {
    await moveStage(trx, {
      id: previous.id,
      from: 'previous',
      to: 'current',
      set: { retire_at: null },
    });
    await moveStage(trx, {
      id: run.versionId,
      from: 'current',
      to: 'previous',
      set: { retire_at: now },
    });
    await endRotation(trx, run, { state: 'rolled_back', at: now, error: failure });
    await appendAudit(trx, rotor.clock, run.actor, {
      ...where(run),
      action: 'rotate.rollback',
      outcome: 'failure',
      notes: `${failure.message}; ${run.environment} is back on version ${previous.id}, which was still valid`,
      details: {
        rotation: run.rotationId,
        version: run.versionId,
        restored: previous.id,
        error: failure.code,
      },
    });
  });
}

/** The app was told about the new value; its deploy hooks now get the restored one (failures are warnings). */
async function redeploy(
  services: EngineServices,
  run: RotationRun,
  previous: VersionRow,
): Promise<void> {
  const restored = stored(run.master, previous);
  const abandoned = await getVersion(run.store.db, run.versionId);
  const target = stepTarget(run, restored, abandoned);
  const deps = stepDeps(services, run, restored);
  for (const step of stepsFor(run.spec, run.environment, 'deploy')) {
    try {
      await runStep(step, target, deps);
    } catch (error) {
      await recordAudit(run.store, services.rotor.clock, run.actor, {
        ...where(run),
        action: 'rotate.redeploy',
        outcome: 'failure',
        notes: `warning: ${errorInfo(error).message}`,
        details: { rotation: run.rotationId, version: previous.id },
      });
    }
  }
}
