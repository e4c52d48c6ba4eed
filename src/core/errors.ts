// Rotor's single error type. Callers branch on `code`, never on message text; the CLI maps
// codes to exit codes and (later) the server maps them to HTTP statuses. Messages never carry
// secret values.

/** Every error code Rotor can raise, grouped by area. */
export const ERROR_CODES = [
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
  'ERR_ROTOR_LOCK_HELD',
  'ERR_ROTOR_ROTATION_FAILED',
  'ERR_ROTOR_ROTATION_IN_PROGRESS',
  'ERR_ROTOR_ROTATION_NOT_SUPPORTED',
  'ERR_ROTOR_ROTATOR_UNKNOWN',
  'ERR_ROTOR_ROTATOR_CONFIG',
  'ERR_ROTOR_VERIFY_FAILED',
  'ERR_ROTOR_RETIRE_REASON_REQUIRED',
  'ERR_ROTOR_AUDIT_CHAIN_BROKEN',
  'ERR_ROTOR_CLI_USAGE',
  'ERR_ROTOR_CLI_REFUSE_TTY',
  'ERR_ROTOR_CLI_DATE_INVALID',
  'ERR_ROTOR_RUN_SPAWN_FAILED',
  'ERR_ROTOR_IMPORT_EXISTS',
  'ERR_ROTOR_SECRET_NOT_STORED',
  'ERR_ROTOR_ROTATION_WAITING',
  'ERR_ROTOR_ROTATION_SUPERSEDED',
  'ERR_ROTOR_JWKS_NOT_PUBLISHABLE',
  'ERR_ROTOR_TOKENS_INVALID',
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
  // Dashboard operators (rotor operator, the dashboard's login) and the dashboard's refusals.
  'ERR_ROTOR_OPERATOR_NAME_INVALID',
  'ERR_ROTOR_OPERATOR_EXISTS',
  'ERR_ROTOR_OPERATOR_NOT_FOUND',
  'ERR_ROTOR_OPERATOR_PASSWORD_WEAK',
  'ERR_ROTOR_OPERATOR_PASSWORD_INVALID',
  'ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH',
  'ERR_ROTOR_OPERATOR_LOGIN_FAILED',
  'ERR_ROTOR_DASHBOARD_CSRF',
  'ERR_ROTOR_DASHBOARD_RATE_LIMITED',
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

/**
 * The one error class Rotor throws.
 *
 * @example
 * throw new RotorError('ERR_ROTOR_SECRET_UNKNOWN', 'unknown secret "FOO" (not in rotor.yaml)');
 */
export class RotorError extends Error {
  readonly code: RotorErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: RotorErrorCode, message: string, options: RotorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RotorError';
    this.code = code;
    this.details = options.details;
  }
}

export function isRotorError(error: unknown, code?: RotorErrorCode): error is RotorError {
  return error instanceof RotorError && (code === undefined || error.code === code);
}
