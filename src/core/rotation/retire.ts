// Retire: the old material is revoked, proven refused where the target can tell, and its stored
// value destroyed, each audited; a credential still in use is postponed, not failed.
import { appendAudit, type Actor } from '../audit/audit-log.js';
import { RotorError, isRotorError } from '../errors.js';
import type { Method } from '../store/schema.js';
import { destroyVersion, getVersion, parseMeta, type VersionRow } from '../vault/versions.js';
import { assertConsumersCaughtUp } from '../consumers/list-consumers.js';
import { acquireLock, lockName } from './lock.js';
import type { RetireOutcome } from '../rotator/rotator-contract.js';
import {
  DRAIN_KEYS,
  mergeMeta,
  postponedSessions,
  proofMeta,
  proveRetired,
  retireOutcome,
  type RetireProof,
} from './retire-proof.js';
import { rotatorContext, stored, type EngineServices, type SecretScope } from './rotation-run.js';
import type { RetiredVersion, RetireRequest } from './rotation-types.js';

export interface RetireWhy {
  compromised: boolean;
  early: boolean;
  reason?: string;
  method?: Method;
  force?: boolean;
}

export type RetireResult = { proof?: RetireProof } | { postponed: string };

/** Revokes and destroys one version, auditing it; safe to repeat. */
export async function retireVersion(
  services: EngineServices,
  scope: SecretScope,
  row: VersionRow,
  why: RetireWhy,
): Promise<RetireResult> {
  let proof: RetireProof | undefined;
  if (row.ciphertext) {
    const revoked = await revoke(services, scope, row, why);
    if ('postponed' in revoked) return revoked;
    proof = revoked.proof;
    why = revoked.why;
  }
  await recordRetired(services, scope, row, { why, proof });
  if (proof?.state === 'accepted')
    services.rotor.logger.error(
      { secret: scope.spec.name, environment: row.environment, version: row.id },
      proof.detail,
    );
  await services.hook('retire:done');
  return proof ? { proof } : {};
}

/** The rotator revokes the old material, then proves it refused, before its value is destroyed. */
async function revoke(
  services: EngineServices,
  scope: SecretScope,
  row: VersionRow,
  why: RetireWhy,
): Promise<{ postponed: string } | { proof: RetireProof | undefined; why: RetireWhy }> {
  const { rotor } = services;
  const { store, spec } = scope;
  const rotator = rotor.rotator(spec.kind);
  const ctx = {
    ...rotatorContext(services, {
      spec,
      environment: row.environment,
      versionId: row.id,
      emergency: why.compromised,
    }),
    ...(why.force ? { force: true } : {}),
    ...(row.retire_at ? { graceEndedAt: row.retire_at } : {}),
  };
  const material = stored(scope.master, row);
  let outcome: void | RetireOutcome;
  try {
    // Live consumers (rotor/client) must hold the current version first; force and emergencies do not wait.
    if (!why.force && !why.compromised)
      await assertConsumersCaughtUp(store.db, spec.name, row.environment, rotor.clock.now());
    outcome = await rotator.retire(ctx, material);
  } catch (error) {
    // The old credential is still in use (live database sessions): it stays `previous`, and
    // the next retire run tries again. A warning, not a failure.
    if (!isRotorError(error, 'ERR_ROTOR_RETIRE_POSTPONED')) throw error;
    await recordPostponed(services, scope, row, error);
    return { postponed: error.message };
  }
  // Proof: log in with what was just retired, before its value is destroyed.
  const proof = await proveRetired(rotator, ctx, material, outcome);
  if (outcome?.terminated)
    why = { ...why, reason: [why.reason, outcome.terminated].filter(Boolean).join('; ') };
  return { proof, why };
}

function retireNotes(why: RetireWhy, proof: RetireProof | undefined): string {
  return [
    why.compromised
      ? 'compromised: revoked at once'
      : why.early
        ? 'retired before its grace window ended'
        : 'grace window over',
    why.reason,
    proof?.detail,
  ]
    .filter(Boolean)
    .join('; ');
}

