// The one place where Rotor's error codes become HTTP statuses, and where every error the API
// answers with takes its shape: `{ error: { code, message, requestId, details? } }`. Core knows
// nothing of HTTP; a failure that is not a RotorError is ERR_ROTOR_INTERNAL (a bug, 500).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRotorError, RotorError, toRotorError, type RotorErrorCode } from '../core/errors.js';
import { mapSqliteError } from '../core/store/sqlite-adapter.js';

/**
 * The HTTP status of every code. Total on purpose: a new code does not compile until someone
 * decides its status here (and adds it to docs/errors.md, which a test compares with this map).
 */
export const HTTP_STATUS: Readonly<Record<RotorErrorCode, number>> = {
  // 400: the request (or a value, a date, an argument in it) is wrong.
  ERR_ROTOR_INVALID_ARGUMENT: 400,
  ERR_ROTOR_DATE_INVALID: 400,
  ERR_ROTOR_DURATION_INVALID: 400,
  ERR_ROTOR_VALUE_INVALID: 400,
  ERR_ROTOR_VALUE_MISSING: 400,
  ERR_ROTOR_VALUE_ON_ARGV: 400,
  ERR_ROTOR_CLI_USAGE: 400,
  ERR_ROTOR_CLI_REFUSE_TTY: 400,
  ERR_ROTOR_RETIRE_REASON_REQUIRED: 400,
  ERR_ROTOR_EMERGENCY_REASON_REQUIRED: 400,
  ERR_ROTOR_SESSIONS_REASON_REQUIRED: 400,
  ERR_ROTOR_API_VALIDATION: 400,
  ERR_ROTOR_API_TOKEN_SPEC_INVALID: 400,
  ERR_ROTOR_OPERATOR_NAME_INVALID: 400,
  ERR_ROTOR_OPERATOR_PASSWORD_WEAK: 400,
  ERR_ROTOR_OPERATOR_PASSWORD_INVALID: 400,
  ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH: 400,
  ERR_ROTOR_JWT_OPTIONS_INVALID: 400,
  ERR_ROTOR_TOKENS_OPTIONS_INVALID: 400,
  ERR_ROTOR_CLIENT_OPTIONS_INVALID: 400,
  // 401: who is asking is not established (a token or a session is missing, wrong, expired).
  ERR_ROTOR_API_TOKEN_MISSING: 401,
  ERR_ROTOR_API_TOKEN_INVALID: 401,
  ERR_ROTOR_API_TOKEN_EXPIRED: 401,
  ERR_ROTOR_API_TOKEN_REVOKED: 401,
  ERR_ROTOR_OPERATOR_LOGIN_FAILED: 401,
  ERR_ROTOR_TOKENS_INVALID: 401,
  ERR_ROTOR_TOKENS_FAMILY_UNKNOWN: 401,
  ERR_ROTOR_TOKENS_FAMILY_REVOKED: 401,
  ERR_ROTOR_TOKENS_REUSE_DETECTED: 401,
  ERR_ROTOR_TOKENS_ABSOLUTE_EXPIRED: 401,
  ERR_ROTOR_TOKENS_IDLE_EXPIRED: 401,
  ERR_ROTOR_TOKENS_SESSION_REVOKED: 401,
  ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED: 401,
  ERR_ROTOR_JWT_TOKEN_TOO_LARGE: 401,
  ERR_ROTOR_JWT_MALFORMED: 401,
  ERR_ROTOR_JWT_BASE64_NONCANONICAL: 401,
  ERR_ROTOR_JWT_DUPLICATE_MEMBER: 401,
  ERR_ROTOR_JWT_ALG_NONE: 401,
  ERR_ROTOR_JWT_ALG_NOT_ALLOWED: 401,
  ERR_ROTOR_JWT_KEY_TYPE_MISMATCH: 401,
  ERR_ROTOR_JWT_KEY_REFERENCE_REFUSED: 401,
  ERR_ROTOR_JWT_CRIT_UNSUPPORTED: 401,
  ERR_ROTOR_JWT_KID_MISSING: 401,
  ERR_ROTOR_JWT_KID_OVERSIZE: 401,
  ERR_ROTOR_JWT_KID_MALFORMED: 401,
  ERR_ROTOR_JWT_KID_UNKNOWN: 401,
  ERR_ROTOR_JWT_KID_RETIRED: 401,
  ERR_ROTOR_JWT_KID_COMPROMISED: 401,
  ERR_ROTOR_JWT_SIGNATURE_INVALID: 401,
  ERR_ROTOR_JWT_TYPE_MISMATCH: 401,
  ERR_ROTOR_JWT_CLAIM_INVALID: 401,
  ERR_ROTOR_JWT_EXP_MISSING: 401,
  ERR_ROTOR_JWT_EXPIRED: 401,
  ERR_ROTOR_JWT_NOT_YET_VALID: 401,
  ERR_ROTOR_JWT_ISSUER_MISMATCH: 401,
  ERR_ROTOR_JWT_AUDIENCE_MISMATCH: 401,
  ERR_ROTOR_JWT_REVOKED: 401,
  // 403: established, but not allowed.
  ERR_ROTOR_API_FORBIDDEN: 403,
  // 404: no such thing.
  ERR_ROTOR_API_NOT_FOUND: 404,
  ERR_ROTOR_API_TOKEN_NOT_FOUND: 404,
  ERR_ROTOR_SECRET_UNKNOWN: 404,
  ERR_ROTOR_ENV_UNKNOWN: 404,
  ERR_ROTOR_VERSION_NOT_FOUND: 404,
  ERR_ROTOR_OPERATOR_NOT_FOUND: 404,
  // 409: it exists, or is busy, or is not in a state that allows this.
  ERR_ROTOR_POLICY_EXISTS: 409,
  ERR_ROTOR_STORE_EXISTS: 409,
  ERR_ROTOR_STORE_TARGET_NOT_EMPTY: 409,
  ERR_ROTOR_AUDIT_CHECKPOINT_KEY_EXISTS: 409,
  ERR_ROTOR_AUDIT_CHECKPOINT_NOT_CONFIGURED: 409,
  ERR_ROTOR_IMPORT_EXISTS: 409,
  ERR_ROTOR_OPERATOR_EXISTS: 409,
  ERR_ROTOR_SECRET_NOT_STORED: 409,
  ERR_ROTOR_SECRET_NOT_APPLIED: 409,
  ERR_ROTOR_LOCK_HELD: 409,
  ERR_ROTOR_ROTATION_IN_PROGRESS: 409,
  ERR_ROTOR_ROTATION_WAITING: 409,
  ERR_ROTOR_ROTATION_SUPERSEDED: 409,
  ERR_ROTOR_ROTATION_NOT_SUPPORTED: 409,
  ERR_ROTOR_RETIRE_POSTPONED: 409,
  ERR_ROTOR_JWKS_NOT_PUBLISHABLE: 409,
  ERR_ROTOR_SESSIONS_NOT_CONFIGURED: 409,
  ERR_ROTOR_SCHEDULER_RUNNING: 409,
  ERR_ROTOR_DB_ROLE_NOT_FOUND: 409,
  ERR_ROTOR_DB_ROLE_CONFLICT: 409,
  // 413, 415, 429: the request's size, type or rate.
  ERR_ROTOR_API_BODY_TOO_LARGE: 413,
  ERR_ROTOR_API_MEDIA_TYPE: 415,
  ERR_ROTOR_API_RATE_LIMITED: 429,
  ERR_ROTOR_API_STREAM_LIMIT: 429,
  // 500: Rotor itself failed: a bug, a store or audit log that no longer holds together.
  ERR_ROTOR_INTERNAL: 500,
  ERR_ROTOR_CRYPTO_DECRYPT_FAILED: 500,
  ERR_ROTOR_STORE_AUDIT_APPEND_ONLY: 500,
  ERR_ROTOR_AUDIT_CHAIN_BROKEN: 500,
  ERR_ROTOR_AUDIT_CHECKPOINT_MISMATCH: 500,
  ERR_ROTOR_RUN_SPAWN_FAILED: 500,
  ERR_ROTOR_CLIENT_CLOSED: 500,
  ERR_ROTOR_SDK_PEER_MISSING: 500,
  // 502: a system Rotor talks to (a database, a provider, a hook, a session store) failed.
  ERR_ROTOR_ROTATION_FAILED: 502,
  ERR_ROTOR_VERIFY_FAILED: 502,
  ERR_ROTOR_STAGE_FAILED: 502,
  ERR_ROTOR_NOTIFY_FAILED: 502,
  ERR_ROTOR_AUDIT_CHECKPOINT_PUBLISH_FAILED: 502,
  ERR_ROTOR_AUDIT_CHECKPOINT_SOURCE_UNREADABLE: 502,
  ERR_ROTOR_CLIENT_REQUEST_FAILED: 502,
  ERR_ROTOR_TOKENS_STORE_UNREACHABLE: 502,
  ERR_ROTOR_DB_UNREACHABLE: 502,
  ERR_ROTOR_DB_AUTH_FAILED: 502,
  ERR_ROTOR_DB_PRIVILEGE_MISSING: 502,
  ERR_ROTOR_DB_GRANTS_DIFFER: 502,
  ERR_ROTOR_DB_QUERY_FAILED: 502,
  ERR_ROTOR_DB_ROLE_IN_USE: 502,
  ERR_ROTOR_PROVIDER_AUTH_FAILED: 502,
  ERR_ROTOR_PROVIDER_PERMISSION_MISSING: 502,
  ERR_ROTOR_PROVIDER_UNAVAILABLE: 502,
  ERR_ROTOR_PROVIDER_REQUEST_FAILED: 502,
  ERR_ROTOR_PROVIDER_KEY_LIMIT: 502,
  // 503: this server cannot serve until its set-up is fixed (store, master key, policy, config).
  ERR_ROTOR_API_NOT_READY: 503,
  ERR_ROTOR_SETTING_INVALID: 503,
  ERR_ROTOR_STORE_NOT_INITIALIZED: 503,
  ERR_ROTOR_STORE_CORRUPT: 503,
  ERR_ROTOR_STORE_UNAVAILABLE: 503,
  ERR_ROTOR_STORE_URL_INVALID: 503,
  ERR_ROTOR_AUDIT_CHECKPOINT_KEY_MISSING: 503,
  ERR_ROTOR_AUDIT_CHECKPOINT_KEY_INVALID: 503,
  ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING: 503,
  ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID: 503,
  ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY: 503,
  ERR_ROTOR_POLICY_NOT_FOUND: 503,
  ERR_ROTOR_POLICY_SYNTAX: 503,
  ERR_ROTOR_POLICY_INVALID: 503,
  ERR_ROTOR_ROTATOR_UNKNOWN: 503,
  ERR_ROTOR_ROTATOR_CONFIG: 503,
  ERR_ROTOR_NOTIFY_CONFIG: 503,
  ERR_ROTOR_SESSIONS_URL_MISSING: 503,
  ERR_ROTOR_DB_ADMIN_MISSING: 503,
  ERR_ROTOR_PROVIDER_ADMIN_MISSING: 503,
  ERR_ROTOR_JWT_NOT_READY: 503,
  ERR_ROTOR_JWT_NO_SIGNING_KEY: 503,
  ERR_ROTOR_JWT_SOURCE_INVALID: 503,
  ERR_ROTOR_JWT_SOURCE_KID_MISMATCH: 503,
  ERR_ROTOR_JWT_SOURCE_UNSUPPORTED_KIND: 503,
};

