// `rotor sessions revoke`, rotor.yaml `sessions:`, and emergency rotations that log everyone
// out, end to end against the app's session store on PostgreSQL and Redis (127.0.0.1).
import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isRotorError } from '../src/core/errors.js';
import { createJwtKeys, fromStaticKey, fromStore, type JwtKeys } from '../src/sdk/jwt/index.js';
import {
  createPostgresTokenStore,
  createRedisTokenStore,
  createRefreshTokens,
  createRevocationCheck,
  type TokenStore,
} from '../src/sdk/tokens/index.js';
import { createProject, type TestProject } from './helpers/project.js';
import {
  dropPostgresPrefix,
  dropRedisPrefix,
  requireService,
  uniquePrefix,
  type Service,
} from './helpers/services.js';

const pg = await requireService('postgres');
const redis = await requireService('redis');

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

interface Backend {
  store: 'postgres' | 'redis';
  service: Service;
  open(prefix: string): TokenStore;
  drop(prefix: string): Promise<void>;
}

const BACKENDS: Backend[] = [
  {
    store: 'postgres',
    service: pg,
    open: (prefix) => createPostgresTokenStore({ connectionString: pg.url, prefix, max: 2 }),
    drop: (prefix) => dropPostgresPrefix(pg.url, prefix),
  },
  {
    store: 'redis',
    service: redis,
    open: (prefix) => createRedisTokenStore({ url: redis.url, prefix }),
    drop: (prefix) => dropRedisPrefix(redis.url, prefix),
  },
];

function policy(sessions: string): string {
  return `version: 1
environments: [staging, production]
secrets:
  JWT_ACCESS_SECRET: { kind: jwt-hmac, cadence: 90d, grace: 1h }
  JWT_REFRESH_SECRET: { kind: jwt-hmac, cadence: 90d, grace: 14d }
${sessions}`;
}

function sessionsYaml(
  store: string,
  prefix: string,
  extra = '  environments: [production]\n',
): string {
  return `sessions:\n  store: ${store}\n  url: { env: APP_SESSIONS_URL }\n  prefix: ${prefix}\n${extra}`;
}

/** A one-key keyring for apps in these tests that do not read Rotor's store. */
async function memoryKeyring(): Promise<JwtKeys> {
  const key = createSecretKey(randomBytes(32));
  const source = fromStaticKey({ key });
  const keys = createJwtKeys({
    secret: 'JWT_REFRESH_SECRET',
    source,
    issuer: 'https://app.test',
    audience: 'app',
    type: 'refresh+jwt',
    maxAge: '30d',
  });
  await keys.ready();
  return keys;
}

async function auditRows(p: TestProject): Promise<
  Array<{
    action: string;
    outcome: string;
    method: string;
    notes: string;
    details: Record<string, unknown>;
  }>
> {
  const rotor = p.rotor();
  const store = await rotor.store();
  const rows = await store.db.selectFrom('audit_events').select('entry').orderBy('seq').execute();
  await rotor.close();
  return rows.map((r) => JSON.parse(r.entry));
}

/** A poll interval no test waits out: what arrives before it came by push. */
const NO_POLL_MS = 60 * 60_000;
/** Waits sized for a loaded machine; they return as soon as the condition holds. */
const WAIT_MS = 30_000;