/** The value destroyed, the proof kept on the version, and the retire (and proof) audited. */
async function recordRetired(
  services: EngineServices,
  scope: SecretScope,
  row: VersionRow,
  result: { why: RetireWhy; proof: RetireProof | undefined },
): Promise<void> {
  const { clock } = services.rotor;
  const { why, proof } = result;
  const at = { secret: scope.spec.name, environment: row.environment };
  await scope.store.writeTransaction(async (trx) => {
    await destroyVersion(trx, row.id, {
      now: clock.now(),
      stage: 'retired',
      compromised: why.compromised,
    });
    if (proof) await mergeMeta(trx, row.id, proofMeta(proof, clock.now()));
    await appendAudit(trx, clock, scope.actor, {
      ...at,
      action: 'retire',
      outcome: retireOutcome(proof),
      ...(why.method ? { method: why.method } : {}),
      notes: retireNotes(why, proof),
      details: { version: row.id, stage: row.stage, ...(proof ? { verified: proof.state } : {}) },
    });
    if (proof && proof.state !== 'kept') {
      await appendAudit(trx, clock, scope.actor, {
        ...at,
        action: 'retire.verified',
        outcome:
          proof.state === 'refused' ? 'success' : proof.state === 'accepted' ? 'failure' : 'info',
        notes: proof.detail,
        details: { version: row.id, verified: proof.state },
      });
    }
  });
}

/** A retire postponed by live sessions: audited, and the sessions kept on the version for status. */
async function recordPostponed(
  services: EngineServices,
  scope: SecretScope,
  row: VersionRow,
  error: RotorError,
): Promise<void> {
  const { rotor } = services;
  rotor.logger.warn(
    { secret: scope.spec.name, environment: row.environment, version: row.id },
    error.message,
  );
  const sessions = postponedSessions(error.details);
  const within = error.details?.drainWithinMs;
  await scope.store.writeTransaction(async (trx) => {
    if (sessions) {
      await mergeMeta(trx, row.id, {
        [DRAIN_KEYS.sessions]: JSON.stringify(sessions),
        [DRAIN_KEYS.since]:
          (parseMeta(row)[DRAIN_KEYS.since] as number | undefined) ?? rotor.clock.now(),
        ...(typeof within === 'number' ? { [DRAIN_KEYS.withinMs]: within } : {}),
        ...(typeof error.details?.drainThen === 'string'
          ? { [DRAIN_KEYS.then]: error.details.drainThen }
          : {}),
      });
    }
    await appendAudit(trx, rotor.clock, scope.actor, {
      secret: scope.spec.name,
      environment: row.environment,
      action: 'retire.postponed',
      outcome: 'info',
      notes: `warning: ${error.message}`,
      details: { version: row.id, stage: row.stage },
    });
  });
}

function assertRetireRequest(request: RetireRequest): void {
  if (request.now && !request.reason) {
    throw new RotorError(
      'ERR_ROTOR_RETIRE_REASON_REQUIRED',
      'retiring before the grace window ends needs --reason: it is recorded in the audit log',
    );
  }
  if (request.now && !request.secret) {
    throw new RotorError(
      'ERR_ROTOR_INVALID_ARGUMENT',
      'retire --now needs a secret name: it cuts a grace window short',
    );
  }
}

/** Retires previous versions whose grace has passed (or, with `now`, at once), each under its lock. */
export async function retireDue(
  services: EngineServices,
  actor: Actor,
  request: RetireRequest,
): Promise<RetiredVersion[]> {
  const { rotor } = services;
  assertRetireRequest(request);
  const spec = request.secret ? rotor.secret(request.secret) : undefined;
  if (spec && request.environment) rotor.assertEnvironment(spec, request.environment);
  const store = await rotor.store();
  const master = await rotor.masterKey();
  const now = rotor.clock.now();
  let query = store.db.selectFrom('versions').selectAll().where('stage', '=', 'previous');
  if (request.secret) query = query.where('secret', '=', request.secret);
  if (request.environment) query = query.where('environment', '=', request.environment);
  if (!request.now) query = query.where('retire_at', '<=', now);
  const due = await query.orderBy('retire_at').execute();
  const retired: RetiredVersion[] = [];
  for (const row of due) {
    const rowSpec = rotor.policy().secrets.get(row.secret);
    if (!rowSpec) continue;
    const lock = await acquireLock(store, rotor.clock, lockName(row.secret, row.environment));
    try {
      const fresh = await getVersion(store.db, row.id);
      if (fresh?.stage !== 'previous') continue;
      const early = (fresh.retire_at ?? 0) > now;
      const scope = { store, master, actor, spec: rowSpec };
      const outcome = await retireVersion(services, scope, fresh, {
        compromised: false,
        early,
        ...(request.reason ? { reason: request.reason } : {}),
        ...(request.force ? { force: true } : {}),
      });
      const base = { secret: row.secret, environment: row.environment, versionId: row.id, early };
      if ('postponed' in outcome)
        retired.push({ ...base, postponed: true, reason: outcome.postponed });
      else retired.push({ ...base, ...(outcome.proof ? { proof: outcome.proof } : {}) });
    } finally {
      await lock.release();
    }
  }
  return retired;
}