function isSqliteError(error: unknown): boolean {
  return (
    typeof (error as { code?: unknown } | null)?.code === 'string' &&
    (error as { code: string }).code.startsWith('SQLITE_')
  );
}

/** The status of a code; a string that is not one of Rotor's codes is a 500. */
export function httpStatusOf(code: string): number {
  return Object.hasOwn(HTTP_STATUS, code) ? HTTP_STATUS[code as RotorErrorCode] : 500;
}

/** Fastify's own 4xx errors (parsing, limits) as RotorErrors with the API's codes. */
function fromFastify(error: FastifyError): RotorError | undefined {
  const status = error.statusCode ?? 500;
  if (status >= 500) return undefined;
  if (status === 413)
    return new RotorError(
      'ERR_ROTOR_API_BODY_TOO_LARGE',
      'request body too large: the API accepts at most 64 KiB of JSON',
    );
  if (status === 415)
    return new RotorError(
      'ERR_ROTOR_API_MEDIA_TYPE',
      'unsupported content type: send the body as application/json',
    );
  if (status === 429)
    return new RotorError(
      'ERR_ROTOR_API_RATE_LIMITED',
      error.message || 'too many requests for this token: slow down and retry later',
    );
  if (status === 414 || error.code === 'FST_ERR_MAX_PARAM_LENGTH')
    return new RotorError(
      'ERR_ROTOR_API_VALIDATION',
      'invalid params: a path parameter is too long',
    );
  if (error.code === 'FST_ERR_BAD_URL')
    return new RotorError(
      'ERR_ROTOR_API_VALIDATION',
      'invalid params: the path is not valid URL encoding',
    );
  if (error instanceof SyntaxError || /JSON/i.test(error.message))
    return new RotorError(
      'ERR_ROTOR_API_VALIDATION',
      `body: malformed JSON (${error.message.replace(/^Body is not valid JSON but content-type is set to 'application\/json'$/, 'not valid JSON')})`,
    );
  return new RotorError('ERR_ROTOR_API_VALIDATION', error.message || 'bad request');
}

