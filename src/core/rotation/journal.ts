// The rotations table: a rotation's row is written before and after every step (with its audit
// row, in one transaction), so a crash leaves a state `resume` can read; and failures end here.
import type { Kysely, Selectable } from 'kysely';
import { appendAudit } from '../audit/audit-log.js';
import { MASTER_KEY_CHECK } from '../crypto/master-key-names.js';
import type { MasterKey } from '../crypto/envelope.js';
import { RotorError } from '../errors.js';
import type { Database, RotationState, RotationStep, RotationsTable } from '../store/schema.js';
import type { Store } from '../store/open-store.js';
import { destroyVersion, getVersion, insertVersion, versionInStage } from '../vault/versions.js';
import type { Material } from '../rotator/rotator-contract.js';
import { createOutputMasker } from './stages/mask-output.js';
import {
  errorInfo,
  rotatorContext,
  stored,
  where,
  type EngineServices,
  type RotationRun,
} from './rotation-run.js';

/**
 * Journals a step boundary; `completed` names the step that just succeeded, which is also
 * audited in the same transaction, as is whatever `extra` writes.
 */
export async function journal(
  services: EngineServices,
  run: RotationRun,
  at: { step: RotationStep; state: 'started' | 'done'; completed?: RotationStep },
  extra: (trx: Kysely<Database>) => Promise<void> = async () => {},
): Promise<void> {
  const { rotor } = services;
  await run.store.writeTransaction(async (trx) => {
    await extra(trx);
    if (at.completed) {
      await appendAudit(trx, rotor.clock, run.actor, {
        ...where(run),
        action: `rotate.${at.completed}`,
        outcome: 'success',
        details: { rotation: run.rotationId, version: run.versionId },
      });
    }
    await trx
      .updateTable('rotations')
      .set({ step: at.step, step_state: at.state, updated_at: rotor.clock.now() })
      .where('id', '=', run.rotationId)
      .execute();
  });
  rotor.logger.debug({ rotation: run.rotationId, step: at.step, state: at.state }, 'journaled');
  await services.hook(`${at.step}:${at.state}`);
}

/** The rotation's row (`create` started) and its `rotate.start` audit row, which holds the planned version id. */
export async function openRotation(services: EngineServices, run: RotationRun): Promise<void> {
  const { rotor } = services;
  const method = run.actor.method;
  const now = rotor.clock.now();
  await run.store.writeTransaction(async (trx) => {
    await trx
      .insertInto('rotations')
      .values({
        id: run.rotationId,
        secret: run.spec.name,
        environment: run.environment,
        method,
        operator: run.actor.operator,
        request_id: run.actor.requestId,
        reason: run.reason ?? null,
        state: 'running',
        step: 'create',
        step_state: 'started',
        pending_version_id: null,
        started_at: now,
        updated_at: now,
        finished_at: null,
        error_code: null,
        error_message: null,
      })
      .execute();
    await appendAudit(trx, rotor.clock, run.actor, {
      ...where(run),
      action: 'rotate.start',
      outcome: 'started',
      method,
      notes: run.reason ?? '',
      details: { rotation: run.rotationId, version: run.versionId, kind: run.spec.kind },
    });
  });
  await services.hook('create:started');
}

/** `apply` started: the new material is stored sealed as the pending version, with the journal write. */
export async function storePending(
  services: EngineServices,
  run: RotationRun,
  material: Material,
  origin: 'manual' | 'generated',
): Promise<void> {
  await journal(services, run, { step: 'apply', state: 'started', completed: 'create' }, (trx) =>
    insertPending(services, { run, material, origin, trx }),
  );
}

async function insertPending(
  services: EngineServices,
  input: {
    run: RotationRun;
    material: Material;
    origin: 'manual' | 'generated';
    trx: Kysely<Database>;
  },
): Promise<void> {
  const { run, material, trx } = input;
  await assertMasterKeyCurrent(trx, run.master);
  await insertVersion(trx, run.master, {
    id: run.versionId,
    secret: run.spec.name,
    environment: run.environment,
    stage: 'pending',
    origin: input.origin,
    value: material.value,
    meta: material.meta,
    now: services.rotor.clock.now(),
    rotatedAt: null,
    rotationId: run.rotationId,
  });
  await trx
    .updateTable('rotations')
    .set({ pending_version_id: run.versionId })
    .where('id', '=', run.rotationId)
    .execute();
}

async function assertMasterKeyCurrent(trx: Kysely<Database>, master: MasterKey): Promise<void> {
  const row = await trx
    .selectFrom('meta')
    .select('value')
    .where('key', '=', MASTER_KEY_CHECK)
    .executeTakeFirst();
  if (row && !master.matchesCheckValue(Buffer.from(row.value, 'base64'))) {
    throw new RotorError(
      'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
      'the master key was rotated while this rotation ran: run it again',
    );
  }
}

