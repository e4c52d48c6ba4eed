// rotor/express: Express (and Connect, and plain node:http) glue for Rotor keyrings. Bearer
// authentication per RFC 6750 with the claims on `req.auth`, a scope guard, and the refresh
// endpoint of rotor/tokens. Plain `(req, res, next)` functions over node:http types: nothing
// here loads express (nor the Rotor CLI or server) at run time.
import type { IncomingMessage, ServerResponse } from 'node:http';
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

declare global {
  // Express's own augmentation point (@types/express-serve-static-core), so `req.auth` is typed
  // in handlers; it declares nothing at run time and needs no express types installed.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified claims of the bearer token, set by rotor/express `bearerAuth`. */
      auth?: JwtClaims;
    }
  }
}

/** The request as these functions see it: node's, plus what Express adds when present. */
export type AuthRequest<C extends JwtClaims = JwtClaims> = IncomingMessage & {
  auth?: C;
  body?: unknown;
  originalUrl?: string;
};

/** A middleware or handler in Express's `(req, res, next)` shape. */
export type Middleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

const MAX_BODY_BYTES = 16_384;

function send(res: ServerResponse, reply: HttpReply & { setCookie?: string }): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  if (reply.setCookie !== undefined) res.appendHeader('set-cookie', reply.setCookie);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(reply.body));
}

/**
 * Middleware that requires `Authorization: Bearer <token>` (the header only: a token in the
 * query or a form body is refused), verifies it with the keyring and puts the claims on
 * `req.auth`. Refusals follow RFC 6750: 401 with a bare `Bearer realm` challenge when no token
 * was sent, 401 `invalid_token` for a bad, expired, revoked or retired-key token (the
 * description comes from the error code, never from the token), 400 `invalid_request` for a
 * malformed header, 403 `insufficient_scope` when `scopes` are missing, 503 before the keyring
 * has loaded.
 *
 * @example
 * import { bearerAuth } from 'rotor/express';
 * app.get('/me', bearerAuth({ keys: access, realm: 'example' }), (req, res) => res.json({ user: req.auth?.sub }));
 */
export function bearerAuth<C extends JwtClaims = JwtClaims>(
  options: BearerAuthOptions,
): Middleware {
  const authenticate = createBearerAuthenticator<C>(options);
  return (req, res, next) => {
    const r = req as AuthRequest<C>;
    let outcome;
    try {
      outcome = authenticate({
        authorization: authorizationLines(req.rawHeaders, req.headers.authorization),
        url: r.originalUrl ?? req.url,
        contentType: req.headers['content-type'],
        body: r.body,
      });
    } catch (error) {
      next(error);
      return;
    }
    if (!outcome.ok) {
      send(res, outcome.reply);
      return;
    }
    r.auth = outcome.claims;
    next();
  };
}

/**
 * Middleware that refuses, with 403 `insufficient_scope`, a request whose verified token lacks
 * any of `scopes` (in `scope` or `scp`). Put it after `bearerAuth`; without `req.auth` it
 * answers 401.
 *
 * @example
 * app.delete('/users/:id', bearerAuth({ keys }), requireScope(['users:write']), handler);
 */
export function requireScope(
  scopes: string | readonly string[],
  options: { realm?: string } = {},
): Middleware {
  const guard = createScopeGuard(scopes, options);
  return (req, res, next) => {
    const denied = guard((req as AuthRequest).auth);
    if (denied) send(res, denied);
    else next();
  };
}

/** Reads a JSON body nobody has parsed yet (no express.json() in front), up to 16 KB. */
async function readJsonBody(
  req: IncomingMessage,
): Promise<{ ok: true; body: unknown } | { ok: false }> {
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type) || !req.readable)
    return { ok: true, body: undefined };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { ok: false };
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: true, body: undefined };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * The refresh endpoint: takes the refresh token from a JSON body (`{"refresh_token": …}`) or
 * the HttpOnly cookie, rotates its family (rotor/tokens), signs a new access token and answers
 * `{ access_token, refresh_token, token_type: 'Bearer', expires_in }` with `Cache-Control:
 * no-store`. A token that came in the cookie goes back in the cookie, not in the body. A reused
 * refresh token revokes its whole family and gets 401 `invalid_grant`, as does any other
 * refused refresh token. Works with or without express.json() in front.
 *
 * @example
 * import { refreshHandler } from 'rotor/express';
 * app.post('/refresh', refreshHandler({ refresh: refreshTokens, access: accessKeys }));
 */
export function refreshHandler(options: RefreshHandlerOptions): Middleware {
  const exchange = createRefreshExchange(options);
  return (req, res, next) => {
    void (async () => {
      let body = (req as AuthRequest).body;
      if (body === undefined) {
        const read = await readJsonBody(req);
        if (!read.ok) {
          send(res, {
            status: 400,
            headers: { 'cache-control': 'no-store' },
            body: {
              error: 'invalid_request',
              error_description: 'the body must be a JSON object of at most 16 KB',
            },
          });
          return;
        }
        body = read.body;
      }
      send(res, await exchange({ body, cookie: req.headers.cookie }));
    })().catch(next);
  };
}
