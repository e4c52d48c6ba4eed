// The contract every rotator implements. The engine owns ordering, journaling, locks and audit;
// a rotator owns only the kind-specific work. A rotator module exports one descriptor and the
// registry lists them; the policy schema and the kind names derive from that list.
import type { z } from 'zod';
import type { Clock } from '../clock.js';

/** New material a rotator made: the value and non-secret metadata (kid, algorithm, encoding). */
export interface Material {
  value: string;
  meta: Record<string, string | number | boolean>;
}

export interface RotatorContext<Config> {
  secret: string;
  environment: string;
  /** The id the new version will have; also the JWT `kid`. */
  versionId: string;
  config: Config;
  clock: Clock;
  /** Operator-supplied value, for kinds whose material a person provides. */
  input?: string;
  /** Set for emergency rotations. */
  emergency: boolean;
  /**
   * The app's session store (rotor.yaml `sessions:`), for emergency actions: set by the engine
   * when one is configured for this environment, undefined otherwise.
   */
  sessions?: SessionRevoker;
  /**
   * The process environment, for kinds whose rotor.yaml names a credential by environment
   * variable (a database admin URL); never the place to put a value the rotator made.
   */
  env?: NodeJS.ProcessEnv;
  /** The current value of another secret in this environment, for credentials named by reference. */
  readSecret?(name: string): Promise<string | undefined>;
  /**
   * How long, in ms, a credential made now must stay valid at the least: the secret's maximum
   * cadence plus its grace window (for server-side expiry safety nets such as `VALID UNTIL`).
   */
  lifetimeMs?: number;
  /** Set when an operator retires with --force: revoke even while the old credential is in use. */
  force?: boolean;
  /**
   * At retire: when the version's grace window ended (its `retire_at`), so a kind can tell how
   * long a retire has been postponed (database `drain.within`).
   */
  graceEndedAt?: number;
}

/** What `retire` did when it is not simply "revoked". */
export interface RetireOutcome {
  /** The credential was deliberately left valid (rotor.yaml says so): audited and shown as a WARNING. */
  kept?: string;
  /** Live sessions that were ended to finish the retire (`drain.then: terminate`), for the audit. */
  terminated?: string;
}

/** What logging in with a retired credential showed. `detail` never quotes the value. */
export interface RevocationProof {
  refused: boolean;
  detail: string;
}

/** One live session on a login that is being retired, as the database reports it. */
export interface LiveSession {
  application: string;
  address: string;
  /** Seconds since the session started. */
  ageSeconds: number;
}

/** Revokes every session and refresh token the app issued until now (rotor/tokens). */
export interface SessionRevoker {
  /** `postgres` or `redis`, for messages. */
  store?: string;
  revokeAll(reason: string, options?: { requirePasswordReset?: boolean }): Promise<void>;
}

export interface StoredMaterial extends Material {
  versionId: string;
}

