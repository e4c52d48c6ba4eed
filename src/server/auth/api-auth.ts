// Bearer-token authentication and role checks as Fastify preHandlers. `authenticate` sets
// `request.principal`; `requireRole(...)` / `requirePermission(p)` refuse with 403. Plugins that
// teammates add (dashboard, events, metrics) reuse these instead of parsing tokens themselves.
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Actor } from '../../core/audit/audit-log.js';
import { RotorError } from '../../core/errors.js';
import type { TokenAuthenticator, TokenPrincipal } from '../../core/tokens/authenticate-token.js';
import type { TokenRole } from '../../core/tokens/token-grant.js';
import { roleAllows, type Permission } from './roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API token, set by `authenticate`; null on public routes. */
    principal: TokenPrincipal | null;
  }
}

/** The bearer token of a request, or ERR_ROTOR_API_TOKEN_MISSING. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) {
    throw new RotorError(
      'ERR_ROTOR_API_TOKEN_MISSING',
      'missing API token: send "Authorization: Bearer rtr_…" (create one with `rotor token create`)',
    );
  }
  return m[1]!;
}

/** A preHandler that authenticates the bearer token against the store. */
export function createAuthenticate(
  authenticator: () => Promise<TokenAuthenticator>,
): preHandlerAsyncHookHandler {
  return async function authenticate(request: FastifyRequest) {
    const token = bearerToken(request);
    request.principal = await (await authenticator()).authenticate(token);
  };
}

/** The authenticated principal, or a 401 if a route forgot `authenticate`. */
export function principalOf(request: FastifyRequest): TokenPrincipal {
  if (!request.principal)
    throw new RotorError('ERR_ROTOR_API_TOKEN_MISSING', 'this route needs an API token');
  return request.principal;
}

function forbidden(principal: TokenPrincipal, what: string): RotorError {
  return new RotorError(
    'ERR_ROTOR_API_FORBIDDEN',
    `token "${principal.name}" (role ${principal.grant.role}) may not ${what}`,
    {
      details: { role: principal.grant.role },
    },
  );
}

export function assertPermission(request: FastifyRequest, permission: Permission): TokenPrincipal {
  const principal = principalOf(request);
  if (!roleAllows(principal.grant.role, permission)) throw forbidden(principal, permission);
  return principal;
}

/** For an `app` token (or admin): may it read `secret` in `environment`? 403 if not. */
export function assertSecretGrant(
  request: FastifyRequest,
  secret: string,
  environment: string,
): TokenPrincipal {
  const principal = assertPermission(request, 'secret.read');
  if (!principal.grant.allows(secret, environment))
    throw forbidden(principal, `read ${secret} in ${environment} (not in its grant)`);
  return principal;
}

/** A preHandler that lets only these roles through. */
export function requireRole(...roles: TokenRole[]): preHandlerAsyncHookHandler {
  return async function requireRoleHandler(request: FastifyRequest, _reply: FastifyReply) {
    const principal = principalOf(request);
    if (!roles.includes(principal.grant.role))
      throw forbidden(
        principal,
        `use ${request.routeOptions.url ?? 'this route'} (needs ${roles.join(' or ')})`,
      );
  };
}

/** A preHandler that checks one permission of the role table. */
export function requirePermission(permission: Permission): preHandlerAsyncHookHandler {
  return async function requirePermissionHandler(request: FastifyRequest) {
    assertPermission(request, permission);
  };
}

/** The audit actor for a request: the token's name as operator, the request id, method `api`. */
export function actorOf(request: FastifyRequest): Actor {
  return { operator: principalOf(request).name, requestId: request.id, method: 'api' };
}