async function until(condition: () => boolean, ms: number): Promise<void> {
  const started = Date.now();
  while (!condition() && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 10));
}

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.service.available)(
    `rotor sessions with a ${backend.store} session store`,
    () => {
      async function setup(sessionsExtra?: string) {
        const prefix = uniquePrefix('cli');
        cleanups.push(() => backend.drop(prefix));
        const p = await createProject({
          policy: policy(sessionsYaml(backend.store, prefix, sessionsExtra)),
          start: Date.now(),
        });
        const app = backend.open(prefix);
        cleanups.push(() => app.close());
        await app.init();
        const env = { APP_SESSIONS_URL: backend.service.url };
        return { p, app, env, prefix };
      }

      it('revokes one user: their refresh families fail, other users are untouched, and it is audited without values', async () => {
        const { p, app, env } = await setup();
        const tokens = createRefreshTokens({ keys: await memoryKeyring(), store: app });
        const alice = await tokens.issue('alice');
        const bob = await tokens.issue('bob');
        p.clock.set(Date.now());
        const out = await p.cli(
          ['sessions', 'revoke', '--user', 'alice', '--reason', 'stolen laptop'],
          { env },
        );
        expect(out.stderr).toBe('');
        expect(out.code).toBe(0);
        expect(out.stdout).toMatch(
          new RegExp(
            `^revoked the sessions of user alice in the ${backend.store} session store: tokens issued until \\S+Z are rejected\\nrequest [0-9a-f-]{36}\\n$`,
          ),
        );
        expect(await codeOf(() => tokens.refresh(alice.token))).toBe(
          'ERR_ROTOR_TOKENS_SESSION_REVOKED',
        );
        await tokens.refresh(bob.token);
        const last = (await auditRows(p)).at(-1)!;
        expect(last).toMatchObject({
          action: 'sessions.revoke',
          outcome: 'success',
          notes: 'stolen laptop',
          details: {
            scope: 'user',
            user: 'alice',
            requirePasswordReset: false,
            store: backend.store,
          },
        });
        expect(JSON.stringify(last)).not.toContain(backend.service.url);
      });

      it('revokes everybody with a password reset (--json), and a running app sees it by push', async () => {
        const { p, app, env } = await setup();
        // The poll is far longer than any wait here: what the app sees came by push.
        const check = await createRevocationCheck({ store: app, pollIntervalMs: NO_POLL_MS });
        cleanups.push(() => check.close());
        const before = Math.floor(Date.now() / 1000);
        p.clock.set(Date.now());
        const out = await p.cli(
          [
            'sessions',
            'revoke',
            '--all',
            '--require-password-reset',
            '--reason',
            'password database leaked',
            '--json',
          ],
          { env },
        );
        expect(out.code).toBe(0);
        const json = JSON.parse(out.stdout);
        expect(json.revoked).toEqual({
          scope: 'all',
          requirePasswordReset: true,
          store: backend.store,
          validAfter: new Date(p.clock.now()).toISOString(),
        });
        expect(json.requestId).toMatch(/^[0-9a-f-]{36}$/);
        await until(() => check.isRevoked({ sub: 'anyone', iat: before }), WAIT_MS);
        expect(check.isRevoked({ sub: 'anyone', iat: before })).toBe(true);
        expect(await app.passwordResetRequired('carol')).toBe(true);
        expect((await auditRows(p)).at(-1)).toMatchObject({
          action: 'sessions.revoke',
          details: { scope: 'all', user: null, requirePasswordReset: true },
        });
      });

      it('emergency rotation of JWT_REFRESH_SECRET logs everyone out: old tokens rejected by push, new logins work', async () => {
        const { p, app, env } = await setup();
        expect((await p.cli(['rotate', 'JWT_ACCESS_SECRET', '--env', 'production'])).code).toBe(0);
        expect((await p.cli(['rotate', 'JWT_REFRESH_SECRET', '--env', 'production'])).code).toBe(0);

        // The running app: keyrings read Rotor's store; revocations come from the session store,
        // by push (the poll is far longer than any wait here).
        const check = await createRevocationCheck({ store: app, pollIntervalMs: NO_POLL_MS });
        const accessSource = fromStore({
          dir: p.dir,
          environment: 'production',
          env: p.env,
          pollMs: 100,
        });
        const refreshSource = fromStore({
          dir: p.dir,
          environment: 'production',
          env: p.env,
          pollMs: 100,
        });
        const common = { issuer: 'https://app.test', audience: 'app', clockTolerance: 5 };
        const access = createJwtKeys({
          ...common,
          secret: 'JWT_ACCESS_SECRET',
          source: accessSource,
          type: 'at+jwt',
          maxAge: '15m',
          revocation: check,
        });
        const refreshKeys = createJwtKeys({
          ...common,
          secret: 'JWT_REFRESH_SECRET',
          source: refreshSource,
          type: 'refresh+jwt',
          maxAge: '30d',
        });
        cleanups.push(async () => {
          await access.close();
          await refreshKeys.close();
          await accessSource.close();
          await refreshSource.close();
          await check.close();
        });
        await Promise.all([access.ready(), refreshKeys.ready()]);
        const tokens = createRefreshTokens({ keys: refreshKeys, store: app });

        const login = await tokens.issue('alice', { role: 'admin' });
        const accessToken = access.sign({ sub: 'alice' });
        expect(access.verify(accessToken).claims.sub).toBe('alice');

        p.clock.set(Date.now());
        const out = await p.cli(
          [
            'rotate',
            'JWT_REFRESH_SECRET',
            '--env',
            'production',
            '--emergency',
            '--reason',
            'refresh key pasted in a ticket',
          ],
          { env },
        );
        expect(out.stderr).toBe('');
        expect(out.code).toBe(0);
        expect(out.stdout).toContain(
          `all sessions and refresh tokens issued until now revoked in the ${backend.store} session store`,
        );

        await until(
          () =>
            isRotorError(
              catchSync(() => access.verify(accessToken)),
              'ERR_ROTOR_JWT_REVOKED',
            ),
          WAIT_MS,
        );
        expect(catchSync(() => access.verify(accessToken))).toMatchObject({
          code: 'ERR_ROTOR_JWT_REVOKED',
        });
        // The old refresh token: its key is compromised (once the keyring reloads) and its session revoked.
        expect(['ERR_ROTOR_TOKENS_SESSION_REVOKED', 'ERR_ROTOR_JWT_KID_COMPROMISED']).toContain(
          await codeOf(() => tokens.refresh(login.token)),
        );
        await until(() => refreshKeys.currentKid !== claimsKid(login.token), WAIT_MS);
        expect(await codeOf(() => tokens.refresh(login.token))).toBe(
          'ERR_ROTOR_JWT_KID_COMPROMISED',
        );

        // Tokens issued in the second of the revocation are revoked too; a new login a second later works.
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
        const fresh = await tokens.issue('alice', { role: 'admin' });
        const next = await tokens.refresh(fresh.token);
        expect(access.verify(access.sign({ sub: next.userId })).claims.sub).toBe('alice');

        const rows = await auditRows(p);
        expect(rows.at(-1)).toMatchObject({ action: 'rotate.emergency', method: 'emergency' });
        expect(rows.at(-1)!.notes).toContain(
          'all sessions and refresh tokens issued until now revoked',
        );
        expect(JSON.stringify(rows)).not.toContain(backend.service.url);
      });

      it('says plainly when the environment has no session store, instead of pretending', async () => {
        const { p, env } = await setup();
        expect((await p.cli(['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging'])).code).toBe(0);
        const out = await p.cli(
          ['rotate', 'JWT_ACCESS_SECRET', '--env', 'staging', '--emergency', '--reason', 'drill'],
          { env },
        );
        expect(out.code).toBe(0);
        expect(out.stdout).toContain(
          'sessions NOT revoked: no session store is configured for staging (rotor.yaml sessions:)',
        );
      });

      it('fails an emergency whose session store cannot be reached, and `rotor resume` finishes it', async () => {
        const { p, app, env } = await setup();
        expect((await p.cli(['rotate', 'JWT_REFRESH_SECRET', '--env', 'production'])).code).toBe(0);
        const check = await createRevocationCheck({ store: app });
        cleanups.push(() => check.close());
        const out = await p.cli(
          [
            'rotate',
            'JWT_REFRESH_SECRET',
            '--env',
            'production',
            '--emergency',
            '--reason',
            'leak',
          ],
          { env: {} },
        );
        expect(out.code).toBe(1);
        expect(out.stdout).toContain('ERR_ROTOR_SESSIONS_URL_MISSING');
        expect(out.stdout).toContain('sessions could NOT be revoked');
        expect(out.stdout).toContain('rotor resume');
        p.clock.set(Date.now());
        // A token issued before the resume (fixed now, so a slow delivery cannot move it past).
        const before = Math.floor(Date.now() / 1000) - 1;
        const resumed = await p.cli(['resume'], { env });
        expect(resumed.code).toBe(0);
        await until(() => check.isRevoked({ sub: 'x', iat: before }), WAIT_MS);
        expect(check.isRevoked({ sub: 'x', iat: before })).toBe(true);
      });
    },
  );
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

