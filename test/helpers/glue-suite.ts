// One RFC 6750 suite for both framework glues (rotor/express, rotor/fastify): each test file
// builds its framework's app over the same fixture and hands the suite a way to send requests,
// like kysely runs one suite over every dialect.
import { randomBytes, randomUUID, createSecretKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/core/clock.js';
import {
  createJwtKeys,
  type JwtKeys,
  type KeySet,
  type KeySource,
  type KeyVersion,
} from '../../src/sdk/jwt/index.js';
import {
  createMemoryTokenStore,
  createRefreshTokens,
  createRevocationCheck,
  type RefreshTokens,
  type SessionRevocationCache,
} from '../../src/sdk/tokens/index.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const REALM = 'test';

/** A KeySource held in memory whose keys a test rotates, retires or compromises at will. */
export interface TestKeySource extends KeySource {
  rotate(secret: string): void;
  /** New current key; the current and previous ones become compromised (emergency rotation). */
  emergency(secret: string): void;
}

function hmacVersion(stage: KeyVersion['stage'], acceptUntil?: number): KeyVersion {
  const key = createSecretKey(randomBytes(32));
  return {
    kid: randomUUID(),
    stage,
    alg: 'HS256',
    signingKey: key,
    verifyKey: key,
    ...(acceptUntil !== undefined ? { acceptUntil } : {}),
  };
}

export function createTestKeySource(now: () => number, secrets: readonly string[]): TestKeySource {
  const sets = new Map<
    string,
    { versions: KeyVersion[]; retired: Map<string, 'retired' | 'compromised'>; revision: number }
  >();
  for (const s of secrets)
    sets.set(s, { versions: [hmacVersion('current')], retired: new Map(), revision: 1 });
  const listeners = new Map<string, Set<() => void>>();
  const changed = (secret: string) => {
    sets.get(secret)!.revision++;
    for (const l of listeners.get(secret) ?? []) l();
  };
  return {
    async load(secret): Promise<KeySet> {
      const s = sets.get(secret);
      if (!s) throw new Error(`no ${secret}`);
      return {
        secret,
        versions: [...s.versions],
        retired: new Map(s.retired),
        onRotate: 'dual-validate',
        revision: String(s.revision),
      };
    },
    watch(secret, onChange) {
      let set = listeners.get(secret);
      if (!set) listeners.set(secret, (set = new Set()));
      set.add(onChange);
      return () => set.delete(onChange);
    },
    async close() {},
    rotate(secret) {
      const s = sets.get(secret)!;
      for (const v of s.versions) if (v.stage === 'previous') s.retired.set(v.kid, 'retired');
      const current = s.versions.find((v) => v.stage === 'current')!;
      s.versions = [
        hmacVersion('current'),
        { ...current, stage: 'previous', acceptUntil: now() + 3_600_000 },
      ];
      changed(secret);
    },
    emergency(secret) {
      const s = sets.get(secret)!;
      for (const v of s.versions) s.retired.set(v.kid, 'compromised');
      s.versions = [hmacVersion('current')];
      changed(secret);
    },
  };
}

/** Lets a keyring pick up a key-set change (its reload is a few promise turns). */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

export interface GlueFixture {
  clock: ReturnType<typeof createManualClock>;
  source: TestKeySource;
  access: JwtKeys;
  refreshKeys: JwtKeys;
  /** A keyring whose source never loads: verify throws ERR_ROTOR_JWT_NOT_READY. */
  notReady: JwtKeys;
  tokens: RefreshTokens;
  revocation: SessionRevocationCache;
  /** A fresh login: an access token (with `sid`) and the family's first refresh token. */
  login(
    userId?: string,
    claims?: Record<string, unknown>,
  ): Promise<{ access: string; refresh: string; familyId: string }>;
  close(): Promise<void>;
}

export async function createGlueFixture(): Promise<GlueFixture> {
  const clock = createManualClock(Math.floor(Date.now() / 1000) * 1000);
  const source = createTestKeySource(clock.now, ['JWT_ACCESS_SECRET', 'JWT_REFRESH_SECRET']);
  const store = createMemoryTokenStore();
  await store.init();
  const revocation = await createRevocationCheck({ store, pollIntervalMs: 60_000 });
  const access = createJwtKeys({
    secret: 'JWT_ACCESS_SECRET',
    source,
    issuer: 'rotor-test',
    audience: 'api',
    type: 'at+jwt',
    maxAge: '15m',
    clock,
    revocation,
  });
  const refreshKeys = createJwtKeys({
    secret: 'JWT_REFRESH_SECRET',
    source,
    issuer: 'rotor-test',
    audience: 'refresh',
    type: 'refresh+jwt',
    maxAge: '30d',
    clock,
  });
  // Never answers until the fixture closes (a keyring's close() waits for its load in flight).
  const pending: Array<(error: Error) => void> = [];
  const never: KeySource = {
    load: () => new Promise<KeySet>((_, reject) => pending.push(reject)),
    watch: () => () => {},
    close: async () => {},
  };
  const notReady = createJwtKeys({
    secret: 'JWT_ACCESS_SECRET',
    source: never,
    issuer: 'rotor-test',
    audience: 'api',
    maxAge: '15m',
  });
  await Promise.all([access.ready(), refreshKeys.ready()]);
  const tokens = createRefreshTokens({ keys: refreshKeys, store, clock, reuseOverlap: '2s' });
  return {
    clock,
    source,
    access,
    refreshKeys,
    notReady,
    tokens,
    revocation,
    async login(userId = 'user-1', claims = {}) {
      const issued = await tokens.issue(userId, claims);
      return {
        access: access.sign({ sub: userId, ...claims, sid: issued.familyId }),
        refresh: issued.token,
        familyId: issued.familyId,
      };
    },
    async close() {
      for (const reject of pending) reject(new Error('closed'));
      await Promise.all([access.close(), refreshKeys.close(), notReady.close()]);
      await revocation.close();
      await store.close();
    },
  };
}

export interface GlueResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
  text: string;
}

