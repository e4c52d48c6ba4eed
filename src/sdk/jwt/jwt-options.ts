// The options of createJwtKeys, checked once when the keyring is created and turned into the
// settings that sign and verify read.
import { parseDuration } from '../../core/duration.js';
import { VERSION_ID_PATTERN } from '../../core/delivery/kid-variable.js';
import { algSpec } from './compact-jws.js';
import { optionsInvalid } from './jwt-errors.js';
import type { KeySource } from './key-source.js';
import type { RevocationCheck } from './revocation-check.js';

export const DEFAULT_MAX_TOKEN_BYTES = 8192;

export interface JwtKeysOptions {
  /** The Rotor secret, e.g. `JWT_ACCESS_SECRET`. */
  secret: string;
  /** Where the keys come from: `fromEnv()`, `fromStore()`, or any KeySource. */
  source: KeySource;
  /** Written into `iss` by sign; required to match on verify. */
  issuer: string;
  /** Written into `aud` by sign; verify requires the token's `aud` to hold at least one of them. */
  audience: string | readonly string[];
  /** The header `typ` to write and require, e.g. `at+jwt` for access and `refresh+jwt` for refresh tokens. */
  type?: string;
  /** Lifetime of signed tokens: seconds, or a duration such as `15m`. */
  maxAge: number | string;
  /** Leeway for exp, nbf and iat: seconds or a duration (default 0). */
  clockTolerance?: number | string;
  /** Allowed `alg` values (default: the algorithms of the loaded keys). `none` is never allowed. */
  algorithms?: readonly string[];
  /** Tokens longer than this are refused before any parsing (default 8192). */
  maxTokenBytes?: number;
  /** Refuse tokens without `exp` (default true). */
  requireExp?: boolean;
  /**
   * Migration from tokens issued before Rotor, which carry no kid: until `until`, a kid-less
   * token is checked against the version `kid` (the one `rotor import` created from the old
   * secret), or against the current version if no kid is given. Still one key, never a search;
   * and that version must itself still be accepted.
   */
  acceptWithoutKid?: { until: Date | number; kid?: string };
  /** Checked after everything else passed; synchronous, from memory. */
  revocation?: RevocationCheck;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: { now(): number };
  /** Called when a background reload fails (the keyring keeps its last good key set). */
  onError?: (error: unknown) => void;
}

export interface SignOptions {
  /** Overrides the keyring's `type` for this token. */
  type?: string;
  /** Overrides the keyring's `maxAge` for this token (ignored when the claims carry `exp`). */
  maxAge?: number | string;
}

export interface VerifyOptions {
  /** Require this `typ` instead of the keyring's. */
  type?: string;
  /** Accept these audiences instead of the keyring's. */
  audience?: string | readonly string[];
}

/** Until when, and against which version, kid-less tokens are accepted. */
export interface Migration {
  until: number;
  kid?: string;
}

/** The checked options: what sign and verify read on every call. */
export interface JwtSettings {
  readonly secret: string;
  readonly source: KeySource;
  readonly issuer: string;
  readonly audiences: ReadonlySet<string>;
  /** What sign writes into `aud`. */
  readonly audience: string | string[];
  /** What sign writes into `typ`, as given. */
  readonly type: string | undefined;
  /** What verify requires in `typ`, normalized. */
  readonly defaultType: string | undefined;
  readonly maxAge: number;
  readonly tolerance: number;
  readonly maxTokenBytes: number;
  readonly requireExp: boolean;
  readonly explicitAlgorithms: ReadonlySet<string> | undefined;
  readonly migration: Migration | undefined;
  readonly revocation: RevocationCheck | undefined;
  readonly clock: { now(): number };
  readonly onError: (error: unknown) => void;
}

export function toSeconds(value: number | string, what: string): number {
  // JavaScript callers get no compile-time check: a missing or mistyped value is named here.
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw optionsInvalid(
      `${what} must be a non-negative number of seconds or a duration like 15m (got ${value === undefined ? 'nothing' : typeof value})`,
    );
  }
  let seconds: number;
  try {
    seconds = typeof value === 'number' ? value : parseDuration(value) / 1000;
  } catch (error) {
    throw optionsInvalid(`${what}: ${(error as Error).message}`);
  }
  if (!Number.isFinite(seconds) || seconds < 0)
    throw optionsInvalid(`${what} must be a non-negative number of seconds or a duration like 15m`);
  return seconds;
}