export interface RotatorDescriptor<Config = unknown> {
  kind: string;
  summary: string;
  /** Validates `config:` in rotor.yaml. Must be strict (unknown keys rejected). */
  configSchema: z.ZodType<Config>;
  /** `generated`: the rotator makes the value; `operator`: a person supplies it. */
  source: 'generated' | 'operator';
  /** Whether an empty or whitespace-only value is a real value of this kind (refused otherwise). */
  allowsBlank?: boolean;
  create(ctx: RotatorContext<Config>): Promise<Material>;
  /** Makes the material real in the target (no-op for self-contained kinds). Idempotent. */
  apply(ctx: RotatorContext<Config>, material: StoredMaterial): Promise<void>;
  /** Proves the material works; throws to fail the rotation. */
  verify(ctx: RotatorContext<Config>, material: StoredMaterial): Promise<void>;
  /**
   * Revokes old material in the target once its grace has passed (or at once in an emergency).
   * Throws ERR_ROTOR_RETIRE_POSTPONED (details.sessions: LiveSession[]) to be retried later.
   */
  retire(ctx: RotatorContext<Config>, old: StoredMaterial): Promise<void | RetireOutcome>;
  /**
   * Takes back what `create` made at the provider for a rotation whose new version was never
   * stored (the process died inside create, or create's answer could not be stored): the engine
   * calls it when it rolls such a rotation back, `ctx.versionId` being the id the new version
   * would have had. Finds the credential by the tag, name or login it gave it for that version
   * (never by anything a person's or another secret's credential could carry) and deletes it;
   * anything it cannot prove is its own for that version stays. Idempotent: nothing found is not
   * an error. Returns one note per thing found and deleted (ids and names, never a value), or
   * why nothing was looked for; the engine puts them in the rollback's audit notes. Throws when
   * the provider cannot be asked: the rollback still happens and the audit says nothing was
   * proven. Without this hook a rollback before storage calls no rotator at all.
   */
  abandon?(ctx: RotatorContext<Config>): Promise<string[]>;
  /**
   * After retire: tries the retired material against the target over a fresh connection (log in
   * with the retired DB password). The engine audits the result; a credential still accepted is
   * CRITICAL. Throws when the target cannot be asked (unreachable): then nothing is proven.
   */
  prove?(ctx: RotatorContext<Config>, old: StoredMaterial): Promise<RevocationProof>;
  /**
   * For values that hold several parts (an access key id and its secret): the variables each
   * part is delivered as besides NAME (`rotor run`, `rotor export`), so an app keeps reading the
   * names it expects; a previous version's parts get a `_PREVIOUS` suffix. Never throws: a value
   * it cannot split yields no parts.
   */
  deliveredParts?(config: Config, value: string): Array<{ variable: string; value: string }>;
  /**
   * A standing note `rotor status` prints under the table for secrets of this kind: advice the
   * runbook gives about the kind itself (an IAM role with short-lived credentials beats any
   * rotated long-term key). Never about a value.
   */
  statusNote?: string;
  /** What an emergency rotation does beyond retiring the old version, for the audit notes. */
  emergencyActions?(ctx: RotatorContext<Config>): Promise<string[]>;
  /**
   * Checks a value a team already uses before `rotor import` stores it as the first version,
   * the way this kind would check its own material (length, encoding). Throws
   * ERR_ROTOR_VALUE_INVALID without quoting the value; returns the value unchanged with the
   * metadata `create` would have recorded (kid, algorithm, encoding). Without this hook,
   * import applies only the generic checks.
   */
  validateImport?(ctx: RotatorContext<Config>, value: string): Promise<Material>;
  /**
   * For kinds whose public keys remote verifiers fetch and cache (a JWKS): how long, in ms, a
   * verified version must be published in `standby` before it may become current, so those
   * caches already hold it when it starts signing. Omitted or 0: promote at once. The engine
   * skips standby for a first version (nothing signs yet) and for emergencies.
   */
  publishAhead?(config: Config): number;
  /**
   * The public JWK of a version, for kinds whose keys are published (`rotor jwks`). Derived from
   * the sealed value, so the store's authenticated encryption also vouches for the public key.
   * Must never include private members; the caller also keeps only public ones.
   */
  publicJwk?(ctx: RotatorContext<Config>, material: StoredMaterial): PublicJwk;
  /**
   * For database kinds: logs in with `material` (a fresh connection, never a pool) and runs one
   * statement, for rotor.yaml `sql:` smoke tests and health checks. Resolves with the number of
   * rows returned; throws a RotorError naming the failure (never quoting the value).
   */
  runSql?(
    ctx: RotatorContext<Config>,
    material: StoredMaterial,
    statement: string,
    timeoutMs: number,
  ): Promise<number>;
}

/** One public key as a JWK Set member: what third-party verifiers need, nothing private. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
  kid: string;
  alg: string;
  use: 'sig';
}

/** Type helper: keeps the config type while storing descriptors in one array. */
export function defineRotator<Config>(
  descriptor: RotatorDescriptor<Config>,
): RotatorDescriptor<Config> {
  return descriptor;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRotator = RotatorDescriptor<any>;
