// The staged flow after promotion: deploy hooks, then smoke tests, then health checks, each
// journaled and audited; the first failure is answered, so the caller chooses the rollback.
import { dirname } from 'node:path';
import { recordAudit } from '../../audit/audit-log.js';
import { RotorError, isRotorError } from '../../errors.js';
import type { SecretSpec } from '../../policy/policy.js';
import { getVersion, versionInStage, type VersionRow } from '../../vault/versions.js';
import { journal } from '../journal.js';
import type { StoredMaterial } from '../../rotator/rotator-contract.js';
import {
  errorInfo,
  readCurrent,
  rotatorContext,
  stored,
  where,
  type EngineServices,
  type RotationRun,
} from '../rotation-run.js';
import { runStep, type StepDeps, type StepTarget } from './run-step.js';
import type { StageStep } from '../../policy/stage-schema.js';

/** The steps of `spec` that run in `environment` (of one stage, or all of them in order). */
export function stepsFor(
  spec: Pick<SecretSpec, 'stages'>,
  environment: string,
  stage?: StageStep['stage'],
): StageStep[] {
  return spec.stages.filter(
    (s) =>
      (!s.environments || s.environments.includes(environment)) && (!stage || s.stage === stage),
  );
}

/** What a step may use: the policy's directory, other secrets by reference, the kind's SQL. */
export function stepDeps(
  services: EngineServices,
  run: Pick<RotationRun, 'spec' | 'environment'>,
  material: StoredMaterial,
): StepDeps {
  const { rotor } = services;
  const rotator = rotor.rotator(run.spec.kind);
  const ctx = rotatorContext(services, {
    spec: run.spec,
    environment: run.environment,
    versionId: material.versionId,
    emergency: false,
  });
  return {
    env: rotor.env,
    baseDir: dirname(rotor.policyFile),
    readSecret: (name: string) => readCurrent(services, name, run.environment),
    ...(rotator.runSql
      ? {
          runSql: (statement: string, timeoutMs: number) =>
            rotator.runSql!(ctx, material, statement, timeoutMs),
        }
      : {}),
  };
}

/**
 * What the steps are about: `material`'s value, with the value of `other` (the version it
 * replaced, or the one a rollback abandons) masked in hook output too.
 */
export function stepTarget(
  run: RotationRun,
  material: StoredMaterial,
  other: VersionRow | undefined,
): StepTarget {
  return {
    ...where(run),
    versionId: material.versionId,
    rotationId: run.rotationId,
    value: material.value,
    otherValues: other?.ciphertext ? [stored(run.master, other).value] : [],
  };
}

/**
 * Runs the staged flow for the run's new version. Resolves with the first failure (or
 * undefined); never throws for a failing step.
 */
export async function runStages(
  services: EngineServices,
  run: RotationRun,
): Promise<RotorError | undefined> {
  const steps = stepsFor(run.spec, run.environment);
  if (steps.length === 0) return undefined;
  const row = await getVersion(run.store.db, run.versionId);
  if (!row?.ciphertext)
    return new RotorError(
      'ERR_ROTOR_STAGE_FAILED',
      `${run.spec.name}/${run.environment}: version ${run.versionId} has no value to deploy`,
    );
  const material = stored(run.master, row);
  // The value it replaced is masked in hook output too (a hook may print the old one).
  const replaced = await versionInStage(run.store.db, run.spec.name, run.environment, 'previous');
  const target = stepTarget(run, material, replaced);
  const deps = stepDeps(services, run, material);
  let stage: StageStep['stage'] | undefined;
  for (const step of steps) {
    if (step.stage !== stage) {
      stage = step.stage;
      await journal(services, run, { step: stage, state: 'started' });
    }
    const failure = await runStaged(services, run, step, () => runStep(step, target, deps));
    if (failure) return failure;
  }
  await services.hook(`${stage}:done`);
  return undefined;
}

/** One step with its progress events and audit row; a failure is answered, not thrown. */
async function runStaged(
  services: EngineServices,
  run: RotationRun,
  step: StageStep,
  fn: () => Promise<string>,
): Promise<RotorError | undefined> {
  const { rotor } = services;
  const event = { ...where(run), step: step.stage, detail: step.name };
  const started = performance.now();
  services.progress({ ...event, phase: 'start' });
  try {
    const answer = await fn();
    const ms = performance.now() - started;
    services.progress({ ...event, phase: 'done', ms });
    await recordAudit(run.store, rotor.clock, run.actor, {
      ...where(run),
      action: `rotate.${step.stage}`,
      outcome: 'success',
      notes: `${step.name}: ${answer} in ${Math.round(ms)} ms`,
      details: { rotation: run.rotationId, version: run.versionId },
    });
    return undefined;
  } catch (error) {
    const info = errorInfo(error);
    const ms = performance.now() - started;
    services.progress({ ...event, phase: 'failed', ms, detail: info.code });
    rotor.logger.warn(
      { ...where(run), stage: step.stage, step: step.name, code: info.code },
      'stage step failed',
    );
    return isRotorError(error)
      ? error
      : new RotorError('ERR_ROTOR_STAGE_FAILED', info.message, { cause: error });
  }
}