/** RFC 8725 §3.11 media types: compared case-insensitively, `application/` optional. */
export function normalizeType(type: string): string {
  const t = type.toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

export function audienceSet(
  audience: string | readonly string[],
  what: string,
): ReadonlySet<string> {
  if (typeof audience !== 'string' && !Array.isArray(audience))
    throw optionsInvalid(`${what} must be a non-empty string or list of strings`);
  const list = typeof audience === 'string' ? [audience] : [...(audience as readonly string[])];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0))
    throw optionsInvalid(`${what} must be a non-empty string or list of strings`);
  return new Set(list);
}

function checkIdentity(options: JwtKeysOptions): void {
  if (typeof options !== 'object' || options === null)
    throw optionsInvalid('createJwtKeys takes one options object');
  const { secret, source } = options;
  if (typeof secret !== 'string' || secret.length === 0)
    throw optionsInvalid('secret must name a Rotor secret');
  if (typeof source?.load !== 'function' || typeof source.watch !== 'function')
    throw optionsInvalid('source must be a KeySource (fromEnv(), fromStore(), …)');
  if (typeof options.issuer !== 'string' || options.issuer.length === 0)
    throw optionsInvalid('issuer must be a non-empty string');
}

function checkMaxTokenBytes(value: number | undefined): number {
  const maxTokenBytes = value ?? DEFAULT_MAX_TOKEN_BYTES;
  if (!Number.isSafeInteger(maxTokenBytes) || maxTokenBytes < 64)
    throw optionsInvalid('maxTokenBytes must be an integer of at least 64');
  return maxTokenBytes;
}

function checkType(type: string | undefined): string | undefined {
  if (type !== undefined && (typeof type !== 'string' || type.length === 0))
    throw optionsInvalid('type must be a non-empty string');
  return type === undefined ? undefined : normalizeType(type);
}

function algorithmSet(algorithms: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (algorithms === undefined) return undefined;
  if (!Array.isArray(algorithms))
    throw optionsInvalid('algorithms must be a list such as ["HS256"]');
  const list: readonly string[] = algorithms; // Array.isArray narrowed it to any[]
  const unknown = list.filter((a) => algSpec(a) === undefined);
  if (list.length === 0 || unknown.length > 0) {
    throw optionsInvalid(
      `algorithms must list some of HS256, HS384, HS512, EdDSA, ES256${unknown.length > 0 ? ` (not ${unknown.join(', ')})` : ''}`,
    );
  }
  return new Set(list);
}

function migrationOf(accept: JwtKeysOptions['acceptWithoutKid']): Migration | undefined {
  if (accept === undefined) return undefined;
  const { until, kid } = accept;
  const untilMs = until instanceof Date ? until.getTime() : until;
  if (typeof untilMs !== 'number' || !Number.isFinite(untilMs))
    throw optionsInvalid('acceptWithoutKid.until must be a Date or milliseconds since the epoch');
  if (kid !== undefined && !VERSION_ID_PATTERN.test(kid))
    throw optionsInvalid('acceptWithoutKid.kid must be a Rotor version id');
  return { until: untilMs, ...(kid !== undefined ? { kid } : {}) };
}

function warnOnError(secret: string): (error: unknown) => void {
  return (error: unknown) =>
    process.emitWarning(
      `rotor/jwt: reloading ${secret} failed (${(error as { code?: string }).code ?? 'error'}); keeping the last key set`,
    );
}

/** Checks every option (first failure wins, in this order) and returns the settings. */
export function resolveOptions(options: JwtKeysOptions): JwtSettings {
  checkIdentity(options);
  const audiences = audienceSet(options.audience, 'audience');
  const maxAge = toSeconds(options.maxAge, 'maxAge');
  const tolerance = toSeconds(options.clockTolerance ?? 0, 'clockTolerance');
  const maxTokenBytes = checkMaxTokenBytes(options.maxTokenBytes);
  const defaultType = checkType(options.type);
  const explicitAlgorithms = algorithmSet(options.algorithms);
  const migration = migrationOf(options.acceptWithoutKid);
  return {
    secret: options.secret,
    source: options.source,
    issuer: options.issuer,
    audiences,
    audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
    type: options.type,
    defaultType,
    maxAge,
    tolerance,
    maxTokenBytes,
    requireExp: options.requireExp ?? true,
    explicitAlgorithms,
    migration,
    revocation: options.revocation,
    clock: options.clock ?? { now: () => Date.now() },
    onError: options.onError ?? warnOnError(options.secret),
  };
}
