// A small Express app on Rotor keyrings: log in, call a protected route, refresh, log out.
// Keys come from a Rotor project's store (ROTOR_PROJECT_DIR, reloaded on every rotation) or,
// under `rotor run`, from the environment. Sessions (refresh-token families and revocations)
// live in memory, or in PostgreSQL or Redis when SESSION_STORE says so.
//
//   node examples/express-app/server.js                   (see README.md beside this file)
//
// Plain ESM JavaScript that imports the package by name (rotor/jwt, rotor/tokens,
// rotor/express), exactly as an application would; run `npm run build` first.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import express from 'express';
import { bearerAuth, refreshCookie, refreshHandler } from 'rotor/express';
import { createJwtKeys, fromEnv, fromStore } from 'rotor/jwt';
import {
  createMemoryTokenStore,
  createPostgresTokenStore,
  createRedisTokenStore,
  createRefreshTokens,
  createRevocationCheck,
} from 'rotor/tokens';

const scryptAsync = promisify(scrypt);
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const REALM = 'rotor-example';

/** Demo accounts. Their passwords are in this file: never use them anywhere real. */
export const DEMO_USERS = [
  { id: 'user-alice', username: 'alice', password: 'alice-demo-password' },
  { id: 'user-bob', username: 'bob', password: 'bob-demo-password' },
];

async function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return { salt, hash };
}

async function passwordMatches(password, record) {
  const hash = await scryptAsync(password, record.salt, 32, SCRYPT);
  return timingSafeEqual(hash, record.hash);
}

function keySourceFrom(options, env) {
  if (options.keySource) return options.keySource;
  const dir = options.projectDir ?? env.ROTOR_PROJECT_DIR;
  if (dir) {
    const pollMs = options.pollMs ?? (env.ROTOR_POLL_MS ? Number(env.ROTOR_POLL_MS) : undefined);
    return fromStore({
      dir,
      environment: options.environment ?? env.ROTOR_ENV ?? 'production',
      env,
      ...(pollMs ? { pollMs } : {}),
    });
  }
  if (env.JWT_ACCESS_SECRET) return fromEnv({ env });
  throw new Error(
    'no keys: set ROTOR_PROJECT_DIR to a Rotor project directory, or start the app with `rotor run --env <environment> -- node server.js`',
  );
}

function sessionStoreFrom(options, env) {
  const kind = options.sessionStore ?? env.SESSION_STORE ?? 'memory';
  const url = options.sessionStoreUrl ?? env.SESSION_STORE_URL;
  const prefix = options.sessionStorePrefix ?? env.SESSION_STORE_PREFIX;
  if (kind === 'memory') return createMemoryTokenStore();
  if (!url) throw new Error(`SESSION_STORE=${kind} needs SESSION_STORE_URL`);
  if (kind === 'postgres')
    return createPostgresTokenStore({ connectionString: url, ...(prefix ? { prefix } : {}) });
  if (kind === 'redis') return createRedisTokenStore({ url, ...(prefix ? { prefix } : {}) });
  throw new Error(`SESSION_STORE must be memory, postgres or redis, not ${kind}`);
}

