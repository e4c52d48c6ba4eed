// rotor/tokens: one suite over every TokenStore (memory, PostgreSQL, Redis on 127.0.0.1).
import { randomBytes, randomUUID } from 'node:crypto';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/core/clock.js';
import { isRotorError, type RotorErrorCode } from '../src/core/errors.js';
import {
  createMemoryTokenStore,
  createPostgresTokenStore,
  createRedisTokenStore,
  createRefreshTokens,
  createRevocationCheck,
  type RefreshTokensOptions,
  type TokenStore,
} from '../src/sdk/tokens/index.js';
import { createJwtKeys, fromStaticKey, type JwtKeys } from '../src/sdk/jwt/index.js';
import {
  dropPostgresPrefix,
  dropRedisPrefix,
  requireService,
  uniquePrefix,
} from './helpers/services.js';

const pg = await requireService('postgres');
const redis = await requireService('redis');

interface StoreFactory {
  name: string;
  available: boolean;
  /** A new, empty store (own prefix), and a function opening a second instance on the same data. */
  create(): Promise<{ store: TokenStore; second: () => TokenStore }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

function track(store: TokenStore): TokenStore {
  cleanups.push(() => store.close());
  return store;
}

const STORES: StoreFactory[] = [
  {
    name: 'memory',
    available: true,
    async create() {
      const store = track(createMemoryTokenStore());
      // One process, one store: a second "instance" is another cache over the same object.
      return { store, second: () => ({ ...store, close: async () => {} }) };
    },
  },
  {
    name: 'postgres',
    available: pg.available,
    async create() {
      const prefix = uniquePrefix('tok');
      cleanups.push(() => dropPostgresPrefix(pg.url, prefix));
      const store = track(createPostgresTokenStore({ connectionString: pg.url, prefix }));
      await store.init();
      return {
        store,
        second: () => track(createPostgresTokenStore({ connectionString: pg.url, prefix, max: 2 })),
      };
    },
  },
  {
    name: 'redis',
    available: redis.available,
    async create() {
      const prefix = uniquePrefix('tok');
      cleanups.push(() => dropRedisPrefix(redis.url, prefix));
      const store = track(createRedisTokenStore({ url: redis.url, prefix }));
      await store.init();
      return { store, second: () => track(createRedisTokenStore({ url: redis.url, prefix })) };
    },
  },
];

/** A real rotor/jwt keyring (HS256, typ refresh+jwt) over a one-version in-memory KeySource. */
async function testKeyring(clock: {
  now(): number;
}): Promise<JwtKeys & { key: KeyObject; kid: string }> {
  const key = createSecretKey(randomBytes(32));
  const source = fromStaticKey({ key });
  const { kid } = source;
  const keys = createJwtKeys({
    secret: 'JWT_REFRESH_SECRET',
    source,
    issuer: 'https://app.test',
    audience: 'app',
    type: 'refresh+jwt',
    maxAge: '30d',
    clock,
  });
  await keys.ready();
  return Object.assign(keys, { key, kid });
}

async function rejects(promise: Promise<unknown>, code: RotorErrorCode): Promise<void> {
  try {
    await promise;
  } catch (error) {
    if (isRotorError(error, code)) return;
    throw new Error(`expected ${code}, got ${(error as { code?: string }).code ?? String(error)}`);
  }
  throw new Error(`expected ${code}, but it resolved`);
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

const MIN = 60_000;
/** A poll interval no test waits out: what arrives before it came by push. */
const NO_POLL_MS = 60 * MIN;
/** Waits sized for a loaded machine; they return as soon as the condition holds. */
const WAIT_MS = 30_000;

async function untilAsync(condition: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`condition not met within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function until(condition: () => boolean): Promise<void> {
  return untilAsync(async () => condition());
}

/** The backends LISTENing on this prefix's channel. */
async function listeners(url: string, prefix: string): Promise<number[]> {
  const { default: pgLib } = await import('pg');
  const admin = new pgLib.Client({ connectionString: url });
  await admin.connect();
  try {
    const res = await admin.query(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [
      `LISTEN ${prefix}_sessions`,
    ]);
    return (res.rows as { pid: number }[]).map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

for (const factory of STORES) {
  describe.skipIf(!factory.available)(
    `refresh tokens and sessions on the ${factory.name} store`,
    () => {
      /**
       * The keyring and the families share one manual clock, started at real time; with
       * `keyringOnSystemClock` the keyring checks `exp` against real time instead, so a test can
       * reach the store's own lifetime checks with a token whose exp has passed on the manual clock.
       */
      async function setup(
        extra: Partial<RefreshTokensOptions> = {},
        keyringOnSystemClock = false,
      ) {
        const { store, second } = await factory.create();
        const clock = createManualClock(Date.now());
        const keys = await testKeyring(keyringOnSystemClock ? { now: () => Date.now() } : clock);
        const tokens = createRefreshTokens({
          keys,
          store,
          clock,
          absoluteLifetime: '1h',
          idleLifetime: '30m',
          ...extra,
        });
        return { store, second, clock, keys, tokens };
      }

      it('issues a refresh token carrying sub, fam, jti and typ refresh, with the login claims', async () => {
        const { tokens, store } = await setup();
        const issued = await tokens.issue('user-1', { role: 'admin' });
        const claims = claimsOf(issued.token);
        expect(claims).toMatchObject({
          sub: 'user-1',
          fam: issued.familyId,
          typ: 'refresh',
          role: 'admin',
        });
        expect(typeof claims.jti).toBe('string');
        expect(claims.exp).toBe(Math.floor(issued.expiresAt / 1000));
        const family = await store.getFamily(issued.familyId);
        expect(family).toMatchObject({
          userId: 'user-1',
          latestJti: claims.jti,
          previousJti: null,
          revokedAt: null,
        });
      });

      it('rotates the family on refresh: a new jti becomes the latest and the claims carry over', async () => {
        const { tokens, store, clock } = await setup();
        const first = await tokens.issue('user-1', { role: 'admin' });
        clock.advance(MIN);
        const second = await tokens.refresh(first.token);
        expect(second.familyId).toBe(first.familyId);
        expect(second.claims).toEqual({ role: 'admin', sub: 'user-1' });
        expect(second.overlap).toBe(false);
        const [a, b] = [claimsOf(first.token), claimsOf(second.token)];
        expect(b.jti).not.toBe(a.jti);
        expect(await store.getFamily(first.familyId)).toMatchObject({
          latestJti: b.jti,
          previousJti: a.jti,
          rotatedAt: clock.now(),
          lastUsedAt: clock.now(),
        });
        clock.advance(MIN);
        const third = await tokens.refresh(second.token);
        expect((await store.getFamily(first.familyId))!.latestJti).toBe(claimsOf(third.token).jti);
      });

      it('revokes the whole family when an already-used token is presented again (reuse detection)', async () => {
        const reused: string[] = [];
        const { tokens, store, clock } = await setup({ onReuse: (e) => reused.push(e.familyId) });
        const first = await tokens.issue('user-1');
        clock.advance(MIN);
        const second = await tokens.refresh(first.token);
        clock.advance(MIN);
        await rejects(tokens.refresh(first.token), 'ERR_ROTOR_TOKENS_REUSE_DETECTED');
        expect(reused).toEqual([first.familyId]);
        expect(await store.getFamily(first.familyId)).toMatchObject({
          revokedAt: clock.now(),
          revokeReason: 'reuse',
        });
        // The legitimate holder's newest token dies with the family.
        await rejects(tokens.refresh(second.token), 'ERR_ROTOR_TOKENS_FAMILY_REVOKED');
      });

      it('gives concurrent refreshes of one token the same successor inside the overlap window', async () => {
        const { tokens, store } = await setup();
        const first = await tokens.issue('user-1');
        const results = await Promise.all(
          Array.from({ length: 16 }, () => tokens.refresh(first.token)),
        );
        const jtis = new Set(results.map((r) => claimsOf(r.token).jti));
        expect(jtis.size).toBe(1);
        expect(results.filter((r) => !r.overlap)).toHaveLength(1);
        const family = await store.getFamily(first.familyId);
        expect(family).toMatchObject({
          revokedAt: null,
          latestJti: [...jtis][0],
          previousJti: claimsOf(first.token).jti,
        });
        // Any of the successors refreshes normally.
        await tokens.refresh(results[5]!.token);
      });

      it('treats the replaced token as reuse once the overlap window has passed', async () => {
        const { tokens, clock } = await setup({ reuseOverlap: '2s' });
        const first = await tokens.issue('user-1');
        await tokens.refresh(first.token);
        clock.advance(2000);
        const again = await tokens.refresh(first.token);
        expect(again.overlap).toBe(true);
        clock.advance(1);
        await rejects(tokens.refresh(first.token), 'ERR_ROTOR_TOKENS_REUSE_DETECTED');
      });

      it('lets exactly one of several concurrent refreshes win when the overlap is off, and revokes on the others', async () => {
        const { tokens, store } = await setup({ reuseOverlap: 0 });
        const first = await tokens.issue('user-1');
        const settled = await Promise.allSettled(
          Array.from({ length: 8 }, () => tokens.refresh(first.token)),
        );
        expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
        const codes = settled.flatMap((s) =>
          s.status === 'rejected' ? [(s.reason as { code: string }).code] : [],
        );
        // The first loser detects the reuse and revokes; the rest find the family revoked.
        expect(codes).toContain('ERR_ROTOR_TOKENS_REUSE_DETECTED');
        expect(
          codes.every(
            (c) =>
              c === 'ERR_ROTOR_TOKENS_REUSE_DETECTED' || c === 'ERR_ROTOR_TOKENS_FAMILY_REVOKED',
          ),
        ).toBe(true);
        expect(await store.getFamily(first.familyId)).toMatchObject({
          previousJti: claimsOf(first.token).jti,
          revokeReason: 'reuse',
        });
      });

      it('ends a family at its absolute lifetime however active it is (the store checks, not only exp)', async () => {
        const { tokens, clock } = await setup({}, true);
        let token = (await tokens.issue('user-1')).token;
        for (let i = 0; i < 2; i++) {
          clock.advance(25 * MIN);
          const next = await tokens.refresh(token);
          token = next.token;
          expect(next.expiresAt).toBeLessThanOrEqual(clock.now() + 30 * MIN);
        }
        clock.advance(10 * MIN);
        await rejects(tokens.refresh(token), 'ERR_ROTOR_TOKENS_ABSOLUTE_EXPIRED');
      });

      it('ends a family left idle longer than the idle lifetime (the store checks, not only exp)', async () => {
        const { tokens, clock } = await setup({}, true);
        const first = await tokens.issue('user-1');
        clock.advance(10 * MIN);
        const second = await tokens.refresh(first.token);
        clock.advance(30 * MIN + 1);
        await rejects(tokens.refresh(second.token), 'ERR_ROTOR_TOKENS_IDLE_EXPIRED');
      });

      it('revokes one family, or every family of a user, and leaves other users alone', async () => {
        const { tokens, clock } = await setup();
        const a1 = await tokens.issue('alice');
        const a2 = await tokens.issue('alice');
        const a3 = await tokens.issue('alice');
        const b = await tokens.issue('bob');
        expect(await tokens.revokeFamily(a3.familyId)).toBe(true);
        expect(await tokens.revokeFamily(a3.familyId)).toBe(false);
        expect(await tokens.revokeUser('alice')).toBe(2);
        clock.advance(MIN);
        await rejects(tokens.refresh(a1.token), 'ERR_ROTOR_TOKENS_FAMILY_REVOKED');
        await rejects(tokens.refresh(a2.token), 'ERR_ROTOR_TOKENS_FAMILY_REVOKED');
        await rejects(tokens.refresh(a3.token), 'ERR_ROTOR_TOKENS_FAMILY_REVOKED');
        await tokens.refresh(b.token);
        // A new login after the revocation works.
        await tokens.refresh((await tokens.issue('alice')).token);
      });

      it('makes refresh tokens from before a user or global session revocation fail, and later logins work', async () => {
        const { tokens, clock } = await setup();
        const alice = await tokens.issue('alice');
        const bob = await tokens.issue('bob');
        clock.advance(1);
        await tokens.revokeSessions({ userId: 'alice' }, { reason: 'stolen laptop' });
        await rejects(tokens.refresh(alice.token), 'ERR_ROTOR_TOKENS_SESSION_REVOKED');
        const bobNext = await tokens.refresh(bob.token);
        clock.advance(1);
        const aliceAgain = await tokens.issue('alice');
        await tokens.refresh(aliceAgain.token);
        clock.advance(1);
        await tokens.revokeSessions({ all: true }, { reason: 'incident' });
        await rejects(tokens.refresh(bobNext.token), 'ERR_ROTOR_TOKENS_SESSION_REVOKED');
        clock.advance(1);
        await tokens.refresh((await tokens.issue('bob')).token);
      });

      it('flags users for a password reset until the app reports the new password', async () => {
        const { tokens, clock } = await setup();
        await tokens.revokeSessions(
          { userId: 'alice' },
          { requirePasswordReset: true, reason: 'credential stuffing' },
        );
        expect(await tokens.passwordResetRequired('alice')).toBe(true);
        expect(await tokens.passwordResetRequired('bob')).toBe(false);
        await rejects(tokens.issue('alice'), 'ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED');
        clock.advance(1);
        await tokens.passwordChanged('alice');
        expect(await tokens.passwordResetRequired('alice')).toBe(false);
        await tokens.issue('alice');

        clock.advance(1);
        await tokens.revokeSessions(
          { all: true },
          { requirePasswordReset: true, reason: 'password database leaked' },
        );
        expect(await tokens.passwordResetRequired('alice')).toBe(true);
        expect(await tokens.passwordResetRequired('carol')).toBe(true);
        await rejects(tokens.issue('carol'), 'ERR_ROTOR_TOKENS_PASSWORD_RESET_REQUIRED');
        clock.advance(1);
        await tokens.passwordChanged('carol');
        expect(await tokens.passwordResetRequired('carol')).toBe(false);
        expect(await tokens.passwordResetRequired('alice')).toBe(true);
        await tokens.issue('carol');
      });

      it('refuses tokens that are not its refresh tokens, and reserved claims at login', async () => {
        const { tokens, keys, clock } = await setup();
        const exp = Math.floor(clock.now() / 1000) + 300;
        // An access token (another typ) fails in the keyring, whose error passes through.
        const access = keys.sign({ sub: 'user-1' }, { type: 'at+jwt' });
        await expect(tokens.refresh(access)).rejects.toMatchObject({
          code: 'ERR_ROTOR_JWT_TYPE_MISMATCH',
        });
        // Right typ header, but not one of our families' tokens.
        await rejects(
          tokens.refresh(keys.sign({ sub: 'user-1', exp })),
          'ERR_ROTOR_TOKENS_INVALID',
        );
        const forged = await new SignJWT({
          sub: 'user-1',
          fam: 'f',
          jti: 'j',
          typ: 'refresh',
          iss: 'https://app.test',
          aud: 'app',
          exp,
        })
          .setProtectedHeader({ alg: 'HS256', typ: 'refresh+jwt', kid: keys.kid })
          .sign(randomBytes(32));
        await expect(tokens.refresh(forged)).rejects.toMatchObject({
          code: 'ERR_ROTOR_JWT_SIGNATURE_INVALID',
        });
        const unknown = keys.sign({
          sub: 'user-1',
          fam: randomUUID(),
          jti: randomUUID(),
          typ: 'refresh',
          exp,
        });
        await rejects(tokens.refresh(unknown), 'ERR_ROTOR_TOKENS_FAMILY_UNKNOWN');
        await rejects(
          tokens.issue('user-1', { sub: 'someone-else' }),
          'ERR_ROTOR_INVALID_ARGUMENT',
        );
      });

      it('refuses a refresh token past its exp even if the family lives on', async () => {
        const { tokens, clock } = await setup({ absoluteLifetime: '30d', idleLifetime: '1h' });
        const first = await tokens.issue('user-1');
        clock.advance(3_600_000 + 1000);
        await expect(tokens.refresh(first.token)).rejects.toMatchObject({
          code: 'ERR_ROTOR_JWT_EXPIRED',
        });
      });

      it('refuses a family presented with another user as sub', async () => {
        const { tokens, keys } = await setup();
        const issued = await tokens.issue('alice');
        const c = claimsOf(issued.token);
        const swapped = keys.sign({ ...c, sub: 'mallory' });
        await rejects(tokens.refresh(swapped), 'ERR_ROTOR_TOKENS_FAMILY_UNKNOWN');
      });

      it('a second instance rejects tokens issued before a global revoke, by push alone', async () => {
        const { store, second } = await setup();
        const other = second();
        // The poll is far longer than the wait below: a revocation seen in time came by push.
        const check = await createRevocationCheck({ store: other, pollIntervalMs: NO_POLL_MS });
        try {
          const before = Math.floor(Date.now() / 1000) - 1;
          expect(check.isRevoked({ sub: 'alice', iat: before })).toBe(false);
          await store.revokeSessions({ all: true }, { now: Date.now(), reason: 'incident' });
          await until(() => check.isRevoked({ sub: 'alice', iat: before }));
          expect(check.isRevoked({ sub: 'alice', iat: before })).toBe(true);
          expect(check.isRevoked({ sub: 'bob' })).toBe(true);
          // A token issued in a later second is fine.
          expect(check.isRevoked({ sub: 'alice', iat: Math.floor(Date.now() / 1000) + 1 })).toBe(
            false,
          );
        } finally {
          await check.close();
        }
      });

      it('a second instance sees a user revoke by polling when push is off', async () => {
        const { store, second } = await setup();
        const check = await createRevocationCheck({ store: second(), push: false });
        try {
          const before = Math.floor(Date.now() / 1000) - 1;
          await store.revokeSessions({ userId: 'alice' }, { now: Date.now() });
          // No subscription: only the poll (default 1 s) can bring it in.
          await until(() => check.isRevoked({ sub: 'alice', iat: before }));
          expect(check.isRevoked({ sub: 'alice', iat: before })).toBe(true);
          expect(check.isRevoked({ sub: 'bob', iat: before })).toBe(false);
          expect(check.isRevoked({ sub: 'bob' })).toBe(false);
          expect(check.isRevoked({ sub: 'alice' })).toBe(true);
        } finally {
          await check.close();
        }
      });

      it('loads revocations made before it started, and only reads what changed afterwards', async () => {
        const { store, second } = await setup();
        const now = Date.now();
        await store.revokeSessions({ userId: 'alice' }, { now });
        await store.revokeSessions({ all: true }, { now: now - 10_000 });
        const check = await createRevocationCheck({
          store: second(),
          push: false,
          pollIntervalMs: 60_000,
        });
        try {
          const sec = Math.floor(now / 1000);
          expect(check.isRevoked({ sub: 'alice', iat: sec })).toBe(true);
          expect(check.isRevoked({ sub: 'bob', iat: sec - 10 })).toBe(true);
          expect(check.isRevoked({ sub: 'bob', iat: sec })).toBe(false);
          const v = check.version;
          expect((await store.sessionChanges(v)).changes).toEqual([]);
          await store.revokeSessions({ userId: 'bob' }, { now });
          expect((await store.sessionChanges(v)).changes).toEqual([
            { userId: 'bob', validAfter: now },
          ]);
          await check.sync();
          expect(check.isRevoked({ sub: 'bob', iat: sec })).toBe(true);
        } finally {
          await check.close();
        }
      });

      it('never moves a "valid after" time backwards', async () => {
        const { store } = await setup();
        await store.revokeSessions({ userId: 'alice' }, { now: 2_000_000 });
        await store.revokeSessions({ userId: 'alice' }, { now: 1_000_000 });
        const { changes } = await store.sessionChanges(0);
        expect(changes).toEqual([{ userId: 'alice', validAfter: 2_000_000 }]);
      });
    },
  );
}

describe('token store setup', () => {
  it.skipIf(!pg.available)(
    'creates its PostgreSQL tables idempotently, from several instances at once',
    async () => {
      const prefix = uniquePrefix('init');
      cleanups.push(() => dropPostgresPrefix(pg.url, prefix));
      const stores = Array.from({ length: 4 }, () =>
        track(createPostgresTokenStore({ connectionString: pg.url, prefix, max: 1 })),
      );
      await Promise.all(stores.map((s) => s.init()));
      await stores[0]!.init();
    },
  );

  it.skipIf(!pg.available)(
    'listens again after the PostgreSQL LISTEN connection is killed, so push keeps working',
    async () => {
      const prefix = uniquePrefix('relisten');
      cleanups.push(() => dropPostgresPrefix(pg.url, prefix));
      const writer = track(createPostgresTokenStore({ connectionString: pg.url, prefix, max: 1 }));
      const reader = track(createPostgresTokenStore({ connectionString: pg.url, prefix, max: 2 }));
      await writer.init();
      const check = await createRevocationCheck({ store: reader, pollIntervalMs: NO_POLL_MS });
      cleanups.push(() => check.close());
      const { default: pgLib } = await import('pg');
      const admin = new pgLib.Client({ connectionString: pg.url });
      await admin.connect();
      const killed = await admin.query(
        `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1`,
        [`LISTEN ${prefix}_sessions`],
      );
      await admin.end();
      expect(killed.rowCount).toBe(1);
      const killedPid = (killed.rows[0] as { pid: number }).pid;
      // Wait for a new LISTEN session (another backend) instead of sleeping a guessed time.
      await untilAsync(async () => (await listeners(pg.url, prefix)).some((p) => p !== killedPid));
      const before = Math.floor(Date.now() / 1000) - 1;
      await writer.revokeSessions({ userId: 'alice' }, { now: Date.now() });
      // The poll is far longer than the wait: seen in time means the re-established LISTEN.
      await until(() => check.isRevoked({ sub: 'alice', iat: before }));
      expect(check.isRevoked({ sub: 'alice', iat: before })).toBe(true);
    },
  );

  it('reports an unreachable PostgreSQL or Redis server with one clear error and no URL', async () => {
    const pgStore = track(
      createPostgresTokenStore({
        connectionString: 'postgres://u:hunter2@127.0.0.1:1/x',
        prefix: 'rotor',
      }),
    );
    const error = await pgStore.init().catch((e: unknown) => e);
    expect(isRotorError(error, 'ERR_ROTOR_TOKENS_STORE_UNREACHABLE')).toBe(true);
    expect((error as Error).message).toMatch(
      /cannot reach the PostgreSQL token store: .*ECONNREFUSED/,
    );
    expect((error as Error).message).not.toContain('hunter2');
    const redisStore = track(
      createRedisTokenStore({ url: 'redis://:hunter2@127.0.0.1:1', prefix: 'rotor' }),
    );
    const redisError = await redisStore.init().catch((e: unknown) => e);
    expect(isRotorError(redisError, 'ERR_ROTOR_TOKENS_STORE_UNREACHABLE')).toBe(true);
    expect((redisError as Error).message).toMatch(
      /cannot reach the Redis token store: .*ECONNREFUSED/,
    );
    expect((redisError as Error).message).not.toContain('hunter2');
  });

  it('refuses a table prefix that is not a plain identifier', () => {
    expect(() =>
      createPostgresTokenStore({ connectionString: 'postgres://x', prefix: 'a; DROP TABLE users' }),
    ).toThrow(/prefix/);
  });
});
