// Promote: a verified version becomes current in one transaction, or first waits in standby for
// its kind's publish-ahead time (so verifiers' key caches hold it before anything signs with it).
import type { Selectable } from 'kysely';
import { appendAudit } from '../audit/audit-log.js';
import { formatDuration } from '../duration.js';
import { RotorError } from '../errors.js';
import type { RotationsTable } from '../store/schema.js';
import { getVersion, moveStage, versionInStage } from '../vault/versions.js';
import { finish, type FinishResult } from './finish.js';
import { failRotation } from './journal.js';
import { retireVersion } from './retire.js';
import {
  rotatorContext,
  stored,
  timed,
  where,
  type EngineServices,
  type RotationRun,
  type SecretScope,
} from './rotation-run.js';

export interface PromoteResult {
  previousId?: string;
  /** Versions retired on the way (an older previous superseded). */
  retired: string[];
  /** End of the previous version's grace window; absent in an emergency or for a first version. */
  graceUntil?: number;
}

/** Pending → current, current → previous (grace), older previous → retired. One transaction. */
export async function promote(services: EngineServices, run: RotationRun): Promise<PromoteResult> {
  const { rotor } = services;
  const retired: string[] = [];
  // A previous version from an earlier rotation is superseded: at most two live versions.
  const older = await versionInStage(run.store.db, run.spec.name, run.environment, 'previous');
  if (older) {
    // Superseding cuts the grace short on purpose: at most two live versions, so no postponing.
    await retireVersion(services, run, older, {
      compromised: false,
      early: (older.retire_at ?? 0) > rotor.clock.now(),
      reason: 'superseded by a newer rotation',
      force: true,
    });
    retired.push(older.id);
  }
  const now = rotor.clock.now();
  const graceUntil = run.emergency ? now : now + run.spec.graceMs;
  const previousId = await swapStages(services, run, { now, graceUntil });
  await services.hook('promote:done');
  return {
    ...(previousId ? { previousId } : {}),
    retired,
    ...(previousId && !run.emergency ? { graceUntil } : {}),
  };
}

/** The promotion transaction; answers the version that became previous, if any. */
async function swapStages(
  services: EngineServices,
  run: RotationRun,
  at: { now: number; graceUntil: number },
): Promise<string | undefined> {
  const { now, graceUntil } = at;
  let previousId: string | undefined;
  await run.store.writeTransaction(async (trx) => {
    const current = await trx
      .selectFrom('versions')
      .select(['id'])
      .where('secret', '=', run.spec.name)
      .where('environment', '=', run.environment)
      .where('stage', '=', 'current')
      .execute();
    for (const c of current) {
      previousId = c.id;
      await trx
        .updateTable('versions')
        .set({ stage: 'previous', retire_at: graceUntil })
        .where('id', '=', c.id)
        .execute();
    }
    await moveStage(trx, {
      id: run.versionId,
      from: ['pending', 'standby'],
      to: 'current',
      set: { promoted_at: now, rotated_at: now },
    });
    // A rotation continued from standby runs again from here, so a crash after this commit
    // leaves what resume already finishes (running, promote done).
    await trx
      .updateTable('rotations')
      .set({ state: 'running', step: 'promote', step_state: 'done', updated_at: now })
      .where('id', '=', run.rotationId)
      .execute();
    await appendAudit(trx, services.rotor.clock, run.actor, {
      ...where(run),
      action: 'rotate.promote',
      outcome: 'success',
      notes: previousId
        ? run.emergency
          ? 'new version current; previous revoked at once (emergency)'
          : `new version current; previous accepted until ${new Date(graceUntil).toISOString()}`
        : 'first version current',
      details: { rotation: run.rotationId, version: run.versionId, previous: previousId ?? null },
    });
  });
  return previousId;
}

/**
 * How long a verified version must wait in standby: its kind's publish-ahead time, or 0.
 * - An emergency never waits. The old key is presumed in an attacker's hands, and every minute
 *   it stays current lets them mint tokens that verifiers accept. Promoting at once costs at
 *   worst that a remote verifier whose JWKS cache lacks the new key rejects good tokens until
 *   it refetches (most refetch on an unknown kid): a short, self-healing outage instead of
 *   accepted forgeries.
 * - A first version does not wait: nothing signs yet, so there is no working state to keep and
 *   waiting would only keep the application from issuing tokens.
 */
async function publishAheadMs(services: EngineServices, run: RotationRun): Promise<number> {
  if (run.emergency) return 0;
  const ms = services.rotor.rotator(run.spec.kind).publishAhead?.(run.spec.config) ?? 0;
  if (ms <= 0) return 0;
  const current = await versionInStage(run.store.db, run.spec.name, run.environment, 'current');
  return current ? ms : 0;
}

