// Resume: what a killed process left is finished (promotion committed, or verified material) or
// rolled back (before verify), and standby versions whose publish-ahead time passed are promoted.
import type { Selectable } from 'kysely';
import type { Actor } from '../audit/audit-log.js';
import { RotorError, isRotorError } from '../errors.js';
import type { RotationsTable } from '../store/schema.js';
import type { Store } from '../store/open-store.js';
import { destroyVersion, getVersion } from '../vault/versions.js';
import { finish } from './finish.js';
import { failRotation, plannedVersionId } from './journal.js';
import { acquireLock, lockName } from './lock.js';
import { afterVerify, continueStandby } from './promote.js';
import {
  errorInfo,
  rotatorContext,
  stored,
  type EngineServices,
  type RotationRun,
  type SecretScope,
} from './rotation-run.js';
import type { ResumeOutcome } from './rotation-types.js';

type RotationRow = Selectable<RotationsTable>;
type Answer = Pick<ResumeOutcome, 'action' | 'detail'>;

const iso = (ms: number) => new Date(ms).toISOString();

/** Every running or waiting rotation, oldest first, each under its lock; then orphaned pending versions. */
export async function resumeAll(services: EngineServices, actor: Actor): Promise<ResumeOutcome[]> {
  const { rotor } = services;
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const running = await store.db
    .selectFrom('rotations')
    .selectAll()
    .where('state', 'in', ['running', 'waiting'])
    .orderBy('started_at')
    .execute();
  const outcomes: ResumeOutcome[] = [];
  for (const rotation of running) {
    const base = {
      rotationId: rotation.id,
      secret: rotation.secret,
      environment: rotation.environment,
    };
    let lock;
    try {
      lock = await acquireLock(store, rotor.clock, lockName(rotation.secret, rotation.environment));
    } catch (error) {
      outcomes.push({ ...base, action: 'skipped', detail: errorInfo(error).message });
      continue;
    }
    try {
      outcomes.push({
        ...base,
        ...(await resumeLocked(services, { store, master, actor }, rotation)),
      });
    } catch (error) {
      // A deploy hook or check that failed again has already rolled the environment back.
      const rolledBack = isRotorError(error, 'ERR_ROTOR_STAGE_FAILED');
      const action = rolledBack ? 'rolled-back' : 'skipped';
      outcomes.push({ ...base, action, detail: errorInfo(error).message });
    } finally {
      await lock.release();
    }
  }
  outcomes.push(...(await destroyOrphans(services, store)));
  return outcomes;
}

/** One rotation, read again under its lock (another process may have finished it meanwhile). */
async function resumeLocked(
  services: EngineServices,
  scope: Omit<SecretScope, 'spec'>,
  rotation: RotationRow,
): Promise<Answer> {
  const fresh = await scope.store.db
    .selectFrom('rotations')
    .selectAll()
    .where('id', '=', rotation.id)
    .executeTakeFirstOrThrow();
  if (fresh.state !== 'running' && fresh.state !== 'waiting')
    return { action: 'skipped', detail: `already ${fresh.state}` };
  const full: SecretScope = { ...scope, spec: services.rotor.secret(fresh.secret) };
  if (fresh.state === 'waiting') return resumeWaiting(services, full, fresh);
  return resumeRunning(services, full, fresh);
}

async function resumeWaiting(
  services: EngineServices,
  scope: SecretScope,
  rotation: RotationRow,
): Promise<Answer> {
  const next = await continueStandby(services, scope, rotation);
  return next.early
    ? {
        action: 'waiting',
        detail: `standby version ${next.versionId} becomes current from ${iso(next.promoteAfter)}`,
      }
    : { action: 'completed', detail: 'standby version promoted after its publish-ahead time' };
}

/** A running rotation: finish it after promotion, promote verified material, else roll back. */
async function resumeRunning(
  services: EngineServices,
  scope: SecretScope,
  fresh: RotationRow,
): Promise<Answer> {
  const run: RotationRun = {
    ...scope,
    environment: fresh.environment,
    rotationId: fresh.id,
    versionId: fresh.pending_version_id ?? '',
    emergency: fresh.method === 'emergency',
    ...(fresh.reason ? { reason: fresh.reason } : {}),
  };
  const pending = fresh.pending_version_id
    ? await getVersion(scope.store.db, fresh.pending_version_id)
    : undefined;
  const promoted =
    pending?.stage === 'current' ||
    pending?.stage === 'previous' ||
    (fresh.step === 'promote' && fresh.step_state === 'done');
  const verified =
    (fresh.step === 'verify' && fresh.step_state === 'done') || fresh.step === 'promote';
  if (promoted) {
    await finish(services, run);
    return { action: 'completed', detail: 'promotion had committed; finished the rotation' };
  }
  if (verified && pending?.stage === 'pending') {
    // Verified material: verify again (idempotent) and promote, rather than waste it.
    const ctx = rotatorContext(services, { ...run, versionId: pending.id });
    await services.rotor.rotator(run.spec.kind).verify(ctx, stored(run.master, pending));
    // Kinds that publish ahead park it in standby here too: a crash must not skip the wait.
    const next = await afterVerify(services, { ...run, versionId: pending.id });
    return next.parked
      ? {
          action: 'waiting',
          detail: `verified version moved to standby; it becomes current from ${iso(next.promoteAfter)}`,
        }
      : { action: 'completed', detail: 'verified version promoted' };
  }
  const why = new RotorError(
    'ERR_ROTOR_ROTATION_FAILED',
    `interrupted during ${fresh.step} (${fresh.step_state}); rolled back by resume`,
  );
  const planned = fresh.pending_version_id ? undefined : await plannedVersionId(scope.store, fresh);
  await failRotation(services, run, {
    error: why,
    state: 'rolled_back',
    pendingId: pending?.stage === 'pending' ? pending.id : null,
    plannedVersionId: planned,
  });
  return {
    action: 'rolled-back',
    detail: `interrupted during ${fresh.step}; the current version is unchanged`,
  };
}

/** Pending versions left without a running rotation (a crash inside the apply step). */
async function destroyOrphans(services: EngineServices, store: Store): Promise<ResumeOutcome[]> {
  const orphans = await store.db
    .selectFrom('versions')
    .select(['id', 'secret', 'environment'])
    .where('stage', '=', 'pending')
    .execute();
  const outcomes: ResumeOutcome[] = [];
  for (const o of orphans) {
    const owner = await store.db
      .selectFrom('rotations')
      .select('state')
      .where('pending_version_id', '=', o.id)
      .executeTakeFirst();
    if (owner?.state === 'running') continue;
    await store.writeTransaction((trx) =>
      destroyVersion(trx, o.id, { now: services.rotor.clock.now(), stage: 'failed' }),
    );
    outcomes.push({
      rotationId: '',
      secret: o.secret,
      environment: o.environment,
      action: 'rolled-back',
      detail: `destroyed orphaned pending version ${o.id}`,
    });
  }
  return outcomes;
}
