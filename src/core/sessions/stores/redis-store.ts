// The Redis TokenStore: each decision is one atomic Lua script (docs/tokens.md). The rotation
// script transcribes `decideRotation` in family-rules.ts: keep them in step.
import type { Redis } from 'ioredis';
import { RotorError } from '../../errors.js';
import { importPeer } from '../../import-peer.js';
import { lazyTokenStore } from './lazy-store.js';
import { resetRequired } from './family-rules.js';
import { describeConnectError } from './store-errors.js';
import {
  DEFAULT_PREFIX,
  type FamilyRecord,
  type RotateOutcome,
  type SessionChanges,
  type TokenStore,
} from './token-store.js';

/**
 * An ioredis `Redis` client, described by shape only so the SDK's type declarations need no
 * ioredis (an optional peer); the store uses it as the Redis client it is.
 */
export interface RedisClient {
  defineCommand: (...args: never[]) => unknown;
  duplicate: (...args: never[]) => unknown;
}

export interface RedisTokenStoreOptions {
  /** A client the app already has (not closed by `close()`), or … */
  redis?: RedisClient;
  /** … a redis:// or rediss:// URL; the store then owns its connections. */
  url?: string;
  /** Keys are `<prefix>:fam:<id>`, `<prefix>:sess:…`; default `rotor`. */
  prefix?: string;
}

const KEEP_AFTER_EXPIRY_MS = 86_400_000;

const ROTATE = `
local f = redis.call('HMGET', KEYS[1], 'user', 'latest', 'prev', 'rotated', 'created', 'used', 'abs', 'revoked', 'reason')
if not f[1] or f[1] ~= ARGV[1] then return {'unknown'} end
if f[8] then return {'revoked', f[9] or ''} end
local now = tonumber(ARGV[4])
if now >= tonumber(f[7]) then return {'absolute-expired'} end
local va = tonumber(redis.call('HGET', KEYS[2], 'va') or '-1')
local uva = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '-1')
if uva > va then va = uva end
if tonumber(f[5]) <= va then return {'session-revoked'} end
if f[2] == ARGV[2] then
  if now - tonumber(f[6]) > tonumber(ARGV[5]) then return {'idle-expired'} end
  redis.call('HSET', KEYS[1], 'prev', f[2], 'latest', ARGV[3], 'rotated', ARGV[4], 'used', ARGV[4])
  return {'rotated', ARGV[3], f[5], f[7]}
end
local overlap = tonumber(ARGV[6])
if overlap > 0 and f[3] and f[3] == ARGV[2] and f[4] and now - tonumber(f[4]) <= overlap then
  return {'overlap', f[2], f[5], f[7]}
end
redis.call('HSET', KEYS[1], 'revoked', ARGV[4], 'reason', 'reuse')
return {'reuse'}
`;

const CREATE = `
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 0 end
local rb = redis.call('HGET', KEYS[3], 'rb')
if rb and tonumber(redis.call('HGET', KEYS[5], ARGV[2]) or '-1') < tonumber(rb) then return 0 end
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'latest', ARGV[3], 'created', ARGV[4], 'used', ARGV[4], 'abs', ARGV[5])
local ttl = tonumber(ARGV[6])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`;

const REVOKE_FAMILY = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'revoked') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'revoked', ARGV[1], 'reason', ARGV[2])
return 1
`;

// Family keys are derived from the user's set; fine on a single node or under one hash tag.
const REVOKE_USER = `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[1] .. id
  if redis.call('EXISTS', k) == 0 then
    redis.call('SREM', KEYS[1], id)
  elseif redis.call('HEXISTS', k, 'revoked') == 0 then
    redis.call('HSET', k, 'revoked', ARGV[2], 'reason', ARGV[3])
    n = n + 1
  end
end
return n
`;

const REVOKE_SESSIONS = `
local ver = redis.call('INCR', KEYS[1])
local now = tonumber(ARGV[3])
if ARGV[1] == 'all' then
  if now > tonumber(redis.call('HGET', KEYS[2], 'va') or '-1') then redis.call('HSET', KEYS[2], 'va', ARGV[3]) end
  if ARGV[4] == '1' and now > tonumber(redis.call('HGET', KEYS[2], 'rb') or '-1') then redis.call('HSET', KEYS[2], 'rb', ARGV[3]) end
  redis.call('HSET', KEYS[2], 'ver', ver)
else
  if now > tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '-1') then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
  if ARGV[4] == '1' then redis.call('HSET', KEYS[4], ARGV[2], '1') end
  redis.call('ZADD', KEYS[5], ver, ARGV[2])
