// The operators' dashboard as a Fastify plugin (docs/server.md, docs/security.md); it acts only
// through core, with the operator and the request id.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { appendAudit, type Actor } from '../../core/audit/audit-log.js';
import { exportAudit } from '../../core/audit/audit-export.js';
import { listConsumers } from '../../core/consumers/list-consumers.js';
import { listAudit } from '../../core/audit/audit-query.js';
import { createIncrementalVerifier } from '../../core/audit/audit-verify-incremental.js';
import type { Clock } from '../../core/clock.js';
import type { Rotor } from '../../core/context.js';
import { isRotorError, toRotorError } from '../../core/errors.js';
import { httpStatusOf } from '../errors.js';
import { authenticateOperator } from '../../core/operators/authenticate-operator.js';
import { createFeedToken, operatorForFeedToken } from '../../core/operators/feed-token.js';
import {
  checkCsrf,
  createWebSession,
  endWebSession,
  findWebSession,
  type SessionLimits,
  type WebSession,
} from '../../core/operators/web-sessions.js';
import type { SecretSpec } from '../../core/policy/policy.js';
import { MASTER_KEY_KIND } from '../../core/crypto/master-key-names.js';
import { createRotationEngine, type RotationEngine } from '../../core/rotation/rotation-engine.js';
import { computeStatus, STATUS_STATES, type StatusState } from '../../core/status/status.js';
import { INFO_COLUMNS } from '../../core/vault/versions.js';
import { redactUrl } from '../log-redaction.js';
import { readCookie, serializeCookie } from './cookies.js';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard-assets.js';
import { icsFeed } from './ics-feed.js';
import {
  createCheckGate,
  createLoginLimiter,
  signInConcurrency,
  type LoginLimit,
} from './login-limiter.js';
import { auditPage } from './pages/audit-page.js';
import { calendarPage } from './pages/calendar-page.js';
import { inventoryPage, type InventoryFilter } from './pages/inventory-page.js';
import { errorPage, type PageContext } from './pages/layout.js';
import { loginPage } from './pages/login-page.js';
import { secretPage, type SecretPageData } from './pages/secret-page.js';

export const SESSION_COOKIE = 'rotor_session';
export const LOGIN_COOKIE = 'rotor_login';
export const DASHBOARD_PREFIX = '/dashboard';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const CSRF_MESSAGE =
  'Refused: this form did not come from a signed-in Rotor dashboard page (missing or wrong CSRF token, expired session, or a request from another site). Nothing was changed.';

/** What the plugin needs; `buildApp({ plugins })` passes `{ deps }` with these and more. */
export interface DashboardPluginOptions {
  deps: { rotor: Rotor; engine?: RotationEngine; clock?: Clock };
}

export interface DashboardOptions {
  /** URL prefix (default `/dashboard`). */
  prefix?: string;
  loginLimit?: LoginLimit;
  /** Password checks (argon2id) run at once for sign-ins; more are refused with 503 (default ROTOR_SIGNIN_CONCURRENCY, else 2). */
  signInConcurrency?: number;
  sessionLimits?: SessionLimits;
}

type Form = Record<string, string | undefined>;

/** The form's string fields; anything else (a JSON body, arrays, numbers) is ignored. */
function formOf(request: FastifyRequest): Form {
  const body = request.body;
  const form: Form = {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) return form;
  for (const [key, value] of Object.entries(body as Record<string, unknown>))
    if (typeof value === 'string') form[key] = value;
  return form;
}