/** Pending → standby and the rotation parked as `waiting` until `promote_after`. One transaction. */
async function standby(
  services: EngineServices,
  run: RotationRun,
  aheadMs: number,
): Promise<number> {
  const { rotor } = services;
  const now = rotor.clock.now();
  const promoteAfter = now + aheadMs;
  const after = new Date(promoteAfter).toISOString();
  await run.store.writeTransaction(async (trx) => {
    await moveStage(trx, { id: run.versionId, from: 'pending', to: 'standby' });
    await trx
      .updateTable('rotations')
      .set({
        state: 'waiting',
        step: 'standby',
        step_state: 'done',
        promote_after: promoteAfter,
        updated_at: now,
      })
      .where('id', '=', run.rotationId)
      .execute();
    await appendAudit(trx, rotor.clock, run.actor, {
      ...where(run),
      action: 'rotate.standby',
      outcome: 'success',
      notes: `new version published in standby; it may become current from ${after} (publish-ahead ${formatDuration(aheadMs)})`,
      details: { rotation: run.rotationId, version: run.versionId, promote_after: after },
    });
  });
  rotor.logger.debug({ rotation: run.rotationId, step: 'standby', state: 'waiting' }, 'journaled');
  await services.hook('standby:done');
  return promoteAfter;
}

export interface Promoted {
  parked: false;
  promoted: PromoteResult;
  finished: FinishResult;
}

export type AfterVerify = { parked: true; promoteAfter: number } | Promoted;

/** A verified pending version goes to standby when its kind publishes ahead, else current. */
export async function afterVerify(
  services: EngineServices,
  run: RotationRun,
): Promise<AfterVerify> {
  const aheadMs = await publishAheadMs(services, run);
  if (aheadMs > 0) {
    const promoteAfter = await timed(services, run, 'standby', () =>
      standby(services, run, aheadMs),
    );
    return { parked: true, promoteAfter };
  }
  return promoteAndFinish(services, run);
}

async function promoteAndFinish(services: EngineServices, run: RotationRun): Promise<Promoted> {
  const promoted = await timed(services, run, 'promote', () => promote(services, run));
  const finished = await finish(services, run);
  return { parked: false, promoted, finished };
}

export type WaitingRotation = Selectable<RotationsTable>;

export type ContinuedStandby =
  | { early: true; promoteAfter: number; versionId: string }
  | ({ early: false; versionId: string } & Promoted);

/** The run a `waiting` rotation row describes, acted on by `requester` under the row's method. */
function waitingRun(scope: SecretScope, rotation: WaitingRotation): RotationRun {
  return {
    ...scope,
    actor: { ...scope.actor, method: rotation.method },
    environment: rotation.environment,
    rotationId: rotation.id,
    versionId: rotation.pending_version_id ?? '',
    emergency: rotation.method === 'emergency',
    ...(rotation.reason ? { reason: rotation.reason } : {}),
  };
}

/**
 * Continues a `waiting` rotation: too early, nothing changes; otherwise the standby version
 * is verified again and promoted. Callers hold the secret+environment lock. A failed verify
 * fails the rotation (the standby version is destroyed); any other error leaves a state
 * that the next attempt or `resume` picks up.
 */
export async function continueStandby(
  services: EngineServices,
  scope: SecretScope,
  rotation: WaitingRotation,
): Promise<ContinuedStandby> {
  const { rotor } = services;
  const run = waitingRun(scope, rotation);
  const row = rotation.pending_version_id
    ? await getVersion(run.store.db, rotation.pending_version_id)
    : undefined;
  if (row?.stage !== 'standby') {
    // Standby and waiting are written in one transaction, so this is a damaged store.
    const why = new RotorError(
      'ERR_ROTOR_ROTATION_FAILED',
      `the standby version of rotation ${rotation.id} is missing; rolled back`,
    );
    await failRotation(services, run, { error: why, state: 'rolled_back', pendingId: null });
    throw why;
  }
  const promoteAfter = rotation.promote_after ?? 0;
  if (rotor.clock.now() < promoteAfter) return { early: true, promoteAfter, versionId: row.id };
  try {
    await timed(services, run, 'verify', () =>
      rotor.rotator(run.spec.kind).verify(rotatorContext(services, run), stored(run.master, row)),
    );
  } catch (error) {
    await failRotation(services, run, { error, state: 'failed', pendingId: row.id });
    throw error;
  }
  return { early: false, versionId: row.id, ...(await promoteAndFinish(services, run)) };
}

/**
 * An emergency on a secret whose rotation waits in standby: the standby version is destroyed
 * (it lived in the same store the emergency distrusts, and never signed) and its rotation
 * rolled back; the emergency rotation then makes a fresh key current at once.
 */
export async function supersedeStandby(
  services: EngineServices,
  scope: SecretScope,
  rotation: WaitingRotation,
): Promise<void> {
  const why = new RotorError(
    'ERR_ROTOR_ROTATION_SUPERSEDED',
    'superseded by an emergency rotation; the standby version never signed and is destroyed',
  );
  // Audited under the emergency's method, not the standby rotation's.
  const run = { ...waitingRun(scope, rotation), actor: scope.actor };
  await failRotation(services, run, {
    error: why,
    state: 'rolled_back',
    pendingId: rotation.pending_version_id,
  });
}