const WHERE = { where: 'the server log, under this request id' };

/** Any failure as the RotorError the API answers with; what is not Rotor's is ERR_ROTOR_INTERNAL. */
function asRotorError(error: unknown): RotorError {
  // A driver error that escaped the store's guard (a read-only or failing store) is still a 503.
  if (!isRotorError(error) && isSqliteError(error))
    return toRotorError(mapSqliteError(error, 'the store'), WHERE);
  if (!isRotorError(error) && error && typeof error === 'object' && 'statusCode' in error)
    return fromFastify(error as FastifyError) ?? toRotorError(error, WHERE);
  return toRotorError(error, WHERE);
}

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  const rotorError = asRotorError(error);
  const status = httpStatusOf(rotorError.code);
  // A bug: the cause goes to the log under this request id, never into the answer.
  if (rotorError.code === 'ERR_ROTOR_INTERNAL')
    request.log.error({ err: rotorError.cause ?? rotorError }, 'unhandled error');
  else if (status >= 500)
    request.log.error({ code: rotorError.code, msg: rotorError.message }, 'request failed');
  if (status === 429 && rotorError.details?.retryAfter !== undefined)
    reply.header('retry-after', `${rotorError.details.retryAfter as number}`);
  return reply.code(status).send({
    error: {
      code: rotorError.code,
      message: rotorError.message,
      requestId: request.id,
      ...(rotorError.details ? { details: rotorError.details } : {}),
    },
  });
}

/** Installs the error and not-found handlers that give every failure the API's shape. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new RotorError(
        'ERR_ROTOR_API_NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}: see /v1/openapi.json`,
      ),
    ),
  );
}
