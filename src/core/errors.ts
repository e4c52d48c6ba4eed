// Rotor's single error type. Callers branch on `code`, never on message text; the CLI maps codes
// to exit codes, the server to HTTP statuses (docs/errors.md lists them). No secret in a message.

/** Every error code Rotor can raise, grouped by area. A new code needs a line in docs/errors.md. */
export const ERROR_CODES = [
  // A bug: a failure that is not a RotorError (the CLI's and the server's last resort).
  'ERR_ROTOR_INTERNAL',
  // A bad argument reached a library function (core, rotators, SDK): out of range, missing, clashing.
  'ERR_ROTOR_INVALID_ARGUMENT',
  // A ROTOR_* environment variable that tunes Rotor holds a value out of its range.
  'ERR_ROTOR_SETTING_INVALID',
  // A date a person gave (--since, --at, a last-rotation date) is not a date, or an impossible one.
  'ERR_ROTOR_DATE_INVALID',
  'ERR_ROTOR_POLICY_NOT_FOUND',
  'ERR_ROTOR_POLICY_SYNTAX',
  'ERR_ROTOR_POLICY_INVALID',
  'ERR_ROTOR_POLICY_EXISTS',
  'ERR_ROTOR_DURATION_INVALID',
  'ERR_ROTOR_SECRET_UNKNOWN',
  'ERR_ROTOR_ENV_UNKNOWN',
  'ERR_ROTOR_SECRET_NOT_APPLIED',
  'ERR_ROTOR_VERSION_NOT_FOUND',
  'ERR_ROTOR_VALUE_INVALID',
  'ERR_ROTOR_VALUE_ON_ARGV',
  'ERR_ROTOR_VALUE_MISSING',
  'ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING',
  'ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID',
  'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY',
  'ERR_ROTOR_CRYPTO_DECRYPT_FAILED',
  'ERR_ROTOR_STORE_CORRUPT',
  'ERR_ROTOR_STORE_NOT_INITIALIZED',
  // `rotor init` found a store already there (it never makes a key for an existing store).
  'ERR_ROTOR_STORE_EXISTS',
  'ERR_ROTOR_STORE_AUDIT_APPEND_ONLY',
  // The store cannot be written (read-only file, disk full, I/O error, locked too long).
  'ERR_ROTOR_STORE_UNAVAILABLE',
  // ROTOR_STORE_URL is malformed or names a store kind Rotor cannot open.
  'ERR_ROTOR_STORE_URL_INVALID',
  // `rotor store migrate` found rows in the target store: it only fills an empty one.
  'ERR_ROTOR_STORE_TARGET_NOT_EMPTY',
  'ERR_ROTOR_LOCK_HELD',
  'ERR_ROTOR_ROTATION_FAILED',
  'ERR_ROTOR_ROTATION_IN_PROGRESS',
  'ERR_ROTOR_ROTATION_NOT_SUPPORTED',
  'ERR_ROTOR_ROTATOR_UNKNOWN',
  'ERR_ROTOR_ROTATOR_CONFIG',
  'ERR_ROTOR_VERIFY_FAILED',
  'ERR_ROTOR_RETIRE_REASON_REQUIRED',
  'ERR_ROTOR_EMERGENCY_REASON_REQUIRED',
  'ERR_ROTOR_AUDIT_CHAIN_BROKEN',
  // Signed audit checkpoints (rotor.yaml `audit.checkpoints`, `rotor audit checkpoint`).
  'ERR_ROTOR_AUDIT_CHECKPOINT_NOT_CONFIGURED',
  'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING',
  'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_INVALID',
  'ERR_ROTOR_AUDIT_CHECKPOINT_KEY_EXISTS',
  'ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED',
  'ERR_ROTOR_AUDIT_CHECKPOINT_SOURCE_UNREADABLE',
  // The log disagrees with a signed checkpoint: rewritten, truncated, or a forged checkpoint.
  'ERR_ROTOR_AUDIT_CHECKPOINT_MISMATCH',
  // The command line only: a bad combination of flags. Core throws ERR_ROTOR_INVALID_ARGUMENT.
  'ERR_ROTOR_CLI_USAGE',
  'ERR_ROTOR_CLI_REFUSE_TTY',
  'ERR_ROTOR_RUN_SPAWN_FAILED',
  'ERR_ROTOR_IMPORT_EXISTS',
  'ERR_ROTOR_SECRET_NOT_STORED',
  'ERR_ROTOR_ROTATION_WAITING',
  'ERR_ROTOR_ROTATION_SUPERSEDED',
  'ERR_ROTOR_JWKS_NOT_PUBLISHABLE',
  'ERR_ROTOR_TOKENS_INVALID',
  // The options given to createRefreshTokens, createRefreshExchange or a token store are unusable.
  'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
  'ERR_ROTOR_TOKENS_FAMILY_UNKNOWN',
  'ERR_ROTOR_TOKENS_FAMILY_REVOKED',
  'ERR_ROTOR_TOKENS_REUSE_DETECTED',
  'ERR_ROTOR_TOKENS_ABSOLUTE_EXPIRED',
  'ERR_ROTOR_TOKENS_IDLE_EXPIRED',
  'ERR_ROTOR_TOKENS_SESSION_REVOKED',
  'ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED',
  'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
  'ERR_ROTOR_SESSIONS_NOT_CONFIGURED',
  'ERR_ROTOR_SESSIONS_URL_MISSING',
  'ERR_ROTOR_SESSIONS_REASON_REQUIRED',
  // rotor/jwt: keyrings, strict compact-JWS verification, key sources (one code per rejection).
  'ERR_ROTOR_JWT_OPTIONS_INVALID',
  'ERR_ROTOR_JWT_NOT_READY',
  'ERR_ROTOR_JWT_NO_SIGNING_KEY',
  'ERR_ROTOR_JWT_TOKEN_TOO_LARGE',
  'ERR_ROTOR_JWT_MALFORMED',
  'ERR_ROTOR_JWT_BASE64_NONCANONICAL',
  'ERR_ROTOR_JWT_DUPLICATE_MEMBER',
  'ERR_ROTOR_JWT_ALG_NONE',
  'ERR_ROTOR_JWT_ALG_NOT_ALLOWED',
  'ERR_ROTOR_JWT_KEY_TYPE_MISMATCH',
  'ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED',
  'ERR_ROTOR_JWT_CRIT_UNSUPPORTED',
  'ERR_ROTOR_JWT_KID_MISSING',
  'ERR_ROTOR_JWT_KID_OVERSIZE',
  'ERR_ROTOR_JWT_KID_MALFORMED',
  'ERR_ROTOR_JWT_KID_UNKNOWN',
  'ERR_ROTOR_JWT_KID_RETIRED',
  'ERR_ROTOR_JWT_KID_COMPROMISED',
  'ERR_ROTOR_JWT_SIGNATURE_INVALID',
  'ERR_ROTOR_JWT_TYPE_MISMATCH',
  'ERR_ROTOR_JWT_CLAIM_INVALID',
  'ERR_ROTOR_JWT_EXP_MISSING',
  'ERR_ROTOR_JWT_EXPIRED',
  'ERR_ROTOR_JWT_NOT_YET_VALID',
  'ERR_ROTOR_JWT_ISSUER_MISMATCH',
  'ERR_ROTOR_JWT_AUDIENCE_MISMATCH',
  'ERR_ROTOR_JWT_REVOKED',
  'ERR_ROTOR_JWT_SOURCE_INVALID',
  'ERR_ROTOR_JWT_SOURCE_KID_MISMATCH',
  'ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND',
  // Database rotators (postgres): retire postponed by live sessions, and admin connection faults.
  'ERR_ROTOR_RETIRE_POSTPONED',
  'ERR_ROTOR_DB_UNREACHABLE',
  'ERR_ROTOR_DB_AUTH_FAILED',
  'ERR_ROTOR_DB_PRIVILEGE_MISSING',
  'ERR_ROTOR_DB_GRANTS_DIFFER',
  'ERR_ROTOR_DB_ADMIN_MISSING',
  'ERR_ROTOR_DB_QUERY_FAILED',
  'ERR_ROTOR_DB_ROLE_IN_USE',
  'ERR_ROTOR_STAGE_FAILED',
  // rotor db adopt: the application's role is missing, or a role name Rotor needs is taken.
  'ERR_ROTOR_DB_ROLE_NOT_FOUND',
  'ERR_ROTOR_DB_ROLE_CONFLICT',
  // API tokens (rotor token, rotor serve) and the HTTP API's own refusals.
  'ERR_ROTOR_API_TOKEN_MISSING',
  'ERR_ROTOR_API_TOKEN_INVALID',
  'ERR_ROTOR_API_TOKEN_EXPIRED',
  'ERR_ROTOR_API_TOKEN_REVOKED',
  'ERR_ROTOR_API_TOKEN_NOT_FOUND',
  'ERR_ROTOR_API_TOKEN_SPEC_INVALID',
  'ERR_ROTOR_API_FORBIDDEN',
  'ERR_ROTOR_API_VALIDATION',
  'ERR_ROTOR_API_NOT_FOUND',
  'ERR_ROTOR_API_BODY_TOO_LARGE',
  'ERR_ROTOR_API_MEDIA_TYPE',
  'ERR_ROTOR_API_RATE_LIMITED',
  'ERR_ROTOR_API_STREAM_LIMIT',
  'ERR_ROTOR_API_NOT_READY',
  // rotor/client (live delivery)
  'ERR_ROTOR_CLIENT_OPTIONS_INVALID',
  'ERR_ROTOR_CLIENT_CLOSED',
  'ERR_ROTOR_CLIENT_REQUEST_FAILED',
  // The SDK (@rotor/sdk, rotor/*): an optional peer dependency (driver) is not installed.
  'ERR_ROTOR_SDK_PEER_MISSING',
  // Dashboard operators (rotor operator, the dashboard's login).
  'ERR_ROTOR_OPERATOR_NAME_INVALID',
  'ERR_ROTOR_OPERATOR_EXISTS',
  'ERR_ROTOR_OPERATOR_NOT_FOUND',
  'ERR_ROTOR_OPERATOR_PASSWORD_WEAK',
  'ERR_ROTOR_OPERATOR_PASSWORD_INVALID',
  'ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH',
  'ERR_ROTOR_OPERATOR_LOGIN_FAILED',
  // The scheduler and its reminders (rotor scheduler, rotor serve).
  'ERR_ROTOR_NOTIFY_CONFIG',
  'ERR_ROTOR_NOTIFY_FAILED',
  'ERR_ROTOR_SCHEDULER_RUNNING',
  // Provider rotators (aws-iam-access-key, smtp, twilio): admin credential, refusals, limits.
  'ERR_ROTOR_PROVIDER_ADMIN_MISSING',
  'ERR_ROTOR_PROVIDER_AUTH_FAILED',
  'ERR_ROTOR_PROVIDER_PERMISSION_MISSING',
  'ERR_ROTOR_PROVIDER_UNAVAILABLE',
  'ERR_ROTOR_PROVIDER_REQUEST_FAILED',
  'ERR_ROTOR_PROVIDER_KEY_LIMIT',
] as const;