/** The rotation of a secret in an environment in `state`, if one is. */
export async function findRotation(
  store: Store,
  pair: { secret: string; environment: string },
  state: 'waiting' | 'running',
): Promise<Selectable<RotationsTable> | undefined> {
  return store.db
    .selectFrom('rotations')
    .selectAll()
    .where('secret', '=', pair.secret)
    .where('environment', '=', pair.environment)
    .where('state', '=', state)
    .executeTakeFirst();
}

/**
 * True when a failed rotation must still be rolled back: its row is running and its journal
 * says promotion has not committed (after it, the staged flow already decided).
 */
export async function needsRollback(store: Store, rotationId: string): Promise<boolean> {
  const row = await store.db
    .selectFrom('rotations')
    .select(['state', 'step', 'step_state'])
    .where('id', '=', rotationId)
    .executeTakeFirst();
  if (row?.state !== 'running') return false;
  const promoted =
    (row.step === 'promote' && row.step_state === 'done') ||
    ['deploy', 'smoke', 'health'].includes(row.step);
  return !promoted;
}

/** The rotation succeeded: its row is finished and the outcome audited. */
export async function recordSucceeded(
  services: EngineServices,
  run: RotationRun,
  done: { retired: string[]; actions: string[] },
): Promise<void> {
  const { rotor } = services;
  await run.store.writeTransaction(async (trx) => {
    const now = rotor.clock.now();
    await trx
      .updateTable('rotations')
      .set({ state: 'succeeded', finished_at: now, updated_at: now })
      .where('id', '=', run.rotationId)
      .execute();
    await appendAudit(trx, rotor.clock, run.actor, {
      ...where(run),
      action: run.emergency ? 'rotate.emergency' : 'rotate.success',
      outcome: 'success',
      ...(run.emergency ? { method: 'emergency' as const } : {}),
      notes: [run.reason, ...done.actions].filter(Boolean).join('; '),
      details: { rotation: run.rotationId, retired: done.retired.join(',') || null },
    });
  });
}

/** Ends a rotation's row in a final state with the error that ended it. */
export async function endRotation(
  trx: Kysely<Database>,
  run: Pick<RotationRun, 'rotationId'>,
  end: { state: RotationState; at: number; error: { code: string; message: string } },
): Promise<void> {
  await trx
    .updateTable('rotations')
    .set({
      state: end.state,
      finished_at: end.at,
      updated_at: end.at,
      error_code: end.error.code,
      error_message: end.error.message,
    })
    .where('id', '=', run.rotationId)
    .execute();
}

/** A promoted rotation whose staged flow failed and cannot be rolled back: failed, new version current. */
export async function failPromoted(
  services: EngineServices,
  run: RotationRun,
  failure: RotorError,
  notes: string,
): Promise<void> {
  const { rotor } = services;
  const now = rotor.clock.now();
  await run.store.writeTransaction(async (trx) => {
    await endRotation(trx, run, { state: 'failed', at: now, error: failure });
    await appendAudit(trx, rotor.clock, run.actor, {
      ...where(run),
      action: 'rotate.failure',
      outcome: 'failure',
      notes,
      details: { rotation: run.rotationId, version: run.versionId, error: failure.code },
    });
  });
}

export interface Failure {
  error: unknown;
  state: 'failed' | 'rolled_back';
  /** The stored pending (or standby) version to revoke and destroy; null when none was stored. */
  pendingId: string | null;
  /** Without a stored version: the id create was given, for the rotator's `abandon`. */
  plannedVersionId?: string | undefined;
}

/**
 * Ends a rotation that did not promote: the pending material is revoked and destroyed, the
 * current version is left untouched, and the failure is journaled and audited.
 */
export async function failRotation(
  services: EngineServices,
  run: RotationRun,
  failure: Failure,
): Promise<void> {
  const { rotor } = services;
  const { pendingId } = failure;
  const master = await rotor.masterKey();
  await maskValuesInError(run, master, pendingId, failure.error);
  services.progress({ ...where(run), step: 'rollback', phase: 'start' });
  const unstored =
    !pendingId && failure.plannedVersionId
      ? await abandonUnstored(services, run, failure.plannedVersionId)
      : { note: '', abandoned: [] };
  if (pendingId) await revokePending(services, run, master, pendingId);
  await run.store.writeTransaction(async (trx) => {
    if (pendingId) {
      const pending = await trx
        .selectFrom('versions')
        .select('stage')
        .where('id', '=', pendingId)
        .executeTakeFirst();
      if (pending?.stage === 'pending' || pending?.stage === 'standby')
        await destroyVersion(trx, pendingId, { now: rotor.clock.now(), stage: 'failed' });
    }
    await writeFailure(services, { run, failure, unstored, trx });
  });
  services.progress({ ...where(run), step: 'rollback', phase: 'done' });
}