end
redis.call('PUBLISH', ARGV[5], ver)
return ver
`;

const SESSION_CHANGES = `
local ver = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
if ver <= since then return {ver} end
local g = redis.call('HMGET', KEYS[2], 'va', 'ver')
local out = {ver, '0', ''}
if g[2] and tonumber(g[2]) > since then out[2] = '1'; out[3] = g[1] or '' end
for _, u in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. ARGV[1], '+inf')) do
  table.insert(out, u)
  table.insert(out, redis.call('HGET', KEYS[3], u) or '')
end
return out
`;

const RESET_REQUIRED = `
return {redis.call('HGET', KEYS[1], ARGV[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or '', redis.call('HGET', KEYS[3], 'rb') or ''}
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  rotorRotate: Script;
  rotorCreate: Script;
  rotorRevokeFamily: Script;
  rotorRevokeUser: Script;
  rotorRevokeSessions: Script;
  rotorSessionChanges: Script;
  rotorResetRequired: Script;
}

const optNum = (s: string | undefined | null): number | null =>
  s === undefined || s === null || s === '' ? null : Number(s);

/**
 * A TokenStore on Redis.
 *
 * @example
 * const store = createRedisTokenStore({ url: process.env.SESSIONS_URL });
 * await store.init();
 */
export function createRedisTokenStore(options: RedisTokenStoreOptions): TokenStore {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9_{}:.-]{1,64}$/.test(prefix))
    throw new RotorError(
      'ERR_ROTOR_TOKENS_OPTIONS_INVALID',
      `token store prefix "${prefix}" has characters other than letters, digits, _ { } : . -`,
    );
  if (!options.redis && !options.url)
    throw new RotorError(
      'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
      'the Redis token store needs a client or a URL',
    );
  // The app's own client is an ioredis Redis (see RedisClient): no driver to load.
  if (options.redis) return storeOnClient(options.redis as Redis, false, prefix);
  const url = options.url!;
  return lazyTokenStore('redis', async () => {
    const { Redis: Client } = await importPeer(
      'ioredis',
      'createRedisTokenStore (rotor/tokens)',
      () => import('ioredis'),
    );
    return storeOnClient(
      new Client(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 2 }),
      true,
      prefix,
    );
  });
}

