// The one place where Rotor's error codes become HTTP statuses, and where every error the API
// answers with takes its shape: `{ error: { code, message, requestId, details? } }`. Core knows
// nothing of HTTP; an unmapped code is a 500 whose message is not shown (it may be internal).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRotorError, RotorError, type RotorErrorCode } from '../core/errors.js';
import { mapSqliteError } from '../core/store/sqlite-adapter.js';

export const HTTP_STATUS: Partial<Record<RotorErrorCode, number>> = {
  ERR_ROTOR_API_VALIDATION: 400,
  ERR_ROTOR_API_TOKEN_SPEC_INVALID: 400,
  ERR_ROTOR_DURATION_INVALID: 400,
  ERR_ROTOR_VALUE_INVALID: 400,
  ERR_ROTOR_VALUE_MISSING: 400,
  ERR_ROTOR_VALUE_ON_ARGV: 400,
  ERR_ROTOR_CLI_USAGE: 400,
  ERR_ROTOR_CLI_DATE_INVALID: 400,
  ERR_ROTOR_RETIRE_REASON_REQUIRED: 400,
  ERR_ROTOR_API_TOKEN_MISSING: 401,
  ERR_ROTOR_API_TOKEN_INVALID: 401,
  ERR_ROTOR_API_TOKEN_EXPIRED: 401,
  ERR_ROTOR_API_TOKEN_REVOKED: 401,
  ERR_ROTOR_API_FORBIDDEN: 403,
  ERR_ROTOR_API_NOT_FOUND: 404,
  ERR_ROTOR_API_TOKEN_NOT_FOUND: 404,
  ERR_ROTOR_SECRET_UNKNOWN: 404,
  ERR_ROTOR_ENV_UNKNOWN: 404,
  ERR_ROTOR_VERSION_NOT_FOUND: 404,
  ERR_ROTOR_SECRET_NOT_STORED: 409,
  ERR_ROTOR_SECRET_NOT_APPLIED: 409,
  ERR_ROTOR_LOCK_HELD: 409,
  ERR_ROTOR_ROTATION_IN_PROGRESS: 409,
  ERR_ROTOR_ROTATION_WAITING: 409,
  ERR_ROTOR_ROTATION_SUPERSEDED: 409,
  ERR_ROTOR_ROTATION_NOT_SUPPORTED: 409,
  ERR_ROTOR_RETIRE_POSTPONED: 409,
  ERR_ROTOR_IMPORT_EXISTS: 409,
  ERR_ROTOR_JWKS_NOT_PUBLISHABLE: 409,
  ERR_ROTOR_SESSIONS_NOT_CONFIGURED: 409,
  ERR_ROTOR_API_BODY_TOO_LARGE: 413,
  ERR_ROTOR_API_MEDIA_TYPE: 415,
  ERR_ROTOR_API_RATE_LIMITED: 429,
  ERR_ROTOR_API_STREAM_LIMIT: 429,
  ERR_ROTOR_ROTATION_FAILED: 502,
  ERR_ROTOR_VERIFY_FAILED: 502,
  ERR_ROTOR_DB_UNREACHABLE: 502,
  ERR_ROTOR_DB_AUTH_FAILED: 502,
  ERR_ROTOR_DB_PRIVILEGE_MISSING: 502,
  ERR_ROTOR_DB_GRANTS_DIFFER: 502,
  ERR_ROTOR_DB_QUERY_FAILED: 502,
  ERR_ROTOR_TOKENS_STORE_UNREACHABLE: 502,
  ERR_ROTOR_API_NOT_READY: 503,
  ERR_ROTOR_SESSIONS_URL_MISSING: 503,
  ERR_ROTOR_STORE_NOT_INITIALIZED: 503,
  ERR_ROTOR_STORE_CORRUPT: 503,
  ERR_ROTOR_STORE_UNAVAILABLE: 503,
  ERR_ROTOR_CRYPTO_MASTER_KEY_MISSING: 503,
  ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID: 503,
  ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY: 503,
  ERR_ROTOR_POLICY_NOT_FOUND: 503,
  ERR_ROTOR_POLICY_SYNTAX: 503,
  ERR_ROTOR_POLICY_INVALID: 503,
};

function isSqliteError(error: unknown): boolean {
  return (
    typeof (error as { code?: unknown } | null)?.code === 'string' &&
    (error as { code: string }).code.startsWith('SQLITE_')
  );
}

export function httpStatusOf(code: string): number {
  return HTTP_STATUS[code as RotorErrorCode] ?? 500;
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

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): FastifyReply {
  let rotorError: RotorError | undefined;
  // A driver error that escaped the store's guard (a read-only or failing store) is still a 503.
  if (!isRotorError(error) && isSqliteError(error)) error = mapSqliteError(error, 'the store');
  if (isRotorError(error)) rotorError = error;
  else if (error && typeof error === 'object' && 'statusCode' in error)
    rotorError = fromFastify(error as FastifyError);
  if (!rotorError) {
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({
      error: {
        code: 'ERR_ROTOR_INTERNAL',
        message: 'internal error: see the server log for this request id',
        requestId: request.id,
      },
    });
  }
  const status = httpStatusOf(rotorError.code);
  if (status >= 500)
    request.log.error({ code: rotorError.code, msg: rotorError.message }, 'request failed');
  if (status === 429 && rotorError.details?.retryAfter !== undefined)
    reply.header('retry-after', String(rotorError.details.retryAfter));
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
