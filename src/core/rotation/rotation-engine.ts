// The rotation engine: `create → apply → verify → promote` for one secret in one environment,
// journaled before and after each step under a cross-process lock, then `retire`. The steps live
// in journal.ts, promote.ts, finish.ts, stages/, retire.ts and resume.ts; this file orders them.
import { randomUUID } from 'node:crypto';
import type { Actor } from '../audit/audit-log.js';
import { RotorError } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import type { Store } from '../store/open-store.js';
import { createApplyVerify, type Reached } from './create-apply-verify.js';
import { failRotation, findRotation, needsRollback } from './journal.js';
import { acquireLock, lockName } from './lock.js';
import { afterVerify, continueStandby, supersedeStandby, type WaitingRotation } from './promote.js';
import { resumeAll } from './resume.js';
import { retireDue } from './retire.js';
import { assertApplied, assertRotatable } from './rotate-request.js';
import {
  createServices,
  errorInfo,
  where,
  type EngineServices,
  type RotationRun,
  type SecretScope,
} from './rotation-run.js';
import {
  failedResult,
  skippedResult,
  standbyResult,
  succeededResult,
  waitingResult,
} from './rotation-results.js';
import type {
  EngineDeps,
  EnvironmentResult,
  RetireRequest,
  RotateRequest,
  RotateResult,
} from './rotation-types.js';

export type {
  EngineDeps,
  EngineHooks,
  EnvironmentResult,
  ProgressEvent,
  ResumeOutcome,
  RetiredVersion,
  RetireRequest,
  RotateRequest,
  RotateResult,
  StepPhase,
} from './rotation-types.js';
export type { RotationRun } from './rotation-run.js';

/**
 * The engine over one Rotor instance.
 *
 * @example
 * const engine = createRotationEngine({ rotor });
 * const { ok } = await engine.rotate(actor, { secret: 'SESSION_SECRET', method: 'manual' });
 */
export function createRotationEngine(deps: EngineDeps) {
  const services = createServices(deps);
  return {
    /** Rotates one secret through its environments in policy order; stops at the first failure. */
    rotate: (actor: Actor, request: RotateRequest) => rotate(services, actor, request),
    /**
     * Finishes (after verify) or rolls back (before it) every interrupted rotation, and promotes
     * standby versions whose publish-ahead time has passed (others stay waiting).
     */
    resume: (actor: Actor) => resumeAll(services, actor),
    /** Retires previous versions whose grace has passed (or, with `now`, at once). */
    retire: (actor: Actor, request: RetireRequest) => retireDue(services, actor, request),
  };
}

export type RotationEngine = ReturnType<typeof createRotationEngine>;

/** One `rotate` request: who asked, for which secret, in which store. */
interface RotatePlan {
  store: Store;
  requester: Actor;
  spec: SecretSpec;
  request: RotateRequest;
}

async function rotate(
  services: EngineServices,
  requester: Actor,
  request: RotateRequest,
): Promise<RotateResult> {
  const { rotor } = services;
  const spec = rotor.secret(request.secret);
  const envs =
    request.environments ??
    rotor.policy().environments.filter((e) => spec.environments.includes(e));
  assertRotatable(services, { spec, envs, request });
  const store = await rotor.store();
  await assertApplied(store, spec.name);
  const plan: RotatePlan = { store, requester, spec, request };
  const results: EnvironmentResult[] = [];
  for (const environment of envs) {
    const result = await rotateIn(services, plan, environment);
    results.push(result);
    // A standby environment passed verify; any other outcome but success stops the run.
    if (result.outcome !== 'succeeded' && result.outcome !== 'standby') break;
  }
  results.push(...envs.slice(results.length).map(skippedResult));
  const emergency = Boolean(request.emergency);
  return {
    secret: spec.name,
    method: emergency ? 'emergency' : request.method,
    emergency,
    results,
    ok: results.every((r) => r.outcome === 'succeeded' || r.outcome === 'standby'),
  };
}

/** One environment under its lock: continue a standby rotation, or run a new one. */
async function rotateIn(
  services: EngineServices,
  plan: RotatePlan,
  environment: string,
): Promise<EnvironmentResult> {
  const { rotor } = services;
  const { store, spec, request } = plan;
  const started = performance.now();
  const emergency = Boolean(request.emergency);
  const master = await rotor.masterKey();
  const lock = await acquireLock(store, rotor.clock, lockName(spec.name, environment));
  // Every row this rotation writes carries its method, not the command's default.
  const run: RotationRun = {
    store,
    master,
    actor: { ...plan.requester, method: emergency ? 'emergency' : request.method },
    spec,
    environment,
    rotationId: randomUUID(),
    versionId: randomUUID(),
    emergency,
    ...(request.reason === undefined ? {} : { reason: request.reason }),
  };
  try {
    const waiting = await findRotation(store, where(run), 'waiting');
    if (waiting && !emergency) {
      const scope = { store, master, actor: plan.requester, spec };
      return await continueWaiting(services, scope, waiting, started);
    }
    if (waiting) await supersedeStandby(services, run, waiting);
    const interrupted = await findRotation(store, where(run), 'running');
    if (interrupted) {
      throw new RotorError(
        'ERR_ROTOR_ROTATION_IN_PROGRESS',
        `${spec.name}/${environment} has an interrupted rotation (${interrupted.id}): run \`rotor resume\` first`,
        { details: { rotation: interrupted.id } },
      );
    }
    return await rotateNew(services, run, { request, started });
  } finally {
    await lock.release();
  }
}

async function rotateNew(
  services: EngineServices,
  run: RotationRun,
  call: { request: RotateRequest; started: number },
): Promise<EnvironmentResult> {
  const answer = {
    environment: run.environment,
    rotationId: run.rotationId,
    started: call.started,
  };
  const reached: Reached = { journaled: false, pendingStored: false };
  try {
    await createApplyVerify(services, run, { request: call.request, reached });
    const next = await afterVerify(services, run);
    return next.parked
      ? standbyResult(answer, run.versionId, next.promoteAfter)
      : succeededResult(answer, run.versionId, next, run.emergency);
  } catch (error) {
    if (!reached.journaled) throw error;
    if (await needsRollback(run.store, run.rotationId)) {
      await failRotation(services, run, {
        error,
        state: 'failed',
        pendingId: reached.pendingStored ? run.versionId : null,
        plannedVersionId: reached.pendingStored ? undefined : run.versionId,
      });
    }
    return failedResult(answer, errorInfo(error));
  }
}

/** `rotate` on a secret whose rotation waits in standby: continue it, or say when it can. */
async function continueWaiting(
  services: EngineServices,
  scope: SecretScope,
  rotation: WaitingRotation,
  started: number,
): Promise<EnvironmentResult> {
  const answer = { environment: rotation.environment, rotationId: rotation.id, started };
  try {
    const next = await continueStandby(services, scope, rotation);
    if (!next.early) return succeededResult(answer, next.versionId, next, false);
    const now = services.rotor.clock.now();
    return waitingResult(answer, next.versionId, { promoteAfter: next.promoteAfter, now });
  } catch (error) {
    return failedResult(answer, errorInfo(error));
  }
}