function sameStrings(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * @example
 * const app = await buildApp({ rotor, plugins: [createDashboardPlugin()] });
 */
export function createDashboardPlugin(
  options: DashboardOptions = {},
): FastifyPluginAsync<DashboardPluginOptions> {
  const prefix = options.prefix ?? DASHBOARD_PREFIX;
  return async (app, { deps }) => {
    // buildApp always adds the default dashboard; one configured in `plugins` (registered
    // earlier) takes its place.
    if (app.hasRoute({ method: 'GET', url: `${prefix}/login` })) return;
    await app.register((scope) => dashboardRoutes(scope, deps, { ...options, prefix }), { prefix });
  };
}

/** The plugin with its defaults, for `buildApp({ plugins: [dashboardPlugin] })`. */
export const dashboardPlugin: FastifyPluginAsync<DashboardPluginOptions> = createDashboardPlugin();

async function dashboardRoutes(
  app: FastifyInstance,
  deps: DashboardPluginOptions['deps'],
  options: DashboardOptions & { prefix: string },
): Promise<void> {
  const { rotor } = deps;
  const clock = deps.clock ?? rotor.clock;
  const engine = deps.engine ?? createRotationEngine({ rotor });
  const base = options.prefix;
  // The audit page's chain status: verified in full once (and every 10 min), then only new rows.
  const chain = createIncrementalVerifier({ clock });
  const checks = createCheckGate(signInConcurrency(options.signInConcurrency, rotor.env));
  const sessions = new WeakMap<FastifyRequest, WebSession>();
  const store = () => rotor.store();
  const limiter = createLoginLimiter({ store, clock }, options.loginLimit);

  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );
  }

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-frame-options', 'DENY');
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on our own forms.
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cache-control', 'no-store');
  });

  const secure = (request: FastifyRequest) => request.protocol === 'https';
  const sendHtml = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);
  const actorOf = (request: FastifyRequest, session: WebSession): Actor => ({
    operator: session.operator,
    requestId: request.id,
    method: 'manual',
  });
  const pageContext = (session: WebSession): PageContext => ({
    base,
    operator: session.operator,
    csrfToken: session.csrfToken,
    now: clock.now(),
  });

  async function sessionOf(request: FastifyRequest): Promise<WebSession | undefined> {
    const token = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (!token) return undefined;
    return findWebSession(await store(), clock, token, options.sessionLimits);
  }

  /** A cross-site request: an Origin (or Sec-Fetch-Site) that is not this server. */
  function crossSite(request: FastifyRequest): boolean {
    if (request.headers['sec-fetch-site'] === 'cross-site') return true;
    const origin = request.headers.origin;
    if (origin === undefined) return false;
    try {
      return new URL(origin).host !== request.host;
    } catch {
      return true;
    }
  }

  // GET pages: a session or a redirect to the sign-in page.
  const requirePage = async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await sessionOf(request);
    if (!session) return reply.redirect(`${base}/login`, 303);
    sessions.set(request, session);
  };
  // POSTs: a session, the same origin, and the session's CSRF token; otherwise 403, nothing done.
  const requireForm = async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await sessionOf(request);
    const ok =
      session !== undefined &&
      !crossSite(request) &&
      (await checkCsrf(await store(), session, formOf(request).csrf));
    if (!ok) {
      request.log.warn(
        { url: redactUrl(request.url), signedIn: session !== undefined },
        'dashboard: form refused (CSRF)',
      );
      return sendHtml(reply, 403, errorPage(undefined, base, 'Forbidden', CSRF_MESSAGE));
    }
    sessions.set(request, session);
  };
  const sessionFor = (request: FastifyRequest) => sessions.get(request)!;

  // Assets: the only script and stylesheet the CSP allows.
  app.get('/assets/dashboard.css', async (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=3600')
      .type('text/css; charset=utf-8')
      .send(DASHBOARD_CSS),
  );
  app.get('/assets/dashboard.js', async (_request, reply) =>
    reply
      .header('cache-control', 'public, max-age=3600')
      .type('text/javascript; charset=utf-8')
      .send(DASHBOARD_JS),
  );

  // Sign-in. A fresh random value is set as a cookie and echoed in the form (double submit).
  const showLogin = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    extra: { error?: string; name?: string; notice?: string } = {},
  ) => {
    const loginCsrf = randomBytes(24).toString('base64url');
    reply.header(
      'set-cookie',
      serializeCookie(LOGIN_COOKIE, loginCsrf, { secure: secure(request), maxAge: 1800 }),
    );
    return sendHtml(reply, status, loginPage(base, loginCsrf, extra));
  };
  app.get('/login', async (request, reply) => {
    if (await sessionOf(request)) return reply.redirect(`${base}/`, 303);
    return showLogin(
      request,
      reply,
      200,
      (request.query as { out?: string }).out ? { notice: 'You are signed out.' } : {},
    );
  });
  app.post('/login', async (request, reply) => {
    const form = formOf(request);
    const cookie = readCookie(request.headers.cookie, LOGIN_COOKIE);
    if (
      crossSite(request) ||
      !cookie ||
      typeof form.csrf !== 'string' ||
      !sameStrings(cookie, form.csrf)
    ) {
      return sendHtml(reply, 403, errorPage(undefined, base, 'Forbidden', CSRF_MESSAGE));
    }
    const name = (form.name ?? '').trim().slice(0, 64);
    // Counted in the store before the password is checked (see login-limiter.ts), then a slot
    // among this process's few concurrent checks; either refusal checks nothing.
    const keys = [`ip:${request.ip}`, `name:${name.toLowerCase()}`];
    const reserved = await limiter.reserve(keys);
    if (!reserved.ok) {
      const wait = reserved.retryAfterMs;
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      const when =
        wait < 60_000 ? `${Math.ceil(wait / 1000)} s` : `${Math.ceil(wait / 60_000)} min`;
      return showLogin(request, reply, 429, {
        error: `Too many sign-in attempts for this name or address: try again in ${when}.`,
        name,
      });
    }
    const leave = checks.tryEnter();
    if (!leave) {
      await reserved.reservation.settle('not-checked');
      reply.header('retry-after', '1');
      return showLogin(request, reply, 503, {
        error: 'The server is busy checking other sign-ins: try again in a moment.',
        name,
      });
    }
    let operator: string;
    try {
      operator = await authenticateOperator(rotor, {
        name,
        password: form.password ?? '',
        code: form.code ?? '',
        requestId: request.id,
      });
    } catch (error) {
      leave();
      // The failure is stored before the answer, so the next attempt (on any instance) sees it.
      const failed = isRotorError(error, 'ERR_ROTOR_OPERATOR_LOGIN_FAILED');
      await reserved.reservation.settle(failed ? 'failure' : 'not-checked');
      if (!failed) throw error;
      return showLogin(request, reply, 401, {
        error: 'Sign-in failed: check the name, the password and the code.',
        name,
      });
    }
    leave();
    await reserved.reservation.settle('success');
    const { token, session } = await createWebSession(
      await store(),
      clock,
      operator,
      options.sessionLimits,
    );
    const maxAge = Math.floor((session.expiresAt - clock.now()) / 1000);
    reply.header('set-cookie', [
      serializeCookie(SESSION_COOKIE, token, { secure: secure(request), maxAge }),
      serializeCookie(LOGIN_COOKIE, '', { secure: secure(request), maxAge: 0 }),
    ]);
    return reply.redirect(`${base}/`, 303);
  });
  app.post('/logout', { preHandler: requireForm }, async (request, reply) => {
    const session = sessionFor(request);
    const s = await store();
    await endWebSession(s, session.id);
    await s.writeTransaction((trx) =>
      appendAudit(trx, clock, actorOf(request, session), {
        action: 'operator.logout',
        outcome: 'success',
      }),
    );
    reply.header(
      'set-cookie',
      serializeCookie(SESSION_COOKIE, '', { secure: secure(request), maxAge: 0 }),
    );
    return reply.redirect(`${base}/login?out=1`, 303);
  });

  // Inventory.
  app.get('/', { preHandler: requirePage }, async (request, reply) => {
    const session = sessionFor(request);
    const query = request.query as Record<string, string | undefined>;
    const s = await store();
    const report = await computeStatus(s, { now: clock.now() });
    const environments = (
      await s.db.selectFrom('environments').select('name').orderBy('position').execute()
    ).map((e) => e.name);
    const filter: InventoryFilter = {};
    if (query.q) filter.q = query.q.slice(0, 200);
    if (query.state && (STATUS_STATES as readonly string[]).includes(query.state))
      filter.state = query.state as StatusState;
    if (query.env && environments.includes(query.env)) filter.env = query.env;
    return sendHtml(reply, 200, inventoryPage(pageContext(session), report, environments, filter));
  });

  // One secret.
  async function renderSecret(
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
    { status, ...extra }: { status: number } & Pick<SecretPageData, 'formError' | 'result'>,
  ) {
    const session = sessionFor(request);
    const s = await store();
    const row = await s.db
      .selectFrom('secrets')
      .select(['name', 'kind', 'spec'])
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row)
      return sendHtml(
        reply,
        404,
        errorPage(
          pageContext(session),
          base,
          'Not found',
          `There is no secret named "${name}" in the store.`,
        ),
      );
    const spec = JSON.parse(row.spec) as SecretSpec;
    const [report, versions, rotations, audit, consumers] = await Promise.all([
      computeStatus(s, { now: clock.now(), secret: name }),
      s.db
        .selectFrom('versions')
        .select(INFO_COLUMNS)
        .where('secret', '=', name)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(200)
        .execute(),
      s.db
        .selectFrom('rotations')
        .select([
          'id',
          'environment',
          'method',
          'operator',
          'request_id',
          'reason',
          'state',
          'step',
          'started_at',
          'finished_at',
          'error_code',
          'error_message',
        ])
        .where('secret', '=', name)
        .orderBy('started_at', 'desc')
        .limit(20)
        .execute(),
      listAudit(s, { secret: name, limit: 100 }),
      listConsumers(s.db, { secret: name }, clock.now()),
    ]);
    let notRotatable: string | undefined;
    if (spec.kind === MASTER_KEY_KIND)
      notRotatable = 'Rotor’s master key is rotated with `rotor master-key rotate` on the server.';
    else {
      try {
        if (rotor.rotator(spec.kind).source === 'operator')
          notRotatable = `A ${spec.kind} secret needs its new value from a person: rotate it with \`rotor rotate ${name}\`.`;
      } catch (error) {
        notRotatable = isRotorError(error) ? error.message : 'This kind cannot be rotated here.';
      }
    }
    const data: SecretPageData = {
      spec: { ...spec, name },
      status: report.rows,
      versions,
      rotations,
      audit,
      consumers,
      ...extra,
      ...(notRotatable ? { notRotatable } : {}),
    };
    return sendHtml(reply, status, secretPage(pageContext(session), data));
  }

  app.get('/secrets/:name', { preHandler: requirePage }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const requestId = (request.query as { request?: string }).request;
    let result: SecretPageData['result'];
    if (requestId && /^[0-9a-f-]{36}$/.test(requestId)) {
      const rows = (await listAudit(await store(), { secret: name, limit: 200 })).filter(
        (r) => r.requestId === requestId,
      );
      result = { requestId, rows };
    }
    return renderSecret(request, reply, name, result ? { status: 200, result } : { status: 200 });
  });

  const rotateRoute =
    (emergency: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
      const session = sessionFor(request);
      const { name } = request.params as { name: string };
      const form = formOf(request);
      const reason = (form.reason ?? '').trim();
      const environment = (form.environment ?? '').trim();
      let spec: SecretSpec;
      try {
        spec = rotor.secret(name);
      } catch (error) {
        if (isRotorError(error, 'ERR_ROTOR_SECRET_UNKNOWN'))
          return sendHtml(
            reply,
            404,
            errorPage(pageContext(session), base, 'Not found', error.message),
          );
        throw error;
      }
      const refuse = (message: string) =>
        renderSecret(request, reply, name, {
          status: 400,
          formError: `${message} Nothing was rotated.`,
        });
      if (reason.length === 0) return refuse('Give a reason: it is recorded in the audit log.');
      if (reason.length > 500) return refuse('The reason is longer than 500 characters.');
      if (environment && !spec.environments.includes(environment))
        return refuse(`${name} is not used in environment "${environment}".`);
      if (emergency && (form.confirm ?? '') !== name)
        return refuse(
          `To confirm an emergency rotation, type the secret's name (${name}) exactly.`,
        );
      if (spec.kind === MASTER_KEY_KIND || rotor.rotator(spec.kind).source === 'operator')
        return refuse(
          `${name} cannot be rotated from the dashboard: use \`rotor rotate ${name}\`.`,
        );
      try {
        await engine.rotate(actorOf(request, session), {
          secret: name,
          ...(environment ? { environments: [environment] } : {}),
          method: 'manual',
          emergency,
          reason,
        });
      } catch (error) {
        // Refusals before any step ran (another rotation holds the lock, one is waiting): the
        // page says why; failures inside a step are reported through the audit rows instead.
        if (!isRotorError(error)) throw error;
        const busy = [
          'ERR_ROTOR_LOCK_HELD',
          'ERR_ROTOR_ROTATION_IN_PROGRESS',
          'ERR_ROTOR_ROTATION_WAITING',
        ].includes(error.code);
        return renderSecret(request, reply, name, {
          status: busy ? 409 : 400,
          formError: `${error.code}: ${error.message}`,
        });
      }
      return reply.redirect(
        `${base}/secrets/${encodeURIComponent(name)}?request=${request.id}`,
        303,
      );
    };
  app.post('/secrets/:name/rotate', { preHandler: requireForm }, rotateRoute(false));
  app.post('/secrets/:name/emergency', { preHandler: requireForm }, rotateRoute(true));

  // Audit log.
  app.get('/audit', { preHandler: requirePage }, async (request, reply) => {
    const session = sessionFor(request);
    const query = request.query as Record<string, string | undefined>;
    const limit = [50, 200, 1000].includes(Number(query.limit)) ? Number(query.limit) : 200;
    const filter = {
      ...(query.secret ? { secret: query.secret.slice(0, 200) } : {}),
      ...(query.action ? { action: query.action.slice(0, 100) } : {}),
    };
    const s = await store();
    const [verify, rows] = await Promise.all([chain.status(s), listAudit(s, { ...filter, limit })]);
    return sendHtml(
      reply,
      200,
      auditPage(pageContext(session), verify, rows, { ...filter, limit }),
    );
  });
  app.get('/audit.csv', { preHandler: requirePage }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>;
    const filter = {
      ...(query.secret ? { secret: query.secret.slice(0, 200) } : {}),
      ...(query.action ? { action: query.action.slice(0, 100) } : {}),
    };
    const out = new PassThrough();
    const s = await store();
    exportAudit(s, out, { format: 'csv', filter }).then(
      () => out.end(),
      (error: unknown) => out.destroy(error as Error),
    );
    const day = new Date(clock.now()).toISOString().slice(0, 10);
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="rotor-audit-${day}.csv"`)
      .send(out);
  });

  // Calendar and its ICS feed (a session, or a personal feed token for calendar apps).
  const calendar = async (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    feedUrl?: string,
  ) => {
    const session = sessionFor(request);
    const s = await store();
    const report = await computeStatus(s, { now: clock.now() });
    const op = await s.db
      .selectFrom('operators')
      .select('feed_token_hash')
      .where('name', '=', session.operator)
      .executeTakeFirst();
    return sendHtml(
      reply,
      status,
      calendarPage(pageContext(session), report.rows, {
        ...(feedUrl ? { url: feedUrl } : {}),
        hasToken: Boolean(op?.feed_token_hash),
      }),
    );
  };
  app.get('/calendar', { preHandler: requirePage }, (request, reply) =>
    calendar(request, reply, 200),
  );
  app.post('/calendar/feed-token', { preHandler: requireForm }, async (request, reply) => {
    const token = await createFeedToken(
      await store(),
      clock,
      actorOf(request, sessionFor(request)),
    );
    const origin = `${request.protocol}://${request.host}`;
    // The path form: no query string, which proxies and access logs print more often than paths.
    return calendar(request, reply, 200, `${origin}${base}/calendar/feed/${token}.ics`);
  });
  // Either form of the feed: /calendar.ics (a session, or ?token= as before) and
  // /calendar/feed/<token>.ics. The request log shows neither token (log-redaction.ts).
  const feed = async (request: FastifyRequest, reply: FastifyReply, token: string | undefined) => {
    const s = await store();
    const operator = token
      ? await operatorForFeedToken(s, token)
      : (await sessionOf(request))?.operator;
    if (!operator)
      return reply
        .code(401)
        .type('text/plain; charset=utf-8')
        .send(
          'A calendar feed needs a feed token (make one on the Calendar page) or a signed-in session.\n',
        );
    const report = await computeStatus(s, { now: clock.now() });
    const origin = `${request.protocol}://${request.host}`;
    return reply
      .type('text/calendar; charset=utf-8')
      .header('content-disposition', 'inline; filename="rotor.ics"')
      .send(icsFeed(report.rows, clock.now(), { dashboardUrl: `${origin}${base}` }));
  };
  app.get('/calendar.ics', (request, reply) =>
    feed(request, reply, (request.query as { token?: string }).token),
  );
  app.get('/calendar/feed/:file', (request, reply) => {
    const file = (request.params as { file: string }).file;
    // Only the token's own shape: anything else is the same 401 as a wrong token.
    return feed(request, reply, file.endsWith('.ics') ? file.slice(0, -4) : 'rfeed_invalid');
  });

  // Errors on dashboard pages are pages, not JSON; the message names the code, never a value.
  app.setErrorHandler(async (error, request, reply) => {
    // Fastify's own 4xx (a form it could not read) keeps its status and message; anything else
    // is a RotorError (a bug: ERR_ROTOR_INTERNAL) with the API's status for its code.
    const fastifyStatus = (error as { statusCode?: unknown }).statusCode;
    const rotorError =
      !isRotorError(error) && typeof fastifyStatus === 'number' && fastifyStatus < 500
        ? undefined
        : toRotorError(error, { where: 'the server log' });
    const status = rotorError ? httpStatusOf(rotorError.code) : (fastifyStatus as number);
    if (status >= 500) request.log.error({ err: error }, 'dashboard: request failed');
    else request.log.info({ code: rotorError?.code, status }, 'dashboard: request refused');
    const retryAfter = rotorError?.details?.retryAfter;
    if (status === 429 && typeof retryAfter === 'number')
      reply.header('retry-after', String(retryAfter));
    const message = rotorError
      ? `${rotorError.code}: ${rotorError.message}`
      : (error as Error).message;
    const title =
      status === 429
        ? 'Too many requests'
        : status === 503
          ? 'Unavailable'
          : status < 500
            ? 'Bad request'
            : 'Error';
    const session = sessions.get(request);
    return sendHtml(
      reply,
      status,
      errorPage(session ? pageContext(session) : undefined, base, title, message),
    );
  });
}
