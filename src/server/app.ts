// The Rotor HTTP server as a Fastify app that never listens by itself (`rotor serve` listens, tests
// inject); dashboard, events and metrics plug in through `plugins`.
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
} from 'fastify';
import type { Clock } from '../core/clock.js';
import { followAppliedPolicy, type AppliedPolicyFollower } from '../core/apply/applied-policy.js';
import type { Rotor } from '../core/context.js';
import { createRotationEngine, type RotationEngine } from '../core/rotation/rotation-engine.js';
import {
  createTokenAuthenticator,
  type TokenAuthenticator,
} from '../core/tokens/authenticate-token.js';
import {
  assertPermission,
  createAuthenticate,
  requirePermission,
  requireRole,
} from './auth/api-auth.js';
import type { Permission } from './auth/roles.js';
import { installErrorHandling, sendError } from './errors.js';
import { createSecretReadPath, type SecretReadPath } from './read-path/secret-read-path.js';
import { eventsPlugin } from './events/events-plugin.js';
import { DASHBOARD_PREFIX, dashboardPlugin } from './dashboard/dashboard-plugin.js';
import { routesPlugin, type ServerDeps } from './route-def.js';
import { serializeRequest } from './log-redaction.js';
import { AccessLogController } from './access-log.js';
import { createRequestLimiter, DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
import { API_ROUTES } from './routes/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route table's permission; routes added by plugins without one do their own checks. */
    permission?: Permission | 'public';
  }
}

export const BODY_LIMIT = 64 * 1024;

export { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';

/** Probes a load balancer calls: never rate-limited. */
const PROBES = new Set(['/healthz', '/readyz']);

/** What a plugin registered through `buildApp({ plugins })` receives as options. */
export interface ServerPluginOptions {
  deps: ServerDeps;
  /** preHandler: authenticates the bearer token and sets `request.principal` (401 otherwise). */
  authenticate: ReturnType<typeof createAuthenticate>;
  requireRole: typeof requireRole;
  requirePermission: typeof requirePermission;
}

export interface BuildAppOptions {
  rotor: Rotor;
  /** Default: a rotation engine over `rotor`. */
  engine?: RotationEngine;
  /** Default: `rotor.clock`. Token expiry and the API's "now" come from it. */
  clock?: Clock;
  /** Extra Fastify plugins (dashboard, SSE events, /metrics), registered after the API routes. */
  plugins?: ReadonlyArray<FastifyPluginAsync<ServerPluginOptions>>;
  /** Per-token and per-address rate limits, or false for none. */
  rateLimit?: RateLimitOptions | false;
  /**
   * Proxies whose X-Forwarded-For/-Proto/-Host are believed (addresses or CIDRs, as `rotor serve
   * --trust-proxy`): client addresses, Secure cookies and same-origin checks behind a reverse proxy.
   * Default: none (the socket's address, protocol and Host header are used).
   */
  trustProxy?: readonly string[];
  bodyLimit?: number;
  /** Log each request at info level (default true; the logger is `rotor.logger`). */
  requestLogging?: boolean;
  /**
   * What keeps the server on the store's applied policy (checked before every request). Default:
   * one made here; `false` keeps the policy the Rotor holds.
   */
  policy?: AppliedPolicyFollower | false;
}

/**
 * @example
 * const app = await buildApp({ rotor });
 * const res = await app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } });
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { rotor } = options;
  const clock = options.clock ?? rotor.clock;
  const engine = options.engine ?? createRotationEngine({ rotor });
  let readPath: Promise<SecretReadPath> | undefined;
  const reads = () => {
    readPath ??= rotor.store().then((store) => createSecretReadPath(rotor, store));
    readPath.catch(() => (readPath = undefined));
    return readPath;
  };
  const deps: ServerDeps = { rotor, engine, clock, reads };
  let authenticator: Promise<TokenAuthenticator> | undefined;
  const getAuthenticator = () => {
    authenticator ??= Promise.all([rotor.store(), reads()]).then(([store, path]) =>
      createTokenAuthenticator(
        store,
        clock,
        path.findToken ? { findToken: path.findToken.bind(path) } : {},
      ),
    );
    authenticator.catch(() => (authenticator = undefined));
    return authenticator;
  };
  const authenticate = createAuthenticate(getAuthenticator);

  const fastifyOptions: FastifyServerOptions = {
    // The request serializer redacts credentials in URLs (feed tokens, ?token=…): log-redaction.ts.
    loggerInstance: rotor.logger.child(
      { component: 'server' },
      { serializers: { req: serializeRequest } },
    ),
    // One access line per request (access-log.ts).
    logController: new AccessLogController({
      disableRequestLogging: options.requestLogging === false,
      requestIdLogLabel: 'requestId',
    }),
    bodyLimit: options.bodyLimit ?? BODY_LIMIT,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy:
      options.trustProxy && options.trustProxy.length > 0 ? [...options.trustProxy] : false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 256 },
    // Router-level refusals (bad URL encoding, over-long parameters) get the API's error shape too.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      sendError(request, reply, error);
    },
  };
  const app = Fastify(fastifyOptions) as unknown as FastifyInstance;
  app.decorateRequest('principal', null);
  // Only JSON bodies: anything else is a 415, before any handler runs.
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  app.addHook('onClose', async () => {
    const path = readPath;
    readPath = undefined;
    if (path) (await path.catch(() => undefined))?.close();
  });

  // The applied policy (`rotor apply` from another process) is picked up before the request runs.
  let follower = options.policy === false ? undefined : options.policy;
  if (options.policy === undefined) {
    const made = await rotor
      .store()
      .then((store) => followAppliedPolicy(rotor, store))
      .catch(() => undefined);
    follower = made;
    app.addHook('onClose', async () => made?.close());
  }
  if (follower) {
    const policy = follower;
    await policy.refresh();
    app.addHook('onRequest', async () => {
      await policy.refresh();
    });
  }

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
  });
  // Authentication and the role check, with the rate limit counted per token once the token is
  // known, and per client address for everything else (a refused token counts for its address).
  const limits = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const limiter = limits === false ? undefined : createRequestLimiter(limits);
  app.addHook('preHandler', async (request, reply) => {
    const permission = request.routeOptions.config.permission;
    if (permission === undefined || permission === 'public') {
      if (limiter && !PROBES.has(request.routeOptions.url ?? ''))
        limiter.hit({ address: request.ip });
      return;
    }
    try {
      await authenticate.call(app, request, reply);
    } catch (error) {
      limiter?.hit({ address: request.ip });
      throw error;
    }
    if (limiter && request.principal)
      limiter.hit({ token: request.principal.id, name: request.principal.name });
    assertPermission(request, permission);
  });

  await app.register(routesPlugin(API_ROUTES, deps));
  const pluginOptions: ServerPluginOptions = { deps, authenticate, requireRole, requirePermission };
  // Live delivery (/v1/events, consumers) is always on; an events plugin given in `plugins` (own options) takes its place.
  for (const plugin of [...(options.plugins ?? []), eventsPlugin, dashboardPlugin])
    await app.register(plugin, pluginOptions);
  // The front door: a browser pointed at the server lands on the dashboard, not on a 404.
  if (!app.hasRoute({ method: 'GET', url: '/' }))
    app.get('/', (_request, reply) => reply.redirect(`${DASHBOARD_PREFIX}/`));
  return app;
}
