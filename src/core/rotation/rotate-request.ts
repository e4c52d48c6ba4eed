// What a `rotate` request must satisfy before anything is locked or journaled.
import { RotorError } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';
import type { Store } from '../store/open-store.js';
import type { EngineServices } from './rotation-run.js';
import type { RotateRequest } from './rotation-types.js';

/** Bad requests are refused before anything is locked or journaled. */
export function assertRotatable(
  services: EngineServices,
  asked: { spec: SecretSpec; envs: string[]; request: RotateRequest },
): void {
  const { rotor } = services;
  const { spec, request } = asked;
  if (spec.kind === MASTER_KEY_KIND) {
    throw new RotorError(
      'ERR_ROTOR_ROTATION_NOT_SUPPORTED',
      `${spec.name} is Rotor's own master key: rotate it with \`rotor master-key rotate\``,
    );
  }
  const rotator = rotor.rotator(spec.kind);
  for (const env of asked.envs) rotor.assertEnvironment(spec, env);
  if (request.emergency && !request.reason) {
    throw new RotorError(
      'ERR_ROTOR_EMERGENCY_REASON_REQUIRED',
      'an emergency rotation needs --reason: it is recorded in the audit log',
    );
  }
  if (rotator.source === 'operator' && request.input === undefined) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_MISSING',
      `${spec.name} is a ${spec.kind} secret: give the new value on stdin, with --from-file, or at the prompt`,
    );
  }
}

/** The secret must be in the store (`rotor apply`), not only in rotor.yaml. */
export async function assertApplied(store: Store, name: string): Promise<void> {
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
