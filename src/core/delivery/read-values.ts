// The values one environment sees (current, and previous during grace, with their kid companions);
// the audit row is written before any value is handed back.
import type { Kysely } from 'kysely';
import {
  appendAudit,
  appendAuditOn,
  type Actor,
  type AuditEventInput,
} from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import { RotorError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { SecretSpec } from '../policy/policy.js';
import { MASTER_KEY_KIND } from '../crypto/master-key-names.js';
import type { Database } from '../store/schema.js';
import { openVersion, parseMeta, type VersionRow } from '../vault/versions.js';
import {
  formatKidVariable,
  kidDescriptorOf,
  KID_SUFFIX,
  ON_ROTATE_SUFFIX,
  onRotateOf,
  PREVIOUS_KID_SUFFIX,
  PREVIOUS_UNTIL_SUFFIX,
} from './kid-variable.js';

export type DeliveredStage = 'current' | 'previous';

/** One value on its way out, with what the audit row and the caller need to name it. */
export interface DeliveredValue {
  secret: string;
  environment: string;
  stage: DeliveredStage;
  /** The environment variable it is delivered as: NAME, or NAME_PREVIOUS during grace. */
  variable: string;
  versionId: string;
  value: string;
  /** When a previous version stops being accepted (null for current). */
  retireAt: number | null;
  /**
   * What the variable carries: the secret value (the default), or a non-secret companion of a
   * version with a JWT kid: its kid descriptor (`NAME_KID`, `NAME_PREVIOUS_KID`), the grace end
   * (`NAME_PREVIOUS_UNTIL`) or the on-rotate policy (`NAME_ON_ROTATE`).
   */
  carries?: 'value' | 'kid' | 'until' | 'on-rotate' | 'part';
}

/** Whether `v` is a secret value rather than a kid companion. */
export function isSecretValue(v: DeliveredValue): boolean {
  return v.carries === undefined || v.carries === 'value';
}

/** The kid companions of a delivered version, right after it in the output. */
function kidCompanions(
  spec: SecretSpec,
  row: VersionRow,
  delivered: DeliveredValue,
): DeliveredValue[] {
  const descriptor = kidDescriptorOf(spec.kind, parseMeta(row));
  if (!descriptor) return [];
  const base = {
    secret: delivered.secret,
    environment: delivered.environment,
    stage: delivered.stage,
    versionId: delivered.versionId,
    retireAt: delivered.retireAt,
  };
  const out: DeliveredValue[] = [];
  if (delivered.stage === 'current') {
    out.push({
      ...base,
      variable: `${spec.name}${KID_SUFFIX}`,
      value: formatKidVariable(spec.name, descriptor, delivered.value),
      carries: 'kid',
    });
    if (onRotateOf(spec.config) === 'invalidate')
      out.push({
        ...base,
        variable: `${spec.name}${ON_ROTATE_SUFFIX}`,
        value: 'invalidate',
        carries: 'on-rotate',
      });
  } else {
    out.push({
      ...base,
      variable: `${spec.name}${PREVIOUS_KID_SUFFIX}`,
      value: formatKidVariable(spec.name, descriptor, delivered.value),
      carries: 'kid',
    });
    if (delivered.retireAt !== null)
      out.push({
        ...base,
        variable: `${spec.name}${PREVIOUS_UNTIL_SUFFIX}`,
        value: new Date(delivered.retireAt).toISOString(),
        carries: 'until',
      });
  }
  return out;
}

/**
 * The parts of a multi-part value (an access key id and its secret) as their own variables,
 * right after it: secret material, but not separate values in the audit counts.
 */
function partsOf(rotor: Rotor, spec: SecretSpec, delivered: DeliveredValue): DeliveredValue[] {
  const parts = rotor.rotator(spec.kind).deliveredParts?.(spec.config, delivered.value) ?? [];
  const suffix = delivered.stage === 'previous' ? '_PREVIOUS' : '';
  return parts.map((p) => ({
    ...delivered,
    variable: `${p.variable}${suffix}`,
    value: p.value,
    carries: 'part' as const,
  }));
}

export interface ReadValuesOptions {
  environment: string;
  /** Only these secrets (each must exist, be used in the environment and have a current value). */
  secrets?: readonly string[];
  action: 'read.export' | 'read.run';
  /** Extra non-secret facts for the audit row (format, output file, command name). */
  details?: Record<string, string | number | boolean | null>;
  /**
   * Called with the values before the read is audited; throwing aborts with nothing written
   * (an export format that cannot represent a value is bad input, not a read).
   */
  validate?: (values: readonly DeliveredValue[]) => void;
}

export interface ReadValuesResult {
  environment: string;
  /** Current values first, then previous ones, each group in policy order. */
  values: DeliveredValue[];
  /** Secrets of the environment with no current version yet (never rotated nor imported). */
  missing: string[];
}

/** The policy's environment, or ERR_ROTOR_ENV_UNKNOWN naming the configured ones. */
export function assertKnownEnvironment(rotor: Rotor, environment: string): void {
  const environments = rotor.policy().environments;
  if (!environments.includes(environment)) {
    throw new RotorError(
      'ERR_ROTOR_ENV_UNKNOWN',
      `unknown environment "${environment}"${didYouMean(environment, environments)}: configured are ${environments.join(', ')}`,
      {
        details: { environment },
      },
    );
  }
}

/** ERR_ROTOR_SECRET_NOT_STORED for Rotor's own master key, which has no stored value. */
export function assertStoredKind(spec: SecretSpec): void {
  if (spec.kind === MASTER_KEY_KIND) {
    throw new RotorError(
      'ERR_ROTOR_SECRET_NOT_STORED',
      `${spec.name} is Rotor's own master key: Rotor stores no value for it (it lives in ROTOR_MASTER_KEY or .rotor/master.key; rotate it with \`rotor master-key rotate\`)`,
      { details: { secret: spec.name } },
    );
  }
}

/** The secrets an environment-wide read covers, in policy order. */
function secretsFor(
  rotor: Rotor,
  environment: string,
  names: readonly string[] | undefined,
): SecretSpec[] {
  assertKnownEnvironment(rotor, environment);
  if (names === undefined) {
    return [...rotor.policy().secrets.values()].filter(
      (s) => s.kind !== MASTER_KEY_KIND && s.environments.includes(environment),
    );
  }
  const specs: SecretSpec[] = [];
  for (const name of new Set(names)) {
    const spec = rotor.secret(name);
    assertStoredKind(spec);
    rotor.assertEnvironment(spec, environment);
    specs.push(spec);
  }
  return specs;
}

async function liveVersions(
  db: Kysely<Database>,
  environment: string,
  secrets: readonly string[],
): Promise<VersionRow[]> {
  if (secrets.length === 0) return [];
  return db
    .selectFrom('versions')
    .selectAll()
    .where('environment', '=', environment)
    .where('secret', 'in', secrets)
    .where('stage', 'in', ['current', 'previous'])
    .orderBy('created_at', 'desc')
    .execute();
}

/** What a read needs of the store: its live versions, and the audit row written after. */
interface DeliveryStore {
  liveVersions(environment: string, secrets: readonly string[]): Promise<VersionRow[]>;
  audit(input: AuditEventInput): Promise<void>;
}

/**
 * The store a read goes through: the synchronous SQLite path where the Rotor has one (the CLI's
 * reading commands, without Kysely), else the store's Kysely queries. The same rows either way.
 */
async function deliveryStore(rotor: Rotor, actor: Actor): Promise<DeliveryStore> {
  const reads = await rotor.reads();
  if (reads) {
    return {
      liveVersions: async (environment, secrets) =>
        secrets.length === 0
          ? []
          : reads.all<VersionRow>(
              `SELECT * FROM versions WHERE environment = ? AND secret IN (${secrets.map(() => '?').join(', ')}) AND stage IN ('current', 'previous') ORDER BY created_at DESC`,
              environment,
              ...secrets,
            ),
      audit: async (input) => {
        reads.write(() => appendAuditOn(reads, rotor.clock, actor, input));
      },
    };
  }
  const store = await rotor.store();
  return {
    liveVersions: (environment, secrets) =>
      store.guard(() => liveVersions(store.db, environment, secrets)),
    audit: async (input) => {
      await store.writeTransaction((trx) => appendAudit(trx, rotor.clock, actor, input));
    },
  };
}

/** The error for a read of a stage that holds no value (none current, or no grace window open). */
export function noLiveVersion(
  name: string,
  environment: string,
  stage: DeliveredStage,
): RotorError {
  const why =
    stage === 'current'
      ? `${name} has no current value in ${environment}: import it with \`rotor import\` or rotate it first`
      : `${name} has no previous value in its grace window in ${environment}`;
  return new RotorError('ERR_ROTOR_VERSION_NOT_FOUND', why, {
    details: { secret: name, environment, stage },
  });
}

/** A previous version whose grace window is still open at `now`. */
export function inGrace(row: Pick<VersionRow, 'retire_at'>, now: number): boolean {
  return row.retire_at !== null && row.retire_at > now;
}

function describe(values: readonly DeliveredValue[]): string {
  return values.map((v) => `${v.secret} ${v.stage} ${v.versionId}`).join('; ');
}

/**
 * Decrypts the values of every secret used in `environment` (or of `options.secrets`) and
 * audits the read as one `options.action` row.
 *
 * @example
 * const { values, missing } = await readEnvironmentValues(rotor, actor, { environment: 'production', action: 'read.run' });
 */
export async function readEnvironmentValues(
  rotor: Rotor,
  actor: Actor,
  options: ReadValuesOptions,
): Promise<ReadValuesResult> {
  const { environment } = options;
  const specs = secretsFor(rotor, environment, options.secrets);
  const store = await deliveryStore(rotor, actor);
  const master = await rotor.masterKey();
  const names = specs.map((s) => s.name);
  const rows = await store.liveVersions(environment, names);
  const now = rotor.clock.now();

  const current: DeliveredValue[] = [];
  const previous: DeliveredValue[] = [];
  const missing: string[] = [];
  for (const spec of specs) {
    const name = spec.name;
    // Rows are newest first; a well-formed store has at most one of each stage anyway.
    const cur = rows.find((r) => r.secret === name && r.stage === 'current');
    if (!cur) {
      missing.push(name);
      continue;
    }
    const delivered: DeliveredValue = {
      secret: name,
      environment,
      stage: 'current',
      variable: name,
      versionId: cur.id,
      value: openVersion(master, cur),
      retireAt: null,
    };
    current.push(
      delivered,
      ...kidCompanions(spec, cur, delivered),
      ...partsOf(rotor, spec, delivered),
    );
    const prev = rows.find((r) => r.secret === name && r.stage === 'previous' && inGrace(r, now));
    if (prev) {
      const old: DeliveredValue = {
        secret: name,
        environment,
        stage: 'previous',
        variable: `${name}_PREVIOUS`,
        versionId: prev.id,
        value: openVersion(master, prev),
        retireAt: prev.retire_at,
      };
      previous.push(old, ...kidCompanions(spec, prev, old), ...partsOf(rotor, spec, old));
    }
  }
  if (options.secrets !== undefined && missing.length > 0) {
    throw new RotorError(
      'ERR_ROTOR_VERSION_NOT_FOUND',
      `no current value in ${environment} for ${missing.join(', ')}: import it with \`rotor import\` or rotate it first`,
      {
        details: { environment, secrets: missing.join(',') },
      },
    );
  }
  const values = [...current, ...previous];
  options.validate?.(values);
  const secretValues = values.filter(isSecretValue);
  const currentCount = current.filter(isSecretValue).length;
  await store.audit({
    secret: currentCount === 1 ? (current[0]?.secret ?? null) : null,
    environment,
    action: options.action,
    outcome: 'success',
    notes: secretValues.length > 0 ? describe(secretValues) : 'no values to deliver',
    details: {
      ...options.details,
      count: secretValues.length,
      secrets: currentCount,
      previous: secretValues.length - currentCount,
      missing: missing.length > 0 ? missing.join(',') : null,
    },
  });
  return { environment, values, missing };
}

/**
 * Decrypts one secret's current value, or its previous value while in grace, and audits it as
 * one `read.get` row. A previous version whose grace has ended is not delivered.
 *
 * @example
 * const { value } = await readOneValue(rotor, actor, {
 *   secret: 'SMTP_PASSWORD',
 *   environment: 'production',
 *   stage: 'current',
 * });
 */
export async function readOneValue(
  rotor: Rotor,
  actor: Actor,
  {
    secret: name,
    environment,
    stage,
  }: { secret: string; environment: string; stage: DeliveredStage },
): Promise<DeliveredValue> {
  assertReadable(rotor, name, environment);
  const store = await deliveryStore(rotor, actor);
  const master = await rotor.masterKey();
  const rows = await store.liveVersions(environment, [name]);
  const now = rotor.clock.now();
  const row = rows.find((r) => r.stage === stage && (stage === 'current' || inGrace(r, now)));
  if (!row) throw noLiveVersion(name, environment, stage);
  const delivered: DeliveredValue = {
    secret: name,
    environment,
    stage,
    variable: stage === 'current' ? name : `${name}_PREVIOUS`,
    versionId: row.id,
    value: openVersion(master, row),
    retireAt: stage === 'previous' ? row.retire_at : null,
  };
  await store.audit({
    secret: name,
    environment,
    action: 'read.get',
    outcome: 'success',
    notes: describe([delivered]),
    details: { versionId: row.id, stage, count: 1 },
  });
  return delivered;
}

/** Validates a single-secret read before anything is read or prompted: name, kind, environment. */
export function assertReadable(rotor: Rotor, name: string, environment: string): SecretSpec {
  const spec = rotor.secret(name);
  assertStoredKind(spec);
  assertKnownEnvironment(rotor, environment);
  rotor.assertEnvironment(spec, environment);
  return spec;
}