async function writeFailure(
  services: EngineServices,
  input: {
    run: RotationRun;
    failure: Failure;
    unstored: { note: string; abandoned: string[] };
    trx: Kysely<Database>;
  },
): Promise<void> {
  const { rotor } = services;
  const { run, failure, unstored, trx } = input;
  const info = errorInfo(failure.error);
  await endRotation(trx, run, { state: failure.state, at: rotor.clock.now(), error: info });
  await appendAudit(trx, rotor.clock, run.actor, {
    ...where(run),
    action: failure.state === 'failed' ? 'rotate.failure' : 'rotate.rollback',
    outcome: 'failure',
    notes: `${info.code}: ${info.message}; the current version was left untouched${unstored.note}`,
    details: {
      rotation: run.rotationId,
      version: failure.pendingId,
      error: info.code,
      ...(unstored.note
        ? { planned: failure.plannedVersionId ?? null, abandoned: unstored.abandoned.length }
        : {}),
    },
  });
}

/** The rotator takes back pending material it made real (best effort: the rollback goes on). */
async function revokePending(
  services: EngineServices,
  run: RotationRun,
  master: MasterKey,
  pendingId: string,
): Promise<void> {
  const { rotor } = services;
  const pending = await getVersion(run.store.db, pendingId);
  if (!pending || (pending.stage !== 'pending' && pending.stage !== 'standby')) return;
  try {
    if (pending.ciphertext)
      await rotor
        .rotator(run.spec.kind)
        .retire(
          rotatorContext(services, { ...run, versionId: pending.id, emergency: false }),
          stored(master, pending),
        );
  } catch (revokeError) {
    rotor.logger.warn(
      { ...where(run), version: pending.id, code: errorInfo(revokeError).code },
      'could not revoke pending material',
    );
  }
}

/**
 * A rotator's error may quote what it handled (a driver echoing a statement, a provider's answer).
 * Before it is written anywhere, every run of 8+ characters of the pending, current or previous
 * value is masked in its message, in place, so the audit row, the rotations table and the
 * caller's answer all carry the masked text (see stages/mask-output.ts).
 */
async function maskValuesInError(
  run: RotationRun,
  master: MasterKey,
  pendingId: string | null,
  error: unknown,
): Promise<void> {
  if (!(error instanceof Error)) return;
  const { db } = run.store;
  const rows = await Promise.all([
    pendingId ? getVersion(db, pendingId) : undefined,
    versionInStage(db, run.spec.name, run.environment, 'current'),
    versionInStage(db, run.spec.name, run.environment, 'previous'),
  ]);
  const values = rows.flatMap((row) => (row?.ciphertext ? [stored(master, row).value] : []));
  if (values.length > 0) error.message = createOutputMasker(values)(error.message);
}

/**
 * A rotation rolled back before its new version was stored may still have made a credential at
 * the provider (killed inside create): the rotator's `abandon` takes back what it made for
 * `plannedVersionId`. Returns the audit note; never throws (the rollback goes on regardless).
 */
async function abandonUnstored(
  services: EngineServices,
  run: RotationRun,
  plannedVersionId: string,
): Promise<{ note: string; abandoned: string[] }> {
  const { rotor } = services;
  const rotator = rotor.rotator(run.spec.kind);
  if (!rotator.abandon) return { note: '', abandoned: [] };
  try {
    const found = await rotator.abandon(
      rotatorContext(services, { ...run, versionId: plannedVersionId, emergency: false }),
    );
    const note =
      found.length > 0
        ? found.join('; ')
        : `nothing made for version ${plannedVersionId} was found at the provider`;
    return { note: `; ${note}`, abandoned: found };
  } catch (abandonError) {
    const info = errorInfo(abandonError);
    rotor.logger.warn(
      { ...where(run), version: plannedVersionId, code: info.code },
      'could not look for what create made',
    );
    return {
      note: `; could not look for what create made for version ${plannedVersionId} (${info.code}: ${info.message}): a credential may remain at the provider`,
      abandoned: [],
    };
  }
}

/**
 * The id the new version of an interrupted rotation would have had. Until the version is stored
 * only the rotation's `rotate.start` audit row (written with the rotation row) holds it.
 */
export async function plannedVersionId(
  store: Store,
  rotation: Selectable<RotationsTable>,
): Promise<string | undefined> {
  const rows = await store.db
    .selectFrom('audit_events')
    .select('entry')
    .where('secret', '=', rotation.secret)
    .where('environment', '=', rotation.environment)
    .where('action', '=', 'rotate.start')
    .where('at', '>=', rotation.started_at)
    .execute();
  for (const row of rows) {
    const details = (
      JSON.parse(row.entry) as { details?: { rotation?: unknown; version?: unknown } }
    ).details;
    if (details?.rotation === rotation.id && typeof details.version === 'string')
      return details.version;
  }
  return undefined;
}
