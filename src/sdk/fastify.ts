// rotor/fastify: Fastify glue for Rotor keyrings (bearer auth, scope guard, refresh endpoint);
// imports only fastify's types, so nothing here loads fastify at run time.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JwtClaims } from './jwt/jwt-types.js';
import {
  authorizationLines,
  createBearerAuthenticator,
  createScopeGuard,
  type BearerAuthOptions,
  type HttpReply,
} from './http/bearer-auth.js';
import { createRefreshExchange, type RefreshHandlerOptions } from './http/refresh-exchange.js';

export * from './http/http-exports.js';

/** A hook or handler usable as `onRequest`, `preHandler` or a route handler. */
export type AuthHook = (
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified claims of the bearer token, set by rotor/fastify. */
    auth?: JwtClaims;
  }
  interface FastifyInstance {
    /** The bearer hook of the `rotorAuth` plugin: `{ onRequest: fastify.rotorAuthenticate }`. */
    rotorAuthenticate: AuthHook;
  }
}

function send(reply: FastifyReply, out: HttpReply & { setCookie?: string }): FastifyReply {
  reply.code(out.status);
  for (const [name, value] of Object.entries(out.headers)) reply.header(name, value);
  if (out.setCookie !== undefined) reply.header('set-cookie', out.setCookie);
  reply.type('application/json; charset=utf-8');
  return reply.send(out.body);
}

/**
 * A hook that requires `Authorization: Bearer <token>` (the header only: a token in the query
 * or a form body is refused), verifies it with the keyring and sets `request.auth`. Refusals
 * follow RFC 6750: 401 with a bare `Bearer realm` challenge when no token was sent, 401
 * `invalid_token` for a bad, expired, revoked or retired-key token (described by its error
 * code, never by the token), 400 `invalid_request` for a malformed header, 403
 * `insufficient_scope` when `scopes` are missing, 503 before the keyring has loaded.
 *
 * @example
 * import { bearerAuth } from 'rotor/fastify';
 * app.get('/me', { onRequest: bearerAuth({ keys: access }) }, async (request) => ({ user: request.auth?.sub }));
 */
export function bearerAuth(options: BearerAuthOptions): AuthHook {
  const authenticate = createBearerAuthenticator(options);
  return async (request, reply) => {
    const outcome = authenticate({
      authorization: authorizationLines(request.raw.rawHeaders, request.headers.authorization),
      url: request.url,
      contentType: request.headers['content-type'],
      body: request.body,
    });
    if (!outcome.ok) return send(reply, outcome.reply);
    request.auth = outcome.claims;
    return undefined;
  };
}

/**
 * A hook that refuses, with 403 `insufficient_scope`, a request whose verified token lacks any
 * of `scopes` (in `scope` or `scp`). Run it after `bearerAuth`; without `request.auth` it
 * answers 401.
 *
 * @example
 * app.delete('/users/:id', { onRequest: [app.rotorAuthenticate, requireScope(['users:write'])] }, handler);
 */
export function requireScope(
  scopes: string | readonly string[],
  options: { realm?: string } = {},
): AuthHook {
  const guard = createScopeGuard(scopes, options);
  return async (request, reply) => {
    // A null `request.auth` counts as no claims.
    const denied = guard(request.auth ?? undefined);
    return denied ? send(reply, denied) : undefined;
  };
}

/**
 * The refresh endpoint as a route handler: takes the refresh token from the JSON body
 * (`{"refresh_token": …}`) or the HttpOnly cookie, rotates its family (rotor/tokens), signs a
 * new access token and answers `{ access_token, refresh_token, token_type: 'Bearer',
 * expires_in }` with `Cache-Control: no-store`. A token that came in the cookie goes back in
 * the cookie, not in the body. A reused refresh token revokes its whole family and gets 401
 * `invalid_grant`, as does any other refused refresh token.
 *
 * @example
 * app.post('/refresh', refreshHandler({ refresh: refreshTokens, access: accessKeys }));
 */
export function refreshHandler(options: RefreshHandlerOptions): AuthHook {
  const exchange = createRefreshExchange(options);
  return async (request, reply) =>
    send(reply, await exchange({ body: request.body, cookie: request.headers.cookie }));
}

/**
 * A plugin that decorates `request.auth` and adds `fastify.rotorAuthenticate`, the bearer hook
 * for routes to opt into. It is not encapsulated (like fastify-plugin), so the decorator is
 * visible to the whole application.
 *
 * @example
 * import { rotorAuth } from 'rotor/fastify';
 * await app.register(rotorAuth, { keys: access, realm: 'api' });
 * app.get('/me', { onRequest: app.rotorAuthenticate }, async (request) => request.auth);
 */
export const rotorAuth = Object.assign(
  function rotorAuth(
    fastify: FastifyInstance,
    options: BearerAuthOptions,
    done: (error?: Error) => void,
  ): void {
    try {
      const hook = bearerAuth(options);
      if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', undefined);
      fastify.decorate('rotorAuthenticate', hook);
      done();
    } catch (error) {
      done(error as Error);
    }
  },
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'rotor-auth',
    [Symbol.for('plugin-meta')]: { name: 'rotor-auth', fastify: '5.x' },
  },
);
