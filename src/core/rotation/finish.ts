// After promotion: an emergency revokes the old version at once and runs the kind's actions,
// then the staged flow runs, and the rotation ends succeeded, rolled back or failed.
import { sessionRevoker } from '../sessions/open-session-store.js';
import { versionInStage } from '../vault/versions.js';
import { failPromoted, recordSucceeded } from './journal.js';
import { retireVersion } from './retire.js';
import { rotatorContext, where, type EngineServices, type RotationRun } from './rotation-run.js';
import { rollBackPromotion } from './stages/rollback.js';
import { runStages } from './stages/staged-flow.js';

export interface FinishResult {
  /** Versions revoked by the emergency. */
  retired: string[];
  /** What the kind's emergency actions did. */
  actions: string[];
}

/**
 * A failing staged step rolls the environment back (or, in an emergency, whose old version is
 * revoked, fails the rotation with the new version current) and throws.
 */
export async function finish(services: EngineServices, run: RotationRun): Promise<FinishResult> {
  const done = run.emergency ? await emergency(services, run) : { retired: [], actions: [] };
  const failure = await runStages(services, run);
  if (failure && !run.emergency) throw await rollBackPromotion(services, run, failure);
  if (failure) {
    await failPromoted(
      services,
      run,
      failure,
      `${failure.message}; emergency: the new version stays current and the old one stays revoked, so fix the failing step and redeploy`,
    );
    throw failure;
  }
  await recordSucceeded(services, run, done);
  return done;
}

/** The previous version revoked at once, then the kind's emergency actions. */
async function emergency(services: EngineServices, run: RotationRun): Promise<FinishResult> {
  const { rotor } = services;
  const retired: string[] = [];
  const actions: string[] = [];
  services.progress({ ...where(run), step: 'emergency', phase: 'start' });
  const previous = await versionInStage(run.store.db, run.spec.name, run.environment, 'previous');
  if (previous) {
    await retireVersion(services, run, previous, {
      compromised: true,
      early: true,
      ...(run.reason ? { reason: run.reason } : {}),
      method: 'emergency',
    });
    retired.push(previous.id);
  }
  const rotator = rotor.rotator(run.spec.kind);
  if (rotator.emergencyActions) {
    // Emergency actions may revoke the app's sessions through the store rotor.yaml names.
    const sessions = sessionRevoker(rotor.policy().sessions, rotor.env, {
      environment: run.environment,
      clock: rotor.clock,
      operatorReason: run.reason,
    });
    const ctx = rotatorContext(services, { ...run, versionId: run.rotationId });
    actions.push(
      ...(await rotator.emergencyActions({ ...ctx, ...(sessions ? { sessions } : {}) })),
    );
  }
  const detail = actions.join('; ');
  services.progress({ ...where(run), step: 'emergency', phase: 'done', detail });
  return { retired, actions };
}
