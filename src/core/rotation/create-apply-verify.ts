// Create, apply and verify: the new material is made, stored as the pending version and proven
// to work, each step journaled; the current version is not touched until verify has passed.
import { assertValueAcceptable } from '../policy/value-limits.js';
import { journal, openRotation, storePending } from './journal.js';
import { rotatorContext, timed, type EngineServices, type RotationRun } from './rotation-run.js';
import type { RotateRequest } from './rotation-types.js';
import type { StoredMaterial } from '../rotator/rotator-contract.js';

/** How far a new rotation got, for the rollback of a failure. */
export interface Reached {
  journaled: boolean;
  pendingStored: boolean;
}

/** The steps before promotion: the current version is not touched until verify has passed. */
export async function createApplyVerify(
  services: EngineServices,
  run: RotationRun,
  call: { request: RotateRequest; reached: Reached },
): Promise<void> {
  const { rotor } = services;
  const { spec, environment } = run;
  const rotator = rotor.rotator(spec.kind);
  const { input: given } = call.request;
  const input = typeof given === 'function' ? await given(environment) : given;
  const ctx = rotatorContext(services, { ...run, ...(input === undefined ? {} : { input }) });
  // Operator-supplied values are checked before anything is journaled: a typo is bad
  // input, not a failed rotation, and must leave no trace but the error.
  const early = rotator.source === 'operator' ? await rotator.create(ctx) : undefined;
  if (early) assertValueAcceptable(spec, early.value, rotator);
  await openRotation(services, run);
  call.reached.journaled = true;
  const material = await timed(services, run, 'create', async () => early ?? rotator.create(ctx));
  // Not a journal write: the provider holds the new credential, Rotor does not yet (crash tests).
  await services.hook('create:done');
  assertValueAcceptable(spec, material.value, rotator);
  // apply: the engine stores the pending version, sealed, then the rotator makes it real.
  const origin = rotator.source === 'operator' ? 'manual' : 'generated';
  await storePending(services, run, material, origin);
  call.reached.pendingStored = true;
  const pending: StoredMaterial = {
    versionId: run.versionId,
    value: material.value,
    meta: material.meta,
  };
  await timed(services, run, 'apply', () => rotator.apply(ctx, pending));
  await journal(services, run, { step: 'verify', state: 'started', completed: 'apply' });
  await timed(services, run, 'verify', () => rotator.verify(ctx, pending));
  await journal(services, run, { step: 'verify', state: 'done', completed: 'verify' });
}
