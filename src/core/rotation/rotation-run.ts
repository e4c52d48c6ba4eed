// The values every step of a rotation shares: the engine's services (one per engine) and the
// `RotationRun` (one per rotation of a secret in an environment), so a step takes two arguments.
import type { Actor } from '../audit/audit-log.js';
import type { MasterKey } from '../crypto/envelope.js';
import { errorInfo as coreErrorInfo, type RotorErrorCode } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import type { RotationStep } from '../store/schema.js';
import type { Store } from '../store/open-store.js';
import { openVersion, parseMeta, versionInStage, type VersionRow } from '../vault/versions.js';
import type { RotatorContext, StoredMaterial } from '../rotator/rotator-contract.js';
import type { EngineDeps, ProgressEvent } from './rotation-types.js';

/** What the engine's steps use for its whole life: Rotor, progress reports, crash-test hooks. */
export interface EngineServices {
  rotor: EngineDeps['rotor'];
  progress(event: ProgressEvent): void;
  /** After each journal write (tests kill the process here). */
  hook(point: string): Promise<void>;
}

/** What a step on one secret needs; a retire outside any rotation has only this much. */
export interface SecretScope {
  store: Store;
  master: MasterKey;
  /** Carries the method every row written for this run is audited with. */
  actor: Actor;
  spec: SecretSpec;
}

/** One rotation of one secret in one environment. */
export interface RotationRun extends SecretScope {
  environment: string;
  rotationId: string;
  /** The version this rotation makes (pending, standby, then current). */
  versionId: string;
  emergency: boolean;
  reason?: string;
}

export function createServices(deps: EngineDeps): EngineServices {
  return {
    rotor: deps.rotor,
    progress: (event) => deps.onProgress?.(event),
    hook: async (point) => {
      await deps.hooks?.afterJournal?.(point);
    },
  };
}

/** Core's errorInfo, where a failure that is not a RotorError counts as the rotation's. */
export function errorInfo(error: unknown): { code: RotorErrorCode; message: string } {
  return coreErrorInfo(error, { fallback: 'ERR_ROTOR_ROTATION_FAILED' });
}

/** The secret and environment of a run, as progress events and log lines name them. */
export function where(run: Pick<RotationRun, 'spec' | 'environment'>) {
  return { secret: run.spec.name, environment: run.environment };
}

export interface ContextTarget {
  spec: SecretSpec;
  environment: string;
  versionId: string;
  emergency: boolean;
  input?: string;
}

/** What a rotator's hooks see of a run: never the store, never another secret's value. */
export function rotatorContext(
  services: EngineServices,
  target: ContextTarget,
): RotatorContext<unknown> {
  const { rotor } = services;
  const { spec, environment } = target;
  return {
    secret: spec.name,
    environment,
    versionId: target.versionId,
    config: spec.config,
    clock: rotor.clock,
    emergency: target.emergency,
    ...(target.input === undefined ? {} : { input: target.input }),
    env: rotor.env,
    lifetimeMs: spec.cadence.maxMs + spec.graceMs,
    readSecret: (name) => readCurrent(services, name, environment),
  };
}

/** The current value of `name` in `environment`, for credentials rotor.yaml names by reference. */
export async function readCurrent(
  services: EngineServices,
  name: string,
  environment: string,
): Promise<string | undefined> {
  const store = await services.rotor.store();
  const row = await versionInStage(store.db, name, environment, 'current');
  return row ? openVersion(await services.rotor.masterKey(), row) : undefined;
}

export function stored(master: MasterKey, row: VersionRow): StoredMaterial {
  return { versionId: row.id, value: openVersion(master, row), meta: parseMeta(row) };
}

/** Runs one step with its progress events and log line. */
export async function timed<T>(
  services: EngineServices,
  run: Pick<RotationRun, 'spec' | 'environment'>,
  step: RotationStep,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  services.progress({ ...where(run), step, phase: 'start' });
  try {
    const result = await fn();
    const ms = performance.now() - start;
    services.rotor.logger.info({ ...where(run), step, ms }, 'rotation step done');
    services.progress({ ...where(run), step, phase: 'done', ms });
    return result;
  } catch (error) {
    const code = errorInfo(error).code;
    services.rotor.logger.warn({ ...where(run), step, code }, 'rotation step failed');
    const ms = performance.now() - start;
    services.progress({ ...where(run), step, phase: 'failed', ms, detail: code });
    throw error;
  }
}
