// The rotation engine: runs `create → apply → verify → promote` for one secret in one
// environment, journaling each step before and after it runs, under a cross-process lock,
// and `retire` once the grace window has passed (or at once in an emergency). The current
// version is not touched until the pending one has passed verify, and promotion is a single
// transaction, so a process killed at any point leaves a usable current value; `resume`
// finishes (after verify) or rolls back (before it) whatever it left.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { MASTER_KEY_CHECK } from '../context.js';
import type { MasterKey } from '../crypto/envelope.js';
import { formatDuration } from '../duration.js';
import { RotorError, isRotorError } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND } from '../policy/policy-schema.js';
import type { Database, Method, RotationStep, RotationsTable } from '../store/schema.js';
import type { Store } from '../store/open-store.js';
import {
  destroyVersion,
  getVersion,
  insertVersion,
  openVersion,
  parseMeta,
  versionInStage,
  type VersionRow,
} from '../vault/versions.js';
import { sessionRevoker } from '../sessions/open-session-store.js';
import { assertConsumersCaughtUp } from '../consumers/list-consumers.js';
import { assertValueAcceptable } from '../delivery/value-limits.js';
import { acquireLock, lockName } from './lock.js';
import { createOutputMasker } from './stages/mask-output.js';
import { runStep, type StepTarget } from './stages/run-step.js';
import type { StageStep } from './stages/stage-schema.js';
import { dirname } from 'node:path';
import type {
  AnyRotator,
  RetireOutcome,
  RotatorContext,
  StoredMaterial,
} from './rotator-contract.js';
import {
  DRAIN_KEYS,
  mergeMeta,
  postponedSessions,
  proofMeta,
  proveRetired,
  retireOutcome,
  type RetireProof,
} from './retire-proof.js';

export type StepPhase = 'start' | 'done' | 'failed';

export interface ProgressEvent {
  secret: string;
  environment: string;
  step: RotationStep | 'rollback' | 'emergency';
  phase: StepPhase;
  ms?: number;
  detail?: string;
}

export interface EngineHooks {
  /** Called after each journal write; tests use it to kill the process between any two steps. */
  afterJournal?(point: string): void | Promise<void>;
}

export interface EngineDeps {
  rotor: Pick<
    Rotor,
    | 'store'
    | 'masterKey'
    | 'clock'
    | 'logger'
    | 'policy'
    | 'rotator'
    | 'secret'
    | 'assertEnvironment'
    | 'env'
    | 'policyFile'
  >;
  hooks?: EngineHooks;
  onProgress?(event: ProgressEvent): void;
}

export interface RotateRequest {
  secret: string;
  /** Default: every environment of the secret, in policy order. */
  environments?: string[];
  method: Method;
  emergency?: boolean;
  reason?: string;
  /** Operator-supplied value for `operator`-sourced kinds, per environment or one for all. */
  input?: string | ((environment: string) => Promise<string>);
}

export interface EnvironmentResult {
  environment: string;
  rotationId: string;
  /**
   * `standby`: the new version is verified and published but waits for its kind's publish-ahead
   * time before it may become current (`promoteAfter`); `rotate` again (or `resume`) then.
   * `waiting`: asked to continue such a rotation too early; nothing changed.
   */
  outcome: 'succeeded' | 'failed' | 'skipped' | 'standby' | 'waiting';
  versionId?: string;
  /** For `standby` and `waiting`: when the standby version may become current (ISO). */
  promoteAfter?: string;
  previousVersionId?: string;
  retiredVersionIds: string[];
  graceUntil?: string;
  emergencyActions?: string[];
  error?: { code: string; message: string };
  ms: number;
}

export interface RotateResult {
  secret: string;
  method: Method;
  emergency: boolean;
  results: EnvironmentResult[];
  ok: boolean;
}

export interface ResumeOutcome {
  rotationId: string;
  secret: string;
  environment: string;
  /** `waiting`: a standby version whose publish-ahead time has not passed yet; left as it is. */
  action: 'completed' | 'rolled-back' | 'skipped' | 'waiting';
  detail: string;
}

export interface RetireRequest {
  secret?: string;
  environment?: string;
  /** Retire previous versions still inside their grace window. Needs a reason. */
  now?: boolean;
  reason?: string;
  /** Revoke even while the old credential is in use (live database sessions are terminated). */
  force?: boolean;
}

export interface RetiredVersion {
  secret: string;
  environment: string;
  versionId: string;
  early: boolean;
  /** The rotator found the old credential still in use and kept it (`force` overrides). */
  postponed?: true;
  /** Why it was postponed (live sessions, consumers still on the old version). */
  reason?: string;
  /** What logging in with the retired credential showed (kinds with `prove`), or that it was kept. */
  proof?: RetireProof;
}

function errorInfo(error: unknown): { code: string; message: string } {
  if (isRotorError(error)) return { code: error.code, message: error.message };
  return {
    code: 'ERR_ROTOR_ROTATION_FAILED',
    message: error instanceof Error ? error.message : String(error),
  };
}