export type RotorErrorCode = (typeof ERROR_CODES)[number];

export interface RotorErrorOptions {
  cause?: unknown;
  /** Structured, non-secret context (file, line, field, secret name) for --json output. */
  details?: Record<string, unknown>;
}

/** Marks every RotorError, whichever copy of this module made it (a registered symbol). */
const ROTOR_ERROR_BRAND = Symbol.for('rotor.RotorError');

/**
 * The one error class Rotor throws.
 *
 * @example
 * throw new RotorError('ERR_ROTOR_SECRET_UNKNOWN', 'unknown secret "FOO" (not in rotor.yaml)');
 */
export class RotorError extends Error {
  readonly code: RotorErrorCode;
  readonly details: Record<string, unknown> | undefined;

  /**
   * `error instanceof RotorError` holds for a RotorError made by another copy of this module too:
   * the CLI's reading commands are a CommonJS bundle whose deferred parts (the PostgreSQL store,
   * database kinds) load from the ES module bundle, each with its own copy of this class.
   * Subclasses keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RotorError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && ROTOR_ERROR_BRAND in value;
  }

  constructor(code: RotorErrorCode, message: string, options: RotorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RotorError';
    this.code = code;
    this.details = options.details;
    Object.defineProperty(this, ROTOR_ERROR_BRAND, { value: true });
  }
}

export function isRotorError(error: unknown, code?: RotorErrorCode): error is RotorError {
  return error instanceof RotorError && (code === undefined || error.code === code);
}

/** What to record or show of any thrown value: its code, its message and its details. */
export interface ErrorInfo {
  code: RotorErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The message of an ERR_ROTOR_INTERNAL: the cause's own text may quote a value, so it is not shown. */
export const INTERNAL_MESSAGE =
  'unexpected internal failure: this is a bug in Rotor, please report it';

/**
 * A RotorError as it is; anything else (a TypeError, a driver's error) as an ERR_ROTOR_INTERNAL
 * that keeps it as `cause` but never shows its message.
 *
 * `where` says where the cause can be read (the server log, ROTOR_DEBUG=1).
 *
 * @example
 * catch (error) { report(toRotorError(error, { where: 'the server log' })); }
 */
export function toRotorError(error: unknown, options: { where?: string } = {}): RotorError {
  if (isRotorError(error)) return error;
  const kind = error instanceof Error ? error.name : typeof error;
  const where = options.where ? ` (the cause: ${options.where})` : '';
  return new RotorError('ERR_ROTOR_INTERNAL', `${INTERNAL_MESSAGE}${where}`, {
    cause: error,
    details: { cause: kind },
  });
}

/**
 * The code and message of any thrown value. A RotorError keeps its own. Anything else takes
 * `fallback` and its own message when the caller records it where operators read failures
 * (the rotation journal: `fallback: 'ERR_ROTOR_ROTATION_FAILED'`); without a fallback it is
 * ERR_ROTOR_INTERNAL with the bug notice, as shown to a user.
 *
 * @example
 * const { code, message } = errorInfo(error, { fallback: 'ERR_ROTOR_ROTATION_FAILED' });
 */
export function errorInfo(error: unknown, options: { fallback?: RotorErrorCode } = {}): ErrorInfo {
  if (isRotorError(error) || options.fallback === undefined) {
    const known = toRotorError(error);
    return {
      code: known.code,
      message: known.message,
      ...(known.details ? { details: known.details } : {}),
    };
  }
  return {
    code: options.fallback,
    message: error instanceof Error ? error.message : String(error),
  };
}