function claimsKid(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid;
}

describe('rotor sessions revoke: bad input', () => {
  const base = policy('');

  it('fails with one clear error when no session store is configured, and changes nothing', async () => {
    const p = await createProject({ policy: base });
    const before = (await auditRows(p)).length;
    const out = await p.cli(['sessions', 'revoke', '--all', '--reason', 'x']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /^rotor: ERR_ROTOR_SESSIONS_NOT_CONFIGURED: no session store is configured: add `sessions: \{ store: postgres \| redis, url: \{ env: VARIABLE \} \}` to rotor\.yaml/,
    );
    expect((await auditRows(p)).length).toBe(before);
  });

  it('names the unset environment variable', async () => {
    const p = await createProject({ policy: policy(sessionsYaml('postgres', 'rotor')) });
    const out = await p.cli(['sessions', 'revoke', '--all', '--reason', 'x', '--json']);
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout).error).toMatchObject({
      code: 'ERR_ROTOR_SESSIONS_URL_MISSING',
      details: { variable: 'APP_SESSIONS_URL' },
    });
  });

  it.each([
    ['postgres', 'postgres://app:hunter2@127.0.0.1:1/app'],
    ['redis', 'redis://:hunter2@127.0.0.1:1'],
  ])(
    'reports an unreachable %s session store without the URL or its password',
    async (store, url) => {
      const p = await createProject({ policy: policy(sessionsYaml(store, 'rotor')) });
      const before = (await auditRows(p)).length;
      const out = await p.cli(['sessions', 'revoke', '--user', 'alice', '--reason', 'x'], {
        env: { APP_SESSIONS_URL: url },
      });
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(
        new RegExp(
          `^rotor: ERR_ROTOR_TOKENS_STORE_UNREACHABLE: cannot reach the ${store === 'postgres' ? 'PostgreSQL' : 'Redis'} token store: .*ECONNREFUSED.*\\(session store URL from APP_SESSIONS_URL\\)\\n$`,
        ),
      );
      expect(out.stderr + out.stdout).not.toContain('hunter2');
      expect((await auditRows(p)).length).toBe(before);
    },
  );

  it.each([
    [['--user', 'alice', '--all', '--reason', 'x'], 'ERR_ROTOR_INVALID_ARGUMENT'],
    [['--reason', 'x'], 'ERR_ROTOR_INVALID_ARGUMENT'],
    [['--all'], 'ERR_ROTOR_SESSIONS_REASON_REQUIRED'],
    [['--user', '', '--reason', 'x'], 'ERR_ROTOR_INVALID_ARGUMENT'],
  ])('refuses %j with %s', async (args, code) => {
    const p = await createProject({ policy: policy(sessionsYaml('postgres', 'rotor')) });
    const out = await p.cli(['sessions', 'revoke', ...args], {
      env: { APP_SESSIONS_URL: 'postgres://127.0.0.1:1/x' },
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(code);
  });

  it('refuses a URL written into rotor.yaml: it names the variable that holds it', async () => {
    const p = await createProject({ policy: base });
    p.writePolicy(policy('sessions:\n  store: postgres\n  url: postgres://app:hunter2@db/app\n'));
    const out = await p.cli(['apply']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('ERR_ROTOR_POLICY_INVALID');
    expect(out.stderr).toContain('sessions.url: url must be { env: VARIABLE_NAME }');
    expect(out.stderr).toContain('never the URL itself');
    expect(out.stderr).not.toContain('hunter2');
  });

  it('refuses unknown environments and bad prefixes in sessions:', async () => {
    const p = await createProject({ policy: base });
    p.writePolicy(
      policy(
        'sessions:\n  store: redis\n  url: { env: X }\n  prefix: "a-b"\n  environments: [prod]\n',
      ),
    );
    const out = await p.cli(['apply']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('sessions.prefix');
    p.writePolicy(policy('sessions:\n  store: redis\n  url: { env: X }\n  environments: [prod]\n'));
    const again = await p.cli(['apply']);
    expect(again.stderr).toContain('sessions.environments[0]: unknown environment "prod"');
  });

  it('gives a jwt-hmac secret with onRotate: invalidate no grace window', async () => {
    const p = await createProject({
      policy: `version: 1
environments: [production]
secrets:
  JWT_REFRESH_SECRET: { kind: jwt-hmac, cadence: 90d, grace: 14d, config: { onRotate: invalidate } }
  JWT_ACCESS_SECRET: { kind: jwt-hmac, cadence: 90d, grace: 1h }
`,
    });
    const rotor = p.rotor();
    expect(rotor.secret('JWT_REFRESH_SECRET').graceMs).toBe(0);
    expect(rotor.secret('JWT_REFRESH_SECRET').config).toMatchObject({
      onRotate: 'invalidate',
      emergency: { revokeAllSessions: true, requirePasswordReset: false },
    });
    expect(rotor.secret('JWT_ACCESS_SECRET').graceMs).toBe(3_600_000);
    expect(rotor.secret('JWT_ACCESS_SECRET').config).toMatchObject({ onRotate: 'dual-validate' });
    await rotor.close();
    await p.cli(['rotate', 'JWT_REFRESH_SECRET']);
    const out = await p.cli(['rotate', 'JWT_REFRESH_SECRET', '--json']);
    expect(JSON.parse(out.stdout).results[0].graceUntil).toBe(
      new Date(p.clock.now()).toISOString(),
    );
  });

  it('leaves sessions alone in an emergency when emergency.revokeAllSessions is false', async () => {
    const p = await createProject({
      policy: `version: 1
environments: [production]
secrets:
  JWT_ACCESS_SECRET: { kind: jwt-hmac, cadence: 90d, config: { emergency: { revokeAllSessions: false } } }
`,
    });
    const out = await p.cli(['rotate', 'JWT_ACCESS_SECRET', '--emergency', '--reason', 'drill']);
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain('sessions');
  });
});
