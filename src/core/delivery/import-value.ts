// Adopting a value a team already uses as the first current version, with its real rotation date;
// replacing a current value is `rotor rotate`'s job.
import type { Kysely } from 'kysely';
import { appendAudit, type Actor } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { newId } from '../crypto/generate.js';
import { RotorError } from '../errors.js';
import type { SecretSpec } from '../policy/policy.js';
import type { Material } from '../rotator/rotator-contract.js';
import type { Database } from '../store/schema.js';
import { insertVersion } from '../vault/versions.js';
import { assertReadable } from './read-values.js';
import { assertValueAcceptable } from '../policy/value-limits.js';

export interface ImportValueInput {
  secret: string;
  environment: string;
  value: string;
  /** When the value was really last rotated (ms since the epoch), or null when unknown. */
  rotatedAt: number | null;
}

export interface ImportResult {
  secret: string;
  environment: string;
  versionId: string;
  rotatedAt: number | null;
  promotedAt: number;
}

/** Why `secret` cannot take an imported value in `environment` now, or undefined. */
async function conflict(
  db: Kysely<Database>,
  secret: string,
  environment: string,
): Promise<RotorError | undefined> {
  const running = await db
    .selectFrom('rotations')
    .select('id')
    .where('secret', '=', secret)
    .where('environment', '=', environment)
    .where('state', '=', 'running')
    .executeTakeFirst();
  if (running) {
    return new RotorError(
      'ERR_ROTOR_ROTATION_IN_PROGRESS',
      `${secret}/${environment} has a rotation in progress (${running.id}): finish it with \`rotor resume\` before importing`,
      {
        details: { secret, environment, rotationId: running.id },
      },
    );
  }
  const live = await db
    .selectFrom('versions')
    .select(['id', 'stage'])
    .where('secret', '=', secret)
    .where('environment', '=', environment)
    .where('stage', 'in', ['current', 'pending'])
    .executeTakeFirst();
  if (live) {
    return new RotorError(
      'ERR_ROTOR_IMPORT_EXISTS',
      `${secret} already has a ${live.stage} version in ${environment} (${live.id}): import only adopts a secret Rotor does not hold yet; to change its value use \`rotor rotate ${secret} --env ${environment}\``,
      { details: { secret, environment, versionId: live.id } },
    );
  }
  return undefined;
}

/**
 * Checks everything that does not need the value: the secret, its kind, the environment, that
 * `rotor apply` has stored it, and that it has no current version yet. Commands call this
 * before prompting, so nobody types a secret only to be told it cannot be stored.
 */
export async function assertImportable(
  rotor: Rotor,
  secret: string,
  environment: string,
): Promise<SecretSpec> {
  const spec = assertReadable(rotor, secret, environment);
  const store = await rotor.store();
  const problem = await store.guard(async () => {
    const applied = await store.db
      .selectFrom('secrets')
      .select('name')
      .where('name', '=', secret)
      .executeTakeFirst();
    if (!applied) {
      return new RotorError(
        'ERR_ROTOR_SECRET_NOT_APPLIED',
        `${secret} is in ${rotor.policyFile} but not in the store yet: run \`rotor apply\` first`,
        {
          details: { secret },
        },
      );
    }
    return conflict(store.db, secret, environment);
  });
  if (problem) throw problem;
  return spec;
}

/** ERR_ROTOR_DATE_INVALID for a last-rotation date that is not a date or lies in the future. */
export function assertRotatedAt(rotatedAt: number | null, now: number): void {
  if (rotatedAt === null) return;
  if (!Number.isFinite(rotatedAt))
    throw new RotorError('ERR_ROTOR_DATE_INVALID', 'the last-rotation date is not a valid date');
  if (rotatedAt > now) {
    const at = new Date(rotatedAt).toISOString();
    throw new RotorError(
      'ERR_ROTOR_DATE_INVALID',
      `the last-rotation date ${at} is in the future: give the date the value was really last changed`,
      {
        details: { rotatedAt: at },
      },
    );
  }
}

/** Generic checks for kinds without a validateImport hook. */
function genericMaterial(spec: SecretSpec, value: string): Material {
  if (value.length === 0)
    throw new RotorError('ERR_ROTOR_VALUE_MISSING', `${spec.name}: the value is empty`);
  return { value, meta: {} };
}

/** The value as the kind stores it, checked before and after the kind's validateImport. */
async function importedMaterial(
  rotor: Rotor,
  spec: SecretSpec,
  input: ImportValueInput & { versionId: string },
): Promise<Material> {
  const { secret, environment, value, versionId } = input;
  const rotator = rotor.rotator(spec.kind);
  // Size, NUL and blank values, whatever the kind, before the kind's own checks.
  assertValueAcceptable(spec, value, rotator);
  const material = rotator.validateImport
    ? await rotator.validateImport(
        {
          secret,
          environment,
          versionId,
          config: spec.config,
          clock: rotor.clock,
          input: value,
          emergency: false,
        },
        value,
      )
    : genericMaterial(spec, value);
  if (material.value !== value) assertValueAcceptable(spec, material.value, rotator);
  return material;
}

/**
 * Stores `input.value` as the current version of a secret in one environment, audited as
 * `import`. Refuses a future `rotatedAt`, a value the kind rejects, and a secret that already
 * has a current (or pending) version there.
 *
 * @example
 * await importValue(rotor, actor, { secret: 'SMTP_PASSWORD', environment: 'production', value, rotatedAt: Date.parse('2025-06-01') });
 */
export async function importValue(
  rotor: Rotor,
  actor: Actor,
  input: ImportValueInput,
): Promise<ImportResult> {
  const { secret, environment } = input;
  const spec = await assertImportable(rotor, secret, environment);
  const now = rotor.clock.now();
  assertRotatedAt(input.rotatedAt, now);
  const versionId = newId();
  const material = await importedMaterial(rotor, spec, { ...input, versionId });
  const master = await rotor.masterKey();
  const store = await rotor.store();
  await store.writeTransaction(async (trx) => {
    // Checked again under the write lock: a rotation or import may have landed since.
    const problem = await conflict(trx, secret, environment);
    if (problem) throw problem;
    await insertVersion(trx, master, {
      id: versionId,
      secret,
      environment,
      stage: 'current',
      origin: 'import',
      value: material.value,
      meta: material.meta,
      now,
      rotatedAt: input.rotatedAt,
      promotedAt: now,
      rotationId: null,
    });
    await appendAudit(trx, rotor.clock, actor, {
      secret,
      environment,
      action: 'import',
      outcome: 'success',
      notes:
        input.rotatedAt === null
          ? 'adopted an existing value; last rotation date unknown'
          : 'adopted an existing value with its last rotation date',
      details: {
        versionId,
        origin: 'import',
        rotatedAt: input.rotatedAt === null ? null : new Date(input.rotatedAt).toISOString(),
      },
    });
  });
  return { secret, environment, versionId, rotatedAt: input.rotatedAt, promotedAt: now };
}