export function createRotationEngine(deps: EngineDeps) {
  const { rotor } = deps;
  const progress = (e: ProgressEvent) => deps.onProgress?.(e);
  const hook = async (point: string) => {
    await deps.hooks?.afterJournal?.(point);
  };

  function context(
    spec: SecretSpec,
    environment: string,
    versionId: string,
    emergency: boolean,
    input?: string,
  ): RotatorContext<unknown> {
    return {
      secret: spec.name,
      environment,
      versionId,
      config: spec.config,
      clock: rotor.clock,
      emergency,
      ...(input === undefined ? {} : { input }),
      env: rotor.env,
      lifetimeMs: spec.cadence.maxMs + spec.graceMs,
      readSecret: (name) => readCurrent(name, environment),
    };
  }

  /** The current value of `name` in `environment`, for credentials rotor.yaml names by reference. */
  async function readCurrent(name: string, environment: string): Promise<string | undefined> {
    const store = await rotor.store();
    const row = await versionInStage(store.db, name, environment, 'current');
    return row ? openVersion(await rotor.masterKey(), row) : undefined;
  }

  function stored(master: MasterKey, row: VersionRow): StoredMaterial {
    return { versionId: row.id, value: openVersion(master, row), meta: parseMeta(row) };
  }

  /**
   * Journals a step boundary; `completed` names the step that just succeeded, which is also
   * audited in the same transaction.
   */
  async function journal(
    store: Store,
    rotationId: string,
    step: RotationStep,
    stepState: 'started' | 'done',
    completed?: {
      actor: Actor;
      spec: SecretSpec;
      environment: string;
      step: RotationStep;
      versionId: string;
    },
    extra: (trx: Kysely<Database>) => Promise<void> = async () => {},
  ): Promise<void> {
    await store.writeTransaction(async (trx) => {
      await extra(trx);
      if (completed) {
        await appendAudit(trx, rotor.clock, completed.actor, {
          secret: completed.spec.name,
          environment: completed.environment,
          action: `rotate.${completed.step}`,
          outcome: 'success',
          details: { rotation: rotationId, version: completed.versionId },
        });
      }
      await trx
        .updateTable('rotations')
        .set({ step, step_state: stepState, updated_at: rotor.clock.now() })
        .where('id', '=', rotationId)
        .execute();
    });
    rotor.logger.debug({ rotation: rotationId, step, state: stepState }, 'journaled');
    await hook(`${step}:${stepState}`);
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

  /** A retire postponed by live sessions: audited, and the sessions kept on the version for status. */
  async function recordPostponed(
    store: Store,
    actor: Actor,
    spec: SecretSpec,
    row: VersionRow,
    error: RotorError,
  ): Promise<void> {
    rotor.logger.warn(
      { secret: spec.name, environment: row.environment, version: row.id },
      error.message,
    );
    const sessions = postponedSessions(error.details);
    const within = error.details?.drainWithinMs;
    await store.writeTransaction(async (trx) => {
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
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment: row.environment,
        action: 'retire.postponed',
        outcome: 'info',
        notes: `warning: ${error.message}`,
        details: { version: row.id, stage: row.stage },
      });
    });
  }

  /** Revokes and destroys one version, auditing it; safe to repeat. */
  async function retireVersion(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    row: VersionRow,
    why: {
      compromised: boolean;
      early: boolean;
      reason?: string;
      method?: Method;
      force?: boolean;
    },
  ): Promise<{ proof?: RetireProof } | { postponed: string }> {
    const rotator = rotor.rotator(spec.kind);
    let proof: RetireProof | undefined;
    if (row.ciphertext) {
      const ctx = {
        ...context(spec, row.environment, row.id, why.compromised),
        ...(why.force ? { force: true } : {}),
        ...(row.retire_at ? { graceEndedAt: row.retire_at } : {}),
      };
      const material = stored(master, row);
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
        await recordPostponed(store, actor, spec, row, error);
        return { postponed: error.message };
      }
      // Proof: log in with what was just retired, before its value is destroyed.
      proof = await proveRetired(rotator, ctx, material, outcome);
      if (outcome?.terminated)
        why = { ...why, reason: [why.reason, outcome.terminated].filter(Boolean).join('; ') };
    }
    await store.writeTransaction(async (trx) => {
      await destroyVersion(trx, row.id, rotor.clock.now(), 'retired', why.compromised);
      if (proof) await mergeMeta(trx, row.id, proofMeta(proof, rotor.clock.now()));
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment: row.environment,
        action: 'retire',
        outcome: retireOutcome(proof),
        ...(why.method ? { method: why.method } : {}),
        notes: [
          why.compromised
            ? 'compromised: revoked at once'
            : why.early
              ? 'retired before its grace window ended'
              : 'grace window over',
          why.reason,
          proof?.detail,
        ]
          .filter(Boolean)
          .join('; '),
        details: { version: row.id, stage: row.stage, ...(proof ? { verified: proof.state } : {}) },
      });
      if (proof && proof.state !== 'kept') {
        await appendAudit(trx, rotor.clock, actor, {
          secret: spec.name,
          environment: row.environment,
          action: 'retire.verified',
          outcome:
            proof.state === 'refused' ? 'success' : proof.state === 'accepted' ? 'failure' : 'info',
          notes: proof.detail,
          details: { version: row.id, verified: proof.state },
        });
      }
    });
    if (proof?.state === 'accepted')
      rotor.logger.error(
        { secret: spec.name, environment: row.environment, version: row.id },
        proof.detail,
      );
    await hook('retire:done');
    return proof ? { proof } : {};
  }

  /**
   * A rotator's error may quote what it handled (a driver echoing a statement, a provider's answer).
   * Before it is written anywhere, every run of 8+ characters of the pending, current or previous
   * value is masked in its message, in place, so the audit row, the rotations table and the
   * caller's answer all carry the masked text (see stages/mask-output.ts).
   */
  async function maskValuesInError(
    store: Store,
    master: MasterKey,
    secret: string,
    environment: string,
    pendingId: string | null,
    error: unknown,
  ): Promise<void> {
    if (!(error instanceof Error)) return;
    const rows = await Promise.all([
      pendingId ? getVersion(store.db, pendingId) : undefined,
      versionInStage(store.db, secret, environment, 'current'),
      versionInStage(store.db, secret, environment, 'previous'),
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
    spec: SecretSpec,
    environment: string,
    plannedVersionId: string,
  ): Promise<{ note: string; abandoned: string[] }> {
    const rotator = rotor.rotator(spec.kind);
    if (!rotator.abandon) return { note: '', abandoned: [] };
    try {
      const found = await rotator.abandon(context(spec, environment, plannedVersionId, false));
      const note =
        found.length > 0
          ? found.join('; ')
          : `nothing made for version ${plannedVersionId} was found at the provider`;
      return { note: `; ${note}`, abandoned: found };
    } catch (abandonError) {
      const info = errorInfo(abandonError);
      rotor.logger.warn(
        { secret: spec.name, environment, version: plannedVersionId, code: info.code },
        'could not look for what create made',
      );
      return {
        note: `; could not look for what create made for version ${plannedVersionId} (${info.code}: ${info.message}): a credential may remain at the provider`,
        abandoned: [],
      };
    }
  }

  async function failRotation(
    store: Store,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    pendingId: string | null,
    error: unknown,
    state: 'failed' | 'rolled_back',
    plannedVersionId?: string,
  ): Promise<void> {
    const master = await rotor.masterKey();
    await maskValuesInError(store, master, spec.name, environment, pendingId, error);
    const info = errorInfo(error);
    progress({ secret: spec.name, environment, step: 'rollback', phase: 'start' });
    const unstored =
      !pendingId && plannedVersionId
        ? await abandonUnstored(spec, environment, plannedVersionId)
        : { note: '', abandoned: [] };
    if (pendingId) {
      const pending = await getVersion(store.db, pendingId);
      if (pending && (pending.stage === 'pending' || pending.stage === 'standby')) {
        try {
          if (pending.ciphertext)
            await rotor
              .rotator(spec.kind)
              .retire(context(spec, environment, pending.id, false), stored(master, pending));
        } catch (revokeError) {
          rotor.logger.warn(
            {
              secret: spec.name,
              environment,
              version: pending.id,
              code: errorInfo(revokeError).code,
            },
            'could not revoke pending material',
          );
        }
      }
    }
    await store.writeTransaction(async (trx) => {
      if (pendingId) {
        const pending = await trx
          .selectFrom('versions')
          .select('stage')
          .where('id', '=', pendingId)
          .executeTakeFirst();
        if (pending?.stage === 'pending' || pending?.stage === 'standby')
          await destroyVersion(trx, pendingId, rotor.clock.now(), 'failed');
      }
      await trx
        .updateTable('rotations')
        .set({
          state,
          finished_at: rotor.clock.now(),
          updated_at: rotor.clock.now(),
          error_code: info.code,
          error_message: info.message,
        })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: state === 'failed' ? 'rotate.failure' : 'rotate.rollback',
        outcome: 'failure',
        notes: `${info.code}: ${info.message}; the current version was left untouched${unstored.note}`,
        details: {
          rotation: rotationId,
          version: pendingId,
          error: info.code,
          ...(unstored.note
            ? { planned: plannedVersionId ?? null, abandoned: unstored.abandoned.length }
            : {}),
        },
      });
    });
    progress({ secret: spec.name, environment, step: 'rollback', phase: 'done' });
  }

  /** Pending → current, current → previous (grace), older previous → retired. One transaction. */
  async function promote(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    pendingId: string,
    emergency: boolean,
  ): Promise<{ previousId?: string; retired: string[]; graceUntil?: number }> {
    const retired: string[] = [];
    // A previous version from an earlier rotation is superseded: at most two live versions.
    const older = await versionInStage(store.db, spec.name, environment, 'previous');
    if (older) {
      // Superseding cuts the grace short on purpose: at most two live versions, so no postponing.
      await retireVersion(store, master, actor, spec, older, {
        compromised: false,
        early: (older.retire_at ?? 0) > rotor.clock.now(),
        reason: 'superseded by a newer rotation',
        force: true,
      });
      retired.push(older.id);
    }
    const now = rotor.clock.now();
    const graceUntil = emergency ? now : now + spec.graceMs;
    let previousId: string | undefined;
    await store.writeTransaction(async (trx) => {
      const current = await trx
        .selectFrom('versions')
        .select(['id'])
        .where('secret', '=', spec.name)
        .where('environment', '=', environment)
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
      await trx
        .updateTable('versions')
        .set({ stage: 'current', promoted_at: now, rotated_at: now })
        .where('id', '=', pendingId)
        .where('stage', 'in', ['pending', 'standby'])
        .execute();
      // A rotation continued from standby runs again from here, so a crash after this commit
      // leaves what resume already finishes (running, promote done).
      await trx
        .updateTable('rotations')
        .set({ state: 'running', step: 'promote', step_state: 'done', updated_at: now })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: 'rotate.promote',
        outcome: 'success',
        notes: previousId
          ? emergency
            ? 'new version current; previous revoked at once (emergency)'
            : `new version current; previous accepted until ${new Date(graceUntil).toISOString()}`
          : 'first version current',
        details: { rotation: rotationId, version: pendingId, previous: previousId ?? null },
      });
    });
    await hook('promote:done');
    return {
      ...(previousId ? { previousId } : {}),
      retired,
      ...(previousId && !emergency ? { graceUntil } : {}),
    };
  }

  function stepsFor(
    spec: SecretSpec,
    environment: string,
    stage?: StageStep['stage'],
  ): StageStep[] {
    return spec.stages.filter(
      (s) =>
        (!s.environments || s.environments.includes(environment)) && (!stage || s.stage === stage),
    );
  }

  function stepDeps(spec: SecretSpec, environment: string, material: StoredMaterial) {
    const rotator = rotor.rotator(spec.kind);
    const ctx = context(spec, environment, material.versionId, false);
    return {
      env: rotor.env,
      baseDir: dirname(rotor.policyFile),
      readSecret: (name: string) => readCurrent(name, environment),
      ...(rotator.runSql
        ? {
            runSql: (statement: string, timeoutMs: number) =>
              rotator.runSql!(ctx, material, statement, timeoutMs),
          }
        : {}),
    };
  }

  /**
   * The staged flow after promotion: deploy hooks, then smoke tests, then health checks, each
   * journaled and audited. Resolves with the first failure (or undefined); never throws for a
   * failing step, so the caller decides between rolling back and reporting.
   */
  async function runStages(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
  ): Promise<RotorError | undefined> {
    const steps = stepsFor(spec, environment);
    if (steps.length === 0) return undefined;
    const row = await getVersion(store.db, versionId);
    if (!row?.ciphertext)
      return new RotorError(
        'ERR_ROTOR_STAGE_FAILED',
        `${spec.name}/${environment}: version ${versionId} has no value to deploy`,
      );
    const material = stored(master, row);
    // The value it replaced is masked in hook output too (a hook may print the old one).
    const replaced = await versionInStage(store.db, spec.name, environment, 'previous');
    const otherValues = replaced?.ciphertext ? [stored(master, replaced).value] : [];
    const target: StepTarget = {
      secret: spec.name,
      environment,
      versionId,
      rotationId,
      value: material.value,
      otherValues,
    };
    const deps = stepDeps(spec, environment, material);
    let stage: StageStep['stage'] | undefined;
    for (const step of steps) {
      if (step.stage !== stage) {
        stage = step.stage;
        await journal(store, rotationId, stage, 'started');
      }
      const started = performance.now();
      progress({
        secret: spec.name,
        environment,
        step: step.stage,
        phase: 'start',
        detail: step.name,
      });
      try {
        const answer = await runStep(step, target, deps);
        const ms = performance.now() - started;
        progress({
          secret: spec.name,
          environment,
          step: step.stage,
          phase: 'done',
          ms,
          detail: step.name,
        });
        await store.writeTransaction((trx) =>
          appendAudit(trx, rotor.clock, actor, {
            secret: spec.name,
            environment,
            action: `rotate.${step.stage}`,
            outcome: 'success',
            notes: `${step.name}: ${answer} in ${Math.round(ms)} ms`,
            details: { rotation: rotationId, version: versionId },
          }),
        );
      } catch (error) {
        const info = errorInfo(error);
        progress({
          secret: spec.name,
          environment,
          step: step.stage,
          phase: 'failed',
          ms: performance.now() - started,
          detail: info.code,
        });
        rotor.logger.warn(
          { secret: spec.name, environment, stage: step.stage, step: step.name, code: info.code },
          'stage step failed',
        );
        return isRotorError(error)
          ? error
          : new RotorError('ERR_ROTOR_STAGE_FAILED', info.message, { cause: error });
      }
    }
    await hook(`${stage}:done`);
    return undefined;
  }

  /** A promoted rotation whose staged flow failed and cannot be rolled back: failed, new version current. */
  async function failPromoted(
    store: Store,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
    failure: RotorError,
    notes: string,
  ): Promise<void> {
    const now = rotor.clock.now();
    await store.writeTransaction(async (trx) => {
      await trx
        .updateTable('rotations')
        .set({
          state: 'failed',
          finished_at: now,
          updated_at: now,
          error_code: failure.code,
          error_message: failure.message,
        })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: 'rotate.failure',
        outcome: 'failure',
        notes,
        details: { rotation: rotationId, version: versionId, error: failure.code },
      });
    });
  }

  /**
   * A deploy hook, smoke test or health check failed after promotion: the environment goes back
   * to the previous version, which is still valid (its grace has just begun), its deploy hooks
   * run again with it, and the new version is revoked (or, while it still has live sessions,
   * left for the next `rotor retire`). Without a previous version there is nothing to go back
   * to: the rotation fails with the new version current.
   */
  async function rollBackPromotion(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
    failure: RotorError,
  ): Promise<RotorError> {
    progress({ secret: spec.name, environment, step: 'rollback', phase: 'start' });
    const previous = await versionInStage(store.db, spec.name, environment, 'previous');
    const now = rotor.clock.now();
    if (!previous || previous.stage !== 'previous' || !previous.ciphertext) {
      await failPromoted(
        store,
        actor,
        spec,
        environment,
        rotationId,
        versionId,
        failure,
        `${failure.message}; there is no previous version to go back to, so version ${versionId} stays current: fix the failing step and run it by hand`,
      );
      progress({
        secret: spec.name,
        environment,
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
    await store.writeTransaction(async (trx) => {
      // Swap stages: the previous version is current again; the new one becomes previous with
      // its grace already over, so a postponed revocation is finished by the next retire run.
      await trx
        .updateTable('versions')
        .set({ stage: 'current', retire_at: null })
        .where('id', '=', previous.id)
        .where('stage', '=', 'previous')
        .execute();
      await trx
        .updateTable('versions')
        .set({ stage: 'previous', retire_at: now })
        .where('id', '=', versionId)
        .where('stage', '=', 'current')
        .execute();
      await trx
        .updateTable('rotations')
        .set({
          state: 'rolled_back',
          finished_at: now,
          updated_at: now,
          error_code: failure.code,
          error_message: failure.message,
        })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: 'rotate.rollback',
        outcome: 'failure',
        notes: `${failure.message}; ${environment} is back on version ${previous.id}, which was still valid`,
        details: {
          rotation: rotationId,
          version: versionId,
          restored: previous.id,
          error: failure.code,
        },
      });
    });
    await hook('rollback:done');
    // The app was told about the new value; tell it about the restored one.
    const restored = stored(master, previous);
    const abandoned = await getVersion(store.db, versionId);
    const otherValues = abandoned?.ciphertext ? [stored(master, abandoned).value] : [];
    const target: StepTarget = {
      secret: spec.name,
      environment,
      versionId: previous.id,
      rotationId,
      value: restored.value,
      otherValues,
    };
    const deps = stepDeps(spec, environment, restored);
    for (const step of stepsFor(spec, environment, 'deploy')) {
      try {
        await runStep(step, target, deps);
      } catch (error) {
        await store.writeTransaction((trx) =>
          appendAudit(trx, rotor.clock, actor, {
            secret: spec.name,
            environment,
            action: 'rotate.redeploy',
            outcome: 'failure',
            notes: `warning: ${errorInfo(error).message}`,
            details: { rotation: rotationId, version: previous.id },
          }),
        );
      }
    }
    const rolledBack = await getVersion(store.db, versionId);
    if (rolledBack?.stage === 'previous') {
      await retireVersion(store, master, actor, spec, rolledBack, {
        compromised: false,
        early: false,
        reason: `rolled back: ${failure.message}`,
      });
    }
    progress({ secret: spec.name, environment, step: 'rollback', phase: 'done' });
    return new RotorError(
      'ERR_ROTOR_STAGE_FAILED',
      `${failure.message}; rolled back: ${environment} is on the previous version again`,
      { cause: failure, details: failure.details },
    );
  }

  /**
   * After promotion: an emergency retires the old version at once and runs the kind's actions;
   * then the staged flow runs. A failing step rolls the environment back (or, in an emergency,
   * whose old version is revoked, fails the rotation with the new version current) and throws.
   */
  async function finish(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
    emergency: boolean,
    reason: string | undefined,
  ): Promise<{ retired: string[]; actions: string[] }> {
    const retired: string[] = [];
    const actions: string[] = [];
    if (emergency) {
      progress({ secret: spec.name, environment, step: 'emergency', phase: 'start' });
      const previous = await versionInStage(store.db, spec.name, environment, 'previous');
      if (previous) {
        await retireVersion(store, master, actor, spec, previous, {
          compromised: true,
          early: true,
          ...(reason ? { reason } : {}),
          method: 'emergency',
        });
        retired.push(previous.id);
      }
      const rotator = rotor.rotator(spec.kind);
      if (rotator.emergencyActions) {
        // Emergency actions may revoke the app's sessions through the store rotor.yaml names.
        const sessions = sessionRevoker(
          rotor.policy().sessions,
          rotor.env,
          environment,
          rotor.clock,
          reason,
        );
        actions.push(
          ...(await rotator.emergencyActions({
            ...context(spec, environment, rotationId, true),
            ...(sessions ? { sessions } : {}),
          })),
        );
      }
      progress({
        secret: spec.name,
        environment,
        step: 'emergency',
        phase: 'done',
        detail: actions.join('; '),
      });
    }
    const failure = await runStages(store, master, actor, spec, environment, rotationId, versionId);
    if (failure && !emergency)
      throw await rollBackPromotion(
        store,
        master,
        actor,
        spec,
        environment,
        rotationId,
        versionId,
        failure,
      );
    if (failure) {
      await failPromoted(
        store,
        actor,
        spec,
        environment,
        rotationId,
        versionId,
        failure,
        `${failure.message}; emergency: the new version stays current and the old one stays revoked, so fix the failing step and redeploy`,
      );
      throw failure;
    }
    await store.writeTransaction(async (trx) => {
      const now = rotor.clock.now();
      await trx
        .updateTable('rotations')
        .set({ state: 'succeeded', finished_at: now, updated_at: now })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: emergency ? 'rotate.emergency' : 'rotate.success',
        outcome: 'success',
        ...(emergency ? { method: 'emergency' as Method } : {}),
        notes: [reason, ...actions].filter(Boolean).join('; '),
        details: { rotation: rotationId, retired: retired.join(',') || null },
      });
    });
    return { retired, actions };
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
  async function publishAheadMs(
    store: Store,
    spec: SecretSpec,
    environment: string,
    emergency: boolean,
  ): Promise<number> {
    if (emergency) return 0;
    const ms = rotor.rotator(spec.kind).publishAhead?.(spec.config) ?? 0;
    if (ms <= 0) return 0;
    return (await versionInStage(store.db, spec.name, environment, 'current')) ? ms : 0;
  }

  /** Pending → standby and the rotation parked as `waiting` until `promote_after`. One transaction. */
  async function standby(
    store: Store,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
    aheadMs: number,
  ): Promise<number> {
    const now = rotor.clock.now();
    const promoteAfter = now + aheadMs;
    await store.writeTransaction(async (trx) => {
      await trx
        .updateTable('versions')
        .set({ stage: 'standby' })
        .where('id', '=', versionId)
        .where('stage', '=', 'pending')
        .execute();
      await trx
        .updateTable('rotations')
        .set({
          state: 'waiting',
          step: 'standby',
          step_state: 'done',
          promote_after: promoteAfter,
          updated_at: now,
        })
        .where('id', '=', rotationId)
        .execute();
      await appendAudit(trx, rotor.clock, actor, {
        secret: spec.name,
        environment,
        action: 'rotate.standby',
        outcome: 'success',
        notes: `new version published in standby; it may become current from ${new Date(promoteAfter).toISOString()} (publish-ahead ${formatDuration(aheadMs)})`,
        details: {
          rotation: rotationId,
          version: versionId,
          promote_after: new Date(promoteAfter).toISOString(),
        },
      });
    });
    rotor.logger.debug({ rotation: rotationId, step: 'standby', state: 'waiting' }, 'journaled');
    await hook('standby:done');
    return promoteAfter;
  }

  type AfterVerify =
    | { parked: true; promoteAfter: number }
    | {
        parked: false;
        promoted: Awaited<ReturnType<typeof promote>>;
        finished: Awaited<ReturnType<typeof finish>>;
      };

  /** A verified pending version goes to standby when its kind publishes ahead, else current. */
  async function afterVerify(
    store: Store,
    master: MasterKey,
    actor: Actor,
    spec: SecretSpec,
    environment: string,
    rotationId: string,
    versionId: string,
    emergency: boolean,
    reason: string | undefined,
  ): Promise<AfterVerify> {
    const aheadMs = await publishAheadMs(store, spec, environment, emergency);
    if (aheadMs > 0) {
      const promoteAfter = await timed(spec, environment, 'standby', () =>
        standby(store, actor, spec, environment, rotationId, versionId, aheadMs),
      );
      return { parked: true, promoteAfter };
    }
    const promoted = await timed(spec, environment, 'promote', () =>
      promote(store, master, actor, spec, environment, rotationId, versionId, emergency),
    );
    const finished = await finish(
      store,
      master,
      actor,
      spec,
      environment,
      rotationId,
      versionId,
      emergency,
      reason,
    );
    return { parked: false, promoted, finished };
  }

  type WaitingRotation = Selectable<RotationsTable>;

  /**
   * Continues a `waiting` rotation: too early, nothing changes; otherwise the standby version
   * is verified again and promoted. Callers hold the secret+environment lock. A failed verify
   * fails the rotation (the standby version is destroyed); any other error leaves a state
   * that the next attempt or `resume` picks up.
   */
  async function continueStandby(
    store: Store,
    master: MasterKey,
    requester: Actor,
    spec: SecretSpec,
    rotation: WaitingRotation,
  ): Promise<
    | { early: true; promoteAfter: number; versionId: string }
    | {
        early: false;
        versionId: string;
        promoted: Awaited<ReturnType<typeof promote>>;
        finished: Awaited<ReturnType<typeof finish>>;
      }
  > {
    const actor: Actor = { ...requester, method: rotation.method };
    const environment = rotation.environment;
    const row = rotation.pending_version_id
      ? await getVersion(store.db, rotation.pending_version_id)
      : undefined;
    if (row?.stage !== 'standby') {
      // Standby and waiting are written in one transaction, so this is a damaged store.
      const why = new RotorError(
        'ERR_ROTOR_ROTATION_FAILED',
        `the standby version of rotation ${rotation.id} is missing; rolled back`,
      );
      await failRotation(store, actor, spec, environment, rotation.id, null, why, 'rolled_back');
      throw why;
    }
    const promoteAfter = rotation.promote_after ?? 0;
    if (rotor.clock.now() < promoteAfter) return { early: true, promoteAfter, versionId: row.id };
    const emergency = rotation.method === 'emergency';
    try {
      await timed(spec, environment, 'verify', () =>
        rotor
          .rotator(spec.kind)
          .verify(context(spec, environment, row.id, emergency), stored(master, row)),
      );
    } catch (error) {
      await failRotation(store, actor, spec, environment, rotation.id, row.id, error, 'failed');
      throw error;
    }
    const promoted = await timed(spec, environment, 'promote', () =>
      promote(store, master, actor, spec, environment, rotation.id, row.id, emergency),
    );
    const finished = await finish(
      store,
      master,
      actor,
      spec,
      environment,
      rotation.id,
      row.id,
      emergency,
      rotation.reason ?? undefined,
    );
    return { early: false, versionId: row.id, promoted, finished };
  }

  function succeeded(
    environment: string,
    rotationId: string,
    versionId: string,
    promoted: Awaited<ReturnType<typeof promote>>,
    finished: Awaited<ReturnType<typeof finish>>,
    emergency: boolean,
    started: number,
  ): EnvironmentResult {
    return {
      environment,
      rotationId,
      outcome: 'succeeded',
      versionId,
      ...(promoted.previousId ? { previousVersionId: promoted.previousId } : {}),
      retiredVersionIds: [...promoted.retired, ...finished.retired],
      ...(promoted.graceUntil ? { graceUntil: new Date(promoted.graceUntil).toISOString() } : {}),
      ...(emergency ? { emergencyActions: finished.actions } : {}),
      ms: performance.now() - started,
    };
  }

  /** `rotate` on a secret whose rotation waits in standby: continue it, or say when it can. */
  async function continueWaiting(
    store: Store,
    master: MasterKey,
    requester: Actor,
    spec: SecretSpec,
    rotation: WaitingRotation,
    started: number,
  ): Promise<EnvironmentResult> {
    const environment = rotation.environment;
    try {
      const next = await continueStandby(store, master, requester, spec, rotation);
      if (next.early) {
        const at = new Date(next.promoteAfter).toISOString();
        return {
          environment,
          rotationId: rotation.id,
          outcome: 'waiting',
          versionId: next.versionId,
          promoteAfter: at,
          retiredVersionIds: [],
          error: {
            code: 'ERR_ROTOR_ROTATION_WAITING',
            message: `standby version ${next.versionId} is published but may become current only from ${at} (in ${formatDuration(next.promoteAfter - rotor.clock.now())}), so that verifiers' key caches hold it: run this again then`,
          },
          ms: performance.now() - started,
        };
      }
      return succeeded(
        environment,
        rotation.id,
        next.versionId,
        next.promoted,
        next.finished,
        false,
        started,
      );
    } catch (error) {
      return {
        environment,
        rotationId: rotation.id,
        outcome: 'failed',
        retiredVersionIds: [],
        error: errorInfo(error),
        ms: performance.now() - started,
      };
    }
  }

  /**
   * An emergency on a secret whose rotation waits in standby: the standby version is destroyed
   * (it lived in the same store the emergency distrusts, and never signed) and its rotation
   * rolled back; the emergency rotation then makes a fresh key current at once.
   */
  async function supersedeStandby(
    store: Store,
    actor: Actor,
    spec: SecretSpec,
    rotation: WaitingRotation,
  ): Promise<void> {
    const why = new RotorError(
      'ERR_ROTOR_ROTATION_SUPERSEDED',
      'superseded by an emergency rotation; the standby version never signed and is destroyed',
    );
    await failRotation(
      store,
      actor,
      spec,
      rotation.environment,
      rotation.id,
      rotation.pending_version_id,
      why,
      'rolled_back',
    );
  }

  async function timed<T>(
    spec: SecretSpec,
    environment: string,
    step: RotationStep,
    fn: () => Promise<T>,
  ): Promise<T> {
    const start = performance.now();
    progress({ secret: spec.name, environment, step, phase: 'start' });
    try {
      const result = await fn();
      const ms = performance.now() - start;
      rotor.logger.info({ secret: spec.name, environment, step, ms }, 'rotation step done');
      progress({ secret: spec.name, environment, step, phase: 'done', ms });
      return result;
    } catch (error) {
      const code = errorInfo(error).code;
      rotor.logger.warn({ secret: spec.name, environment, step, code }, 'rotation step failed');
      progress({
        secret: spec.name,
        environment,
        step,
        phase: 'failed',
        ms: performance.now() - start,
        detail: code,
      });
      throw error;
    }
  }

  async function rotateOne(
    store: Store,
    requester: Actor,
    spec: SecretSpec,
    environment: string,
    request: RotateRequest,
  ): Promise<EnvironmentResult> {
    const started = performance.now();
    const emergency = Boolean(request.emergency);
    const method: Method = emergency ? 'emergency' : request.method;
    // Every row this rotation writes carries its method, not the command's default.
    const actor: Actor = { ...requester, method };
    const rotator: AnyRotator = rotor.rotator(spec.kind);
    const master = await rotor.masterKey();
    const lock = await acquireLock(store, rotor.clock, lockName(spec.name, environment));
    const rotationId = randomUUID();
    const versionId = randomUUID();
    let pendingStored = false;
    let journaled = false;
    try {
      const waiting = await store.db
        .selectFrom('rotations')
        .selectAll()
        .where('secret', '=', spec.name)
        .where('environment', '=', environment)
        .where('state', '=', 'waiting')
        .executeTakeFirst();
      if (waiting && !emergency)
        return await continueWaiting(store, master, requester, spec, waiting, started);
      if (waiting) await supersedeStandby(store, actor, spec, waiting);
      const interrupted = await store.db
        .selectFrom('rotations')
        .select('id')
        .where('secret', '=', spec.name)
        .where('environment', '=', environment)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (interrupted) {
        throw new RotorError(
          'ERR_ROTOR_ROTATION_IN_PROGRESS',
          `${spec.name}/${environment} has an interrupted rotation (${interrupted.id}): run \`rotor resume\` first`,
          {
            details: { rotation: interrupted.id },
          },
        );
      }
      const input =
        typeof request.input === 'function' ? await request.input(environment) : request.input;
      const ctx = context(spec, environment, versionId, emergency, input);
      // Operator-supplied values are checked before anything is journaled: a typo is bad
      // input, not a failed rotation, and must leave no trace but the error.
      const early = rotator.source === 'operator' ? await rotator.create(ctx) : undefined;
      if (early) assertValueAcceptable(spec, early.value, rotator);
      const now = rotor.clock.now();
      await store.writeTransaction(async (trx) => {
        await trx
          .insertInto('rotations')
          .values({
            id: rotationId,
            secret: spec.name,
            environment,
            method,
            operator: actor.operator,
            request_id: actor.requestId,
            reason: request.reason ?? null,
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
        await appendAudit(trx, rotor.clock, actor, {
          secret: spec.name,
          environment,
          action: 'rotate.start',
          outcome: 'started',
          method,
          notes: request.reason ?? '',
          details: { rotation: rotationId, version: versionId, kind: spec.kind },
        });
      });
      journaled = true;
      await hook('create:started');
      const material = await timed(
        spec,
        environment,
        'create',
        async () => early ?? rotator.create(ctx),
      );
      // Not a journal write: the provider holds the new credential, Rotor does not yet (crash tests).
      await hook('create:done');
      assertValueAcceptable(spec, material.value, rotator);
      // apply: the engine stores the pending version, sealed, then the rotator makes it real.
      const done = (step: RotationStep) => ({ actor, spec, environment, step, versionId });
      await journal(store, rotationId, 'apply', 'started', done('create'), async (trx) => {
        await assertMasterKeyCurrent(trx, master);
        await insertVersion(trx, master, {
          id: versionId,
          secret: spec.name,
          environment,
          stage: 'pending',
          origin: rotator.source === 'operator' ? 'manual' : 'generated',
          value: material.value,
          meta: material.meta,
          now: rotor.clock.now(),
          rotatedAt: null,
          rotationId,
        });
        await trx
          .updateTable('rotations')
          .set({ pending_version_id: versionId })
          .where('id', '=', rotationId)
          .execute();
      });
      pendingStored = true;
      const pending: StoredMaterial = { versionId, value: material.value, meta: material.meta };
      await timed(spec, environment, 'apply', () => rotator.apply(ctx, pending));
      await journal(store, rotationId, 'verify', 'started', done('apply'));
      await timed(spec, environment, 'verify', () => rotator.verify(ctx, pending));
      await journal(store, rotationId, 'verify', 'done', done('verify'));
      const next = await afterVerify(
        store,
        master,
        actor,
        spec,
        environment,
        rotationId,
        versionId,
        emergency,
        request.reason,
      );
      if (next.parked) {
        return {
          environment,
          rotationId,
          outcome: 'standby',
          versionId,
          promoteAfter: new Date(next.promoteAfter).toISOString(),
          retiredVersionIds: [],
          ms: performance.now() - started,
        };
      }
      return succeeded(
        environment,
        rotationId,
        versionId,
        next.promoted,
        next.finished,
        emergency,
        started,
      );
    } catch (error) {
      if (!journaled) throw error;
      const rotationExists = await store.db
        .selectFrom('rotations')
        .select(['state', 'step', 'step_state'])
        .where('id', '=', rotationId)
        .executeTakeFirst();
      if (rotationExists?.state === 'running') {
        const promotedAlready =
          (rotationExists.step === 'promote' && rotationExists.step_state === 'done') ||
          ['deploy', 'smoke', 'health'].includes(rotationExists.step);
        if (!promotedAlready)
          await failRotation(
            store,
            actor,
            spec,
            environment,
            rotationId,
            pendingStored ? versionId : null,
            error,
            'failed',
            pendingStored ? undefined : versionId,
          );
      }
      return {
        environment,
        rotationId,
        outcome: 'failed',
        retiredVersionIds: [],
        error: errorInfo(error),
        ms: performance.now() - started,
      };
    } finally {
      await lock.release();
    }
  }

  return {
    /** Rotates one secret through its environments in policy order; stops at the first failure. */
    async rotate(actor: Actor, request: RotateRequest): Promise<RotateResult> {
      const spec = rotor.secret(request.secret);
      if (spec.kind === MASTER_KEY_KIND) {
        throw new RotorError(
          'ERR_ROTOR_ROTATION_NOT_SUPPORTED',
          `${spec.name} is Rotor's own master key: rotate it with \`rotor master-key rotate\``,
        );
      }
      const rotator = rotor.rotator(spec.kind);
      const envs =
        request.environments ??
        rotor.policy().environments.filter((e) => spec.environments.includes(e));
      for (const env of envs) rotor.assertEnvironment(spec, env);
      if (request.emergency && !request.reason) {
        throw new RotorError(
          'ERR_ROTOR_RETIRE_REASON_REQUIRED',
          'an emergency rotation needs --reason: it is recorded in the audit log',
        );
      }
      if (rotator.source === 'operator' && request.input === undefined) {
        throw new RotorError(
          'ERR_ROTOR_VALUE_MISSING',
          `${spec.name} is a ${spec.kind} secret: give the new value on stdin, with --from-file, or at the prompt`,
        );
      }
      const store = await rotor.store();
      await assertApplied(store, spec.name);
      const results: EnvironmentResult[] = [];
      for (const environment of envs) {
        const result = await rotateOne(store, actor, spec, environment, request);
        results.push(result);
        // A standby environment passed verify; any other outcome but success stops the run.
        if (result.outcome !== 'succeeded' && result.outcome !== 'standby') break;
      }
      for (const environment of envs.slice(results.length)) {
        results.push({
          environment,
          rotationId: '',
          outcome: 'skipped',
          retiredVersionIds: [],
          ms: 0,
        });
      }
      const emergency = Boolean(request.emergency);
      return {
        secret: spec.name,
        method: emergency ? 'emergency' : request.method,
        emergency,
        results,
        ok: results.every((r) => r.outcome === 'succeeded' || r.outcome === 'standby'),
      };
    },

    /**
     * Finishes (after verify) or rolls back (before it) every interrupted rotation, and promotes
     * standby versions whose publish-ahead time has passed (others stay waiting).
     */
    async resume(actor: Actor): Promise<ResumeOutcome[]> {
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
          lock = await acquireLock(
            store,
            rotor.clock,
            lockName(rotation.secret, rotation.environment),
          );
        } catch (error) {
          outcomes.push({ ...base, action: 'skipped', detail: errorInfo(error).message });
          continue;
        }
        try {
          const fresh = await store.db
            .selectFrom('rotations')
            .selectAll()
            .where('id', '=', rotation.id)
            .executeTakeFirstOrThrow();
          if (fresh.state !== 'running' && fresh.state !== 'waiting') {
            outcomes.push({ ...base, action: 'skipped', detail: `already ${fresh.state}` });
            continue;
          }
          const spec = rotor.secret(fresh.secret);
          if (fresh.state === 'waiting') {
            const next = await continueStandby(store, master, actor, spec, fresh);
            outcomes.push(
              next.early
                ? {
                    ...base,
                    action: 'waiting',
                    detail: `standby version ${next.versionId} becomes current from ${new Date(next.promoteAfter).toISOString()}`,
                  }
                : {
                    ...base,
                    action: 'completed',
                    detail: 'standby version promoted after its publish-ahead time',
                  },
            );
            continue;
          }
          const emergency = fresh.method === 'emergency';
          const pending = fresh.pending_version_id
            ? await getVersion(store.db, fresh.pending_version_id)
            : undefined;
          const promoted =
            pending?.stage === 'current' ||
            pending?.stage === 'previous' ||
            (fresh.step === 'promote' && fresh.step_state === 'done');
          const verified =
            (fresh.step === 'verify' && fresh.step_state === 'done') || fresh.step === 'promote';
          if (promoted) {
            await finish(
              store,
              master,
              actor,
              spec,
              fresh.environment,
              fresh.id,
              fresh.pending_version_id ?? '',
              emergency,
              fresh.reason ?? undefined,
            );
            outcomes.push({
              ...base,
              action: 'completed',
              detail: 'promotion had committed; finished the rotation',
            });
          } else if (verified && pending?.stage === 'pending') {
            // Verified material: verify again (idempotent) and promote, rather than waste it.
            const ctx = context(spec, fresh.environment, pending.id, emergency);
            await rotor.rotator(spec.kind).verify(ctx, stored(master, pending));
            // Kinds that publish ahead park it in standby here too: a crash must not skip the wait.
            const next = await afterVerify(
              store,
              master,
              actor,
              spec,
              fresh.environment,
              fresh.id,
              pending.id,
              emergency,
              fresh.reason ?? undefined,
            );
            outcomes.push(
              next.parked
                ? {
                    ...base,
                    action: 'waiting',
                    detail: `verified version moved to standby; it becomes current from ${new Date(next.promoteAfter).toISOString()}`,
                  }
                : { ...base, action: 'completed', detail: 'verified version promoted' },
            );
          } else {
            const why = new RotorError(
              'ERR_ROTOR_ROTATION_FAILED',
              `interrupted during ${fresh.step} (${fresh.step_state}); rolled back by resume`,
            );
            const planned = fresh.pending_version_id
              ? undefined
              : await plannedVersionId(store, fresh);
            await failRotation(
              store,
              actor,
              spec,
              fresh.environment,
              fresh.id,
              pending?.stage === 'pending' ? pending.id : null,
              why,
              'rolled_back',
              planned,
            );
            outcomes.push({
              ...base,
              action: 'rolled-back',
              detail: `interrupted during ${fresh.step}; the current version is unchanged`,
            });
          }
        } catch (error) {
          // A deploy hook or check that failed again has already rolled the environment back.
          const rolledBack = isRotorError(error, 'ERR_ROTOR_STAGE_FAILED');
          outcomes.push({
            ...base,
            action: rolledBack ? 'rolled-back' : 'skipped',
            detail: errorInfo(error).message,
          });
        } finally {
          await lock.release();
        }
      }
      // Pending versions left without a running rotation (a crash inside the apply step).
      const orphans = await store.db
        .selectFrom('versions')
        .select(['id', 'secret', 'environment'])
        .where('stage', '=', 'pending')
        .execute();
      for (const o of orphans) {
        const owner = await store.db
          .selectFrom('rotations')
          .select('state')
          .where('pending_version_id', '=', o.id)
          .executeTakeFirst();
        if (owner?.state === 'running') continue;
        await store.writeTransaction((trx) =>
          destroyVersion(trx, o.id, rotor.clock.now(), 'failed'),
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
    },

    /** Retires previous versions whose grace has passed (or, with `now`, at once). */
    async retire(actor: Actor, request: RetireRequest): Promise<RetiredVersion[]> {
      if (request.now && !request.reason) {
        throw new RotorError(
          'ERR_ROTOR_RETIRE_REASON_REQUIRED',
          'retiring before the grace window ends needs --reason: it is recorded in the audit log',
        );
      }
      if (request.now && !request.secret) {
        throw new RotorError(
          'ERR_ROTOR_CLI_USAGE',
          'retire --now needs a secret name: it cuts a grace window short',
        );
      }
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
          const outcome = await retireVersion(store, master, actor, rowSpec, fresh, {
            compromised: false,
            early,
            ...(request.reason ? { reason: request.reason } : {}),
            ...(request.force ? { force: true } : {}),
          });
          if ('postponed' in outcome)
            retired.push({
              secret: row.secret,
              environment: row.environment,
              versionId: row.id,
              early,
              postponed: true,
              reason: outcome.postponed,
            });
          else
            retired.push({
              secret: row.secret,
              environment: row.environment,
              versionId: row.id,
              early,
              ...(outcome.proof ? { proof: outcome.proof } : {}),
            });
        } finally {
          await lock.release();
        }
      }
      return retired;
    },
  };
}

export type RotationEngine = ReturnType<typeof createRotationEngine>;

/**
 * The id the new version of an interrupted rotation would have had. Until the version is stored
 * only the rotation's `rotate.start` audit row (written with the rotation row) holds it.
 */
async function plannedVersionId(
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

async function assertApplied(store: Store, name: string): Promise<void> {
  const row = await store.db
    .selectFrom('secrets')
    .select('name')
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) {
    throw new RotorError(
      'ERR_ROTOR_SECRET_NOT_APPLIED',
      `${name} is in rotor.yaml but not in the store yet: run \`rotor apply\``,
      { details: { secret: name } },
    );
  }
}