function storeOnClient(redis: Redis, ownsClient: boolean, prefix: string): TokenStore {
  let lastError: unknown;
  // Connection errors surface through the commands that fail; keep them for the message.
  const onError = (error: unknown) => {
    lastError = error;
  };
  redis.on('error', onError);
  const scripts = redis as unknown as Scripts;
  const define = (name: keyof Scripts, numberOfKeys: number, lua: string) => {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
  };
  define('rotorRotate', 3, ROTATE);
  define('rotorCreate', 5, CREATE);
  define('rotorRevokeFamily', 1, REVOKE_FAMILY);
  define('rotorRevokeUser', 1, REVOKE_USER);
  define('rotorRevokeSessions', 5, REVOKE_SESSIONS);
  define('rotorSessionChanges', 4, SESSION_CHANGES);
  define('rotorResetRequired', 3, RESET_REQUIRED);

  const k = {
    fam: (id: string) => `${prefix}:fam:${id}`,
    famBase: `${prefix}:fam:`,
    userFams: (user: string) => `${prefix}:ufam:${user}`,
    counter: `${prefix}:sess:counter`,
    global: `${prefix}:sess:global`,
    validAfter: `${prefix}:sess:va`,
    reset: `${prefix}:sess:reset`,
    pwd: `${prefix}:sess:pwd`,
    log: `${prefix}:sess:log`,
    channel: `${prefix}:sessions`,
  };

  let ready: Promise<void> | undefined;
  function init(): Promise<void> {
    ready ??= (async () => {
      try {
        if (redis.status === 'wait') await redis.connect();
        await redis.ping();
      } catch (cause) {
        throw new RotorError(
          'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
          `cannot reach the Redis token store: ${describeConnectError(lastError ?? cause)}`,
          { cause: lastError ?? cause },
        );
      }
    })();
    ready.catch(() => (ready = undefined));
    return ready;
  }

  let sub: Redis | undefined;
  const listeners = new Set<() => void>();

  return {
    kind: 'redis',
    init,
    async createFamily(input) {
      await init();
      const ttl = Math.max(1, input.absoluteExpiresAt - input.now) + KEEP_AFTER_EXPIRY_MS;
      const created = await scripts.rotorCreate(
        k.fam(input.familyId),
        k.userFams(input.userId),
        k.global,
        k.reset,
        k.pwd,
        input.familyId,
        input.userId,
        input.jti,
        input.now,
        input.absoluteExpiresAt,
        ttl,
      );
      return created === 1
        ? { created: true }
        : { created: false, reason: 'password-reset-required' };
    },
    async rotateFamily(input): Promise<RotateOutcome> {
      await init();
      const r = (await scripts.rotorRotate(
        k.fam(input.familyId),
        k.global,
        k.validAfter,
        input.userId,
        input.presentedJti,
        input.nextJti,
        input.now,
        input.idleMs,
        input.overlapMs,
      )) as string[];
      const status = r[0] as RotateOutcome['status'];
      switch (status) {
        case 'rotated':
        case 'overlap':
          return {
            status,
            latestJti: r[1]!,
            createdAt: Number(r[2]),
            absoluteExpiresAt: Number(r[3]),
          };
        case 'revoked':
          return { status, reason: r[1] || null };
        default:
          return { status };
      }
    },
    async getFamily(familyId) {
      await init();
      const h = await redis.hgetall(k.fam(familyId));
      if (!h.user) return undefined;
      const record: FamilyRecord = {
        id: familyId,
        userId: h.user,
        latestJti: h.latest!,
        previousJti: h.prev ?? null,
        rotatedAt: optNum(h.rotated),
        createdAt: Number(h.created),
        lastUsedAt: Number(h.used),
        absoluteExpiresAt: Number(h.abs),
        revokedAt: optNum(h.revoked),
        revokeReason: h.reason ?? null,
      };
      return record;
    },
    async revokeFamily(familyId, now, reason) {
      await init();
      return (await scripts.rotorRevokeFamily(k.fam(familyId), now, reason)) === 1;
    },
    async revokeUser(userId, now, reason) {
      await init();
      return Number(await scripts.rotorRevokeUser(k.userFams(userId), k.famBase, now, reason));
    },
    async revokeSessions(scope, input) {
      await init();
      const all = 'all' in scope;
      await scripts.rotorRevokeSessions(
        k.counter,
        k.global,
        k.validAfter,
        k.reset,
        k.log,
        all ? 'all' : 'user',
        all ? '' : scope.userId,
        input.now,
        input.requirePasswordReset ? '1' : '0',
        k.channel,
      );
    },
    async passwordResetRequired(userId) {
      await init();
      const [flag, changed, before] = (await scripts.rotorResetRequired(
        k.reset,
        k.pwd,
        k.global,
        userId,
      )) as string[];
      return resetRequired(flag === '1', optNum(changed), optNum(before));
    },
    async passwordChanged(userId, now) {
      await init();
      await redis.multi().hdel(k.reset, userId).hset(k.pwd, userId, now).exec();
    },
    async sessionChanges(since): Promise<SessionChanges> {
      await init();
      const r = (await scripts.rotorSessionChanges(
        k.counter,
        k.global,
        k.validAfter,
        k.log,
        since,
      )) as (string | number)[];
      const version = Number(r[0]);
      const changes: SessionChanges['changes'] = [];
      if (r.length > 1) {
        if (r[1] === '1') changes.push({ userId: null, validAfter: optNum(String(r[2])) });
        for (let i = 3; i + 1 < r.length; i += 2)
          changes.push({ userId: String(r[i]), validAfter: optNum(String(r[i + 1])) });
      }
      return { version, changes };
    },
    async subscribe(onChange) {
      await init();
      listeners.add(onChange);
      if (!sub) {
        const s = redis.duplicate();
        s.on('error', onError);
        s.on('message', (channel: string) => {
          if (channel !== k.channel) return;
          for (const l of listeners) l();
        });
        sub = s;
        try {
          await s.subscribe(k.channel);
        } catch (cause) {
          sub = undefined;
          listeners.delete(onChange);
          s.disconnect();
          throw new RotorError(
            'ERR_ROTOR_TOKENS_STORE_UNREACHABLE',
            `cannot subscribe on the Redis token store: ${describeConnectError(lastError ?? cause)}`,
            { cause },
          );
        }
      }
      return async () => {
        listeners.delete(onChange);
        if (listeners.size === 0 && sub) {
          const s = sub;
          sub = undefined;
          await s.quit().catch(() => s.disconnect());
        }
      };
    },
    async purgeExpired() {
      // Family keys expire by themselves; user sets drop stale ids on revokeUser.
      return 0;
    },
    async close() {
      listeners.clear();
      if (sub) {
        const s = sub;
        sub = undefined;
        await s.quit().catch(() => s.disconnect());
      }
      if (!ownsClient) redis.off('error', onError);
      else {
        if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
        else redis.disconnect();
      }
    },
  };
}