export interface GlueRequest {
  method?: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}

export interface GlueHarness {
  send(request: GlueRequest): Promise<GlueResponse>;
  close(): Promise<void>;
}

/**
 * The routes every glue app under test must have:
 * - GET /me: bearerAuth({ keys: access, realm: 'test' }), answers `{ auth }`
 * - GET /scoped: bearerAuth({ keys: access, realm: 'test', scopes: ['read'] })
 * - GET /admin: bearerAuth, then requireScope('admin', { realm: 'test' })
 * - GET /unguarded: requireScope('admin', { realm: 'test' }) alone
 * - GET /not-ready: bearerAuth({ keys: notReady, realm: 'test' })
 * - POST /refresh: refreshHandler({ refresh: tokens, access, realm: 'test' })
 * - POST /form (optional): a urlencoded body parser, then bearerAuth
 */
export type StartApp = (fixture: GlueFixture) => Promise<GlueHarness>;

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join('\n') : (value ?? '');
}

function cookiesOf(response: GlueResponse): string[] {
  const v = response.headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Tokens and kids must never be reflected into a refusal. */
function expectNoEcho(response: GlueResponse, ...secrets: string[]) {
  const all = `${headerText(response.headers['www-authenticate'])}\n${response.text}`;
  for (const s of secrets) expect(all).not.toContain(s);
}

export function defineGlueSuite(
  name: string,
  startApp: StartApp,
  capabilities: { formBody: boolean },
) {
  describe(`${name}: bearer authentication (RFC 6750)`, () => {
    let fx: GlueFixture;
    let app: GlueHarness;
    beforeEach(async () => {
      fx = await createGlueFixture();
      app = await startApp(fx);
    });
    afterEach(async () => {
      await app.close();
      await fx.close();
    });
    const me = (authorization?: string | string[], path = '/me') =>
      app.send({ path, headers: authorization === undefined ? {} : { authorization } });

    it('accepts a valid bearer token and puts its claims on the request', async () => {
      const { access } = await fx.login('user-1', { role: 'reader' });
      const res = await me(`Bearer ${access}`);
      expect(res.status).toBe(200);
      expect(res.body?.auth).toMatchObject({
        sub: 'user-1',
        role: 'reader',
        iss: 'rotor-test',
        aud: 'api',
      });
    });

    it('accepts the Bearer scheme in any letter case and more than one space before the token', async () => {
      const { access } = await fx.login();
      for (const scheme of ['bearer', 'BEARER', 'BeArEr', 'Bearer  '])
        expect((await me(`${scheme} ${access}`)).status).toBe(200);
    });

    it('keeps accepting a token signed by the previous key after a rotation, and signs with the new one', async () => {
      const { access } = await fx.login();
      const before = fx.access.currentKid;
      fx.source.rotate('JWT_ACCESS_SECRET');
      await settle();
      expect(fx.access.currentKid).not.toBe(before);
      expect((await me(`Bearer ${access}`)).status).toBe(200);
      expect((await me(`Bearer ${fx.access.sign({ sub: 'user-1' })}`)).status).toBe(200);
    });

    it('answers a request without credentials with 401 and a bare Bearer realm challenge', async () => {
      const res = await me();
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}"`);
    });

    it('treats another scheme (Basic) as no bearer credentials: 401 with a bare challenge', async () => {
      const res = await me(`Basic ${Buffer.from('a:b').toString('base64')}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(`Bearer realm="${REALM}"`);
    });

    it('refuses an expired token with 401 invalid_token, described from its error code', async () => {
      const { access } = await fx.login();
      fx.clock.advance(16 * 60_000);
      const res = await me(`Bearer ${access}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="${REALM}", error="invalid_token", error_description="the access token expired"`,
      );
      expect(res.body).toMatchObject({ error: 'invalid_token', code: 'ERR_ROTOR_JWT_EXPIRED' });
      expectNoEcho(res, access);
    });

    it('refuses a token with a broken signature, without echoing it', async () => {
      const { access } = await fx.login();
      const [h, p, s] = access.split('.') as [string, string, string];
      const flipped = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
      const res = await me(`Bearer ${flipped}`);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'invalid_token',
        code: 'ERR_ROTOR_JWT_SIGNATURE_INVALID',
        error_description: 'the access token signature is invalid',
      });
      expectNoEcho(res, flipped, s);
    });

    it('refuses garbage in a well-formed header with invalid_token and never reflects it', async () => {
      const garbage = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2VjcmV0LXZhbHVl';
      const res = await me(`Bearer ${garbage}`);
      expect(res.status).toBe(401);
      expect(res.body?.error).toBe('invalid_token');
      expectNoEcho(res, garbage, 'eyJzdWIiOiJ4In0');
    });

    it('refuses a token of a user whose sessions were revoked', async () => {
      const { access } = await fx.login('user-2');
      await fx.tokens.revokeSessions({ userId: 'user-2' }, { reason: 'test' });
      await fx.revocation.sync();
      const res = await me(`Bearer ${access}`);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'invalid_token',
        code: 'ERR_ROTOR_JWT_REVOKED',
        error_description: 'the access token was revoked',
      });
    });

    it('refuses a token whose key was compromised in an emergency rotation, naming no kid', async () => {
      const { access } = await fx.login();
      const kid = fx.access.currentKid!;
      fx.source.emergency('JWT_ACCESS_SECRET');
      await settle();
      const res = await me(`Bearer ${access}`);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="${REALM}", error="invalid_token", error_description="the access token was signed with a revoked key"`,
      );
      expect(res.body?.code).toBe('ERR_ROTOR_JWT_KID_COMPROMISED');
      expectNoEcho(res, kid);
    });

    it('refuses a token that is not an access token (wrong typ, or the refresh key)', async () => {
      const { refresh } = await fx.login();
      const wrongType = fx.access.sign({ sub: 'user-1' }, { type: 'refresh+jwt' });
      const a = await me(`Bearer ${wrongType}`);
      expect(a.status).toBe(401);
      expect(a.body).toMatchObject({
        code: 'ERR_ROTOR_JWT_TYPE_MISMATCH',
        error_description: 'the token is not an access token',
      });
      const b = await me(`Bearer ${refresh}`);
      expect(b.status).toBe(401);
      expect(b.body).toMatchObject({ error: 'invalid_token', code: 'ERR_ROTOR_JWT_KID_UNKNOWN' });
    });

    it('refuses a token over the size limit with invalid_token before parsing it', async () => {
      const res = await me(`Bearer ${'a'.repeat(9000)}`);
      expect(res.status).toBe(401);
      expect(res.body?.code).toBe('ERR_ROTOR_JWT_TOKEN_TOO_LARGE');
    });

    it('answers a malformed Authorization header with 400 invalid_request', async () => {
      const { access } = await fx.login();
      for (const header of [
        'Bearer',
        '',
        `Bearer ${access} ${access}`,
        `Bearer ${access},x`,
        `Bearer "${access}"`,
        'Bearer a=b',
        `Bearer,${access}`,
      ]) {
        const res = await me(header);
        expect(res.status, header.slice(0, 20)).toBe(400);
        expect(res.headers['www-authenticate']).toMatch(
          new RegExp(
            `^Bearer realm="${REALM}", error="invalid_request", error_description="[^"]+"$`,
          ),
        );
        expect(res.body?.error).toBe('invalid_request');
        expectNoEcho(res, access);
      }
    });

    it('refuses two Authorization headers, even if both are valid', async () => {
      const { access } = await fx.login();
      const res = await me([`Bearer ${access}`, `Bearer ${access}`]);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        error: 'invalid_request',
        error_description: 'more than one Authorization header',
      });
    });

    it('refuses an access_token in the query string, even beside a valid header', async () => {
      const { access } = await fx.login();
      for (const path of [`/me?access_token=${access}`, `/me?x=1&access_token=`]) {
        const res = await me(`Bearer ${access}`, path);
        expect(res.status).toBe(400);
        expect(res.body?.error).toBe('invalid_request');
        expectNoEcho(res, access);
      }
      expect((await me(undefined, `/me?access_token=${access}`)).status).toBe(400);
    });

    it.skipIf(!capabilities.formBody)('refuses an access_token in a form body', async () => {
      const { access } = await fx.login();
      const res = await app.send({
        method: 'POST',
        path: '/form',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `access_token=${access}`,
      });
      expect(res.status).toBe(400);
      expect(res.body?.error).toBe('invalid_request');
    });

    it('answers 403 insufficient_scope with the scope needed, and lets a token with the scope through', async () => {
      const without = fx.access.sign({ sub: 'user-1', scope: 'write other' });
      const res = await me(`Bearer ${without}`, '/scoped');
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toBe(
        `Bearer realm="${REALM}", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read"`,
      );
      expect(res.body).toMatchObject({ error: 'insufficient_scope', scope: 'read' });
      expect(
        (await me(`Bearer ${fx.access.sign({ sub: 'user-1', scope: 'write read' })}`, '/scoped'))
          .status,
      ).toBe(200);
      expect(
        (await me(`Bearer ${fx.access.sign({ sub: 'user-1', scp: ['read'] })}`, '/scoped')).status,
      ).toBe(200);
    });

    it('requireScope after bearer authentication answers 403, and 401 when nothing authenticated the request', async () => {
      const admin = await me(
        `Bearer ${fx.access.sign({ sub: 'user-1', scope: 'admin' })}`,
        '/admin',
      );
      expect(admin.status).toBe(200);
      const reader = await me(
        `Bearer ${fx.access.sign({ sub: 'user-1', scope: 'read' })}`,
        '/admin',
      );
      expect(reader.status).toBe(403);
      expect(reader.headers['www-authenticate']).toContain('scope="admin"');
      const unguarded = await me(
        `Bearer ${fx.access.sign({ sub: 'user-1', scope: 'admin' })}`,
        '/unguarded',
      );
      expect(unguarded.status).toBe(401);
      expect(unguarded.headers['www-authenticate']).toBe(`Bearer realm="${REALM}"`);
    });

    it('answers 503 with Retry-After while the keyring has not loaded', async () => {
      const { access } = await fx.login();
      const res = await me(`Bearer ${access}`, '/not-ready');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toMatchObject({
        error: 'temporarily_unavailable',
        code: 'ERR_ROTOR_JWT_NOT_READY',
      });
    });
  });

  describe(`${name}: refresh endpoint`, () => {
    let fx: GlueFixture;
    let app: GlueHarness;
    beforeEach(async () => {
      fx = await createGlueFixture();
      app = await startApp(fx);
    });
    afterEach(async () => {
      await app.close();
      await fx.close();
    });
    const refresh = (body: unknown, headers: Record<string, string> = {}) =>
      app.send({
        method: 'POST',
        path: '/refresh',
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(body === undefined
          ? {}
          : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });

    it('exchanges a refresh token from a JSON body for a new access token and refresh token', async () => {
      const session = await fx.login('user-7', { role: 'reader' });
      const res = await refresh({ refresh_token: session.refresh });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
      expect(Object.keys(res.body!).sort()).toEqual([
        'access_token',
        'expires_in',
        'refresh_token',
        'token_type',
      ]);
      const next = res.body as { access_token: string; refresh_token: string };
      expect(next.refresh_token).not.toBe(session.refresh);
      const who = await app.send({
        path: '/me',
        headers: { authorization: `Bearer ${next.access_token}` },
      });
      expect(who.status).toBe(200);
      expect(who.body?.auth).toMatchObject({
        sub: 'user-7',
        role: 'reader',
        sid: session.familyId,
      });
      expect(
        (await refresh({ refresh_token: next.refresh_token, grant_type: 'refresh_token' })).status,
      ).toBe(200);
    });

    it('answers a reused refresh token with 401 invalid_grant and revokes its whole family', async () => {
      const session = await fx.login();
      const first = await refresh({ refresh_token: session.refresh });
      expect(first.status).toBe(200);
      fx.clock.advance(3_000); // past the 2 s overlap for concurrent requests
      const reused = await refresh({ refresh_token: session.refresh });
      expect(reused.status).toBe(401);
      expect(reused.body).toMatchObject({
        error: 'invalid_grant',
        code: 'ERR_ROTOR_TOKENS_REUSE_DETECTED',
      });
      expect(reused.headers['www-authenticate']).toMatch(
        /^Bearer realm="test", error="invalid_token", error_description="[^"]+"$/,
      );
      expectNoEcho(reused, session.refresh);
      // The legitimate holder's newer token dies with the family.
      const successor = await refresh({
        refresh_token: (first.body as { refresh_token: string }).refresh_token,
      });
      expect(successor.status).toBe(401);
      expect(successor.body).toMatchObject({
        error: 'invalid_grant',
        code: 'ERR_ROTOR_TOKENS_FAMILY_REVOKED',
      });
    });

    it('reads the refresh token from an HttpOnly cookie and returns the rotated one only in the cookie', async () => {
      const session = await fx.login();
      const res = await refresh(undefined, {
        cookie: `theme=dark; refresh_token=${session.refresh}`,
      });
      expect(res.status).toBe(200);
      expect(res.body?.refresh_token).toBeUndefined();
      expect(typeof res.body?.access_token).toBe('string');
      const [cookie] = cookiesOf(res);
      expect(cookie).toMatch(
        /^refresh_token=[A-Za-z0-9._-]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
      );
      const rotated = /^refresh_token=([^;]+)/.exec(cookie!)![1]!;
      expect(rotated).not.toBe(session.refresh);
      expect((await refresh(undefined, { cookie: `refresh_token=${rotated}` })).status).toBe(200);
    });

    it('clears the cookie when the refresh token in it is refused', async () => {
      const session = await fx.login();
      await refresh(undefined, { cookie: `refresh_token=${session.refresh}` });
      fx.clock.advance(3_000);
      const res = await refresh(undefined, { cookie: `refresh_token=${session.refresh}` });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'invalid_grant',
        code: 'ERR_ROTOR_TOKENS_REUSE_DETECTED',
      });
      expect(cookiesOf(res)[0]).toMatch(/^refresh_token=; Path=\/; Max-Age=0; HttpOnly/);
    });

    it('refuses a refresh token signed with a key compromised in an emergency rotation', async () => {
      const session = await fx.login();
      fx.source.emergency('JWT_REFRESH_SECRET');
      await settle();
      const res = await refresh({ refresh_token: session.refresh });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({
        error: 'invalid_grant',
        code: 'ERR_ROTOR_JWT_KID_COMPROMISED',
      });
    });

    it('refuses an access token presented as a refresh token', async () => {
      const session = await fx.login();
      const res = await refresh({ refresh_token: session.access });
      expect(res.status).toBe(401);
      expect(res.body?.error).toBe('invalid_grant');
    });

    it('asks for a refresh token when none was sent, and refuses two different ones', async () => {
      const a = await fx.login();
      const b = await fx.login();
      const none = await refresh({});
      expect(none.status).toBe(400);
      expect(none.body?.error).toBe('invalid_request');
      expect((await refresh(undefined)).status).toBe(400);
      const two = await refresh(
        { refresh_token: a.refresh },
        { cookie: `refresh_token=${b.refresh}` },
      );
      expect(two.status).toBe(400);
      expect(two.body).toMatchObject({ error: 'invalid_request' });
    });

    it('refuses malformed bodies and other grant types with 400', async () => {
      const session = await fx.login();
      expect((await refresh('{"refresh_token":')).status).toBe(400);
      expect((await refresh({ refresh_token: 42 })).body?.error).toBe('invalid_request');
      expect(
        (await refresh({ refresh_token: session.refresh, grant_type: 'password' })).body?.error,
      ).toBe('unsupported_grant_type');
      // The token itself survived: nothing above consumed it.
      expect((await refresh({ refresh_token: session.refresh })).status).toBe(200);
    });
  });
}

/** Runs `code` in a fresh Node process that refuses to load the CLI, the server, commander, express or fastify. */
export function importInIsolation(
  specifier: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const hooks = `export async function resolve(specifier, context, next) {
    const r = await next(specifier, context);
    if (/\\/node_modules\\/(commander|express|fastify)\\//.test(r.url) || /\\/dist\\/(cli|server)\\//.test(r.url)) throw new Error('forbidden import: ' + r.url);
    return r;
  }`;
  const script = `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));
const m = await import(process.env.ROTOR_IMPORT);
process.stdout.write(JSON.stringify(Object.keys(m).sort()));`;
  if (!existsSync(`${REPO}/dist/sdk/express.js`))
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: REPO, env: { PATH: process.env.PATH, ROTOR_IMPORT: specifier }, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