/** Seconds from iat to exp of a token this app just signed. */
function lifetimeOf(token) {
  const { iat, exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  return exp - iat;
}

function isString(value, max = 1024) {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/**
 * Builds the app; it does not listen until `listen()` is called.
 *
 * @param {object} [options]
 * @param {string} [options.projectDir] Rotor project directory (default ROTOR_PROJECT_DIR)
 * @param {string} [options.environment] Rotor environment whose keys to use (default ROTOR_ENV or production)
 * @param {'memory'|'postgres'|'redis'} [options.sessionStore] default SESSION_STORE or memory
 * @param {Array<{id: string, username: string, password: string}>} [options.users] default DEMO_USERS
 * @param {boolean} [options.secureCookies] Secure attribute on the refresh cookie (default true)
 * @param {NodeJS.ProcessEnv} [options.env] where the variables above are read (default process.env)
 */
export async function createApp(options = {}) {
  const env = options.env ?? process.env;
  const issuer = options.issuer ?? 'rotor-example';
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const source = keySourceFrom(options, env);
  const store = sessionStoreFrom(options, env);
  await store.init();
  // Session revocations (`rotor sessions revoke`, emergency rotations) reach every access-token
  // check from memory, refreshed by push and a 1 s poll: verify never waits on the network.
  const revocation = await createRevocationCheck({
    store,
    onError: (e) => log(`session sync failed: ${e.code ?? e.message}`),
  });
  const access = createJwtKeys({
    secret: 'JWT_ACCESS_SECRET',
    source,
    issuer,
    audience: 'rotor-example-api',
    type: 'at+jwt',
    maxAge: options.accessMaxAge ?? '15m',
    clockTolerance: 5,
    revocation,
  });
  const refreshKeys = createJwtKeys({
    secret: 'JWT_REFRESH_SECRET',
    source,
    issuer,
    audience: 'rotor-example-refresh',
    type: 'refresh+jwt',
    maxAge: '30d',
    clockTolerance: 5,
  });
  const tokens = createRefreshTokens({
    keys: refreshKeys,
    store,
    absoluteLifetime: '30d',
    idleLifetime: '7d',
    onReuse: ({ familyId, userId }) =>
      log(`security: refresh token reuse, session ${familyId} of ${userId} revoked`),
  });
  await Promise.all([access.ready(), refreshKeys.ready()]);

  const users = new Map();
  for (const u of options.users ?? DEMO_USERS)
    users.set(u.username, {
      id: u.id,
      username: u.username,
      password: await hashPassword(u.password),
    });
  // Unknown user names cost one scrypt too, so timing does not tell which names exist.
  const dummy = await hashPassword(randomBytes(16).toString('hex'));
  const cookie = { name: 'refresh_token', path: '/', secure: options.secureCookies ?? true };

  async function authenticateUser(username, password) {
    const user = users.get(username);
    const ok = await passwordMatches(password, user?.password ?? dummy);
    return ok && user ? user : undefined;
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));

  app.post('/login', async (req, res) => {
    const { username, password } = req.body ?? {};
    if (!isString(username) || !isString(password))
      return res.status(400).json({
        error: 'invalid_request',
        error_description: 'send {"username": …, "password": …}',
      });
    const user = await authenticateUser(username, password);
    res.set('cache-control', 'no-store');
    if (!user)
      return res
        .status(400)
        .json({ error: 'invalid_grant', error_description: 'wrong user name or password' });
    if (await tokens.passwordResetRequired(user.id)) {
      return res.status(403).json({
        error: 'password_reset_required',
        error_description: 'set a new password with POST /password first',
      });
    }
    let issued;
    try {
      issued = await tokens.issue(user.id, { name: user.username });
    } catch (error) {
      // A reset flagged between the check above and now.
      if (error.code === 'ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED')
        return res.status(403).json({ error: 'password_reset_required' });
      throw error;
    }
    const accessToken = access.sign({ sub: user.id, name: user.username, sid: issued.familyId });
    const body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: lifetimeOf(accessToken),
    };
    // Browsers ask for the refresh token as an HttpOnly cookie; API clients get it in the body.
    if (req.body.cookie === true)
      res.set('set-cookie', refreshCookie(issued.token, issued.expiresAt, cookie));
    else body.refresh_token = issued.token;
    return res.json(body);
  });

  app.get('/me', bearerAuth({ keys: access, realm: REALM }), (req, res) => {
    res.json({ id: req.auth.sub, name: req.auth.name, session: req.auth.sid });
  });

  app.post('/refresh', refreshHandler({ refresh: tokens, access, realm: REALM, cookie }));

  app.post('/logout', bearerAuth({ keys: access, realm: REALM }), async (req, res) => {
    if (typeof req.auth.sid === 'string') await tokens.revokeFamily(req.auth.sid, 'logout');
    res.set(
      'set-cookie',
      `${cookie.name}=; Path=${cookie.path}; Max-Age=0; HttpOnly${cookie.secure ? '; Secure' : ''}; SameSite=Strict`,
    );
    res.status(204).end();
  });

  // Where a user flagged by `rotor sessions revoke --require-password-reset` sets a new password.
  app.post('/password', async (req, res) => {
    const { username, password, new_password: next } = req.body ?? {};
    if (!isString(username) || !isString(password) || !isString(next))
      return res.status(400).json({ error: 'invalid_request' });
    if (next.length < 12)
      return res.status(400).json({
        error: 'invalid_request',
        error_description: 'the new password needs at least 12 characters',
      });
    const user = await authenticateUser(username, password);
    if (!user)
      return res
        .status(400)
        .json({ error: 'invalid_grant', error_description: 'wrong user name or password' });
    user.password = await hashPassword(next);
    await tokens.passwordChanged(user.id);
    await tokens.revokeUser(user.id, 'password changed');
    return res.status(204).end();
  });

  app.get('/healthz', (_req, res) =>
    res.json({ ok: true, accessKid: access.currentKid, refreshKid: refreshKeys.currentKid }),
  );

  // JSON errors without stack traces; the log gets the code, never a token.
  app.use((error, _req, res, _next) => {
    const status =
      Number.isInteger(error.status) && error.status >= 400 && error.status < 500
        ? error.status
        : 500;
    if (status === 500) log(`error: ${error.code ?? error.name}`);
    res.status(status).json({ error: status === 500 ? 'server_error' : 'invalid_request' });
  });

  let server;
  return {
    app,
    access,
    refreshKeys,
    tokens,
    store,
    /** Listens on `port` (0: any free one) of `host`; resolves to the base URL. */
    async listen(port = 0, host = '127.0.0.1') {
      server = app.listen(port, host);
      await once(server, 'listening');
      const address = server.address();
      return `http://${host}:${address.port}`;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(() => resolve()));
      }
      await Promise.all([access.close(), refreshKeys.close()]);
      await revocation.close();
      await source.close();
      await store.close();
    },
  };
}

/** Starts the app from environment variables; see README.md. */
export async function main(env = process.env) {
  const instance = await createApp({ env });
  const url = await instance.listen(Number(env.PORT ?? 3000), env.HOST ?? '127.0.0.1');
  process.stdout.write(`listening on ${url}\n`);
  const stop = () => {
    instance.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return instance;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`rotor example: ${error.code ? `${error.code}: ` : ''}${error.message}\n`);
    process.exit(1);
  });
}
