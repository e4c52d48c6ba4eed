// Refresh-token rotation throughput: 16 concurrent clients, each refreshing its own family in a
// loop (verify the presented token, rotate the family atomically in the store, sign the
// successor), against PostgreSQL and Redis on 127.0.0.1, with the in-memory store as the
// in-process baseline. Also the store's rotate alone, to show where the time goes.
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { createJwtKeys, fromStaticKey } from '../src/sdk/jwt/index.js';
import {
  createMemoryTokenStore,
  createPostgresTokenStore,
  createRedisTokenStore,
  createRefreshTokens,
  type TokenStore,
} from '../src/sdk/tokens/index.js';
import type { BenchModule, BenchResult } from './harness.js';

const CLIENTS = 16;
const WARMUP_MS = 500;
const MEASURE_MS = 3000;
const PG_URL = process.env.ROTOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.ROTOR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function keyring() {
  const key = createSecretKey(randomBytes(32));
  const source = fromStaticKey({ key });
  const keys = createJwtKeys({
    secret: 'JWT_REFRESH_SECRET',
    source,
    issuer: 'https://bench.test',
    audience: 'bench',
    type: 'refresh+jwt',
    maxAge: '30d',
  });
  await keys.ready();
  return keys;
}

interface Run {
  opsPerSec: number;
  p50: number;
  p99: number;
}

/** Runs `CLIENTS` loops of `step` for the warm-up, then counts completed steps for MEASURE_MS. */
async function drive(makeClient: () => Promise<() => Promise<void>>): Promise<Run> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, makeClient));
  let measuring = false;
  let stop = false;
  let ops = 0;
  const latencies: number[] = [];
  const loops = clients.map(async (step) => {
    let n = 0;
    while (!stop) {
      const t = performance.now();
      await step();
      if (measuring) {
        ops++;
        latencies.push(performance.now() - t);
      }
      // The memory store resolves in microtasks only: yield now and then so timers can fire.
      if (++n % 64 === 0) await new Promise((r) => setImmediate(r));
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  measuring = false;
  const elapsed = performance.now() - start;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  return {
    opsPerSec: (ops / elapsed) * 1000,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

async function refreshRun(store: TokenStore): Promise<Run> {
  const tokens = createRefreshTokens({
    keys: await keyring(),
    store,
    absoluteLifetime: '30d',
    idleLifetime: '7d',
  });
  return drive(async () => {
    let token = (await tokens.issue(`user-${randomUUID()}`, { role: 'member' })).token;
    return async () => {
      token = (await tokens.refresh(token)).token;
    };
  });
}

async function rotateOnlyRun(store: TokenStore): Promise<Run> {
  return drive(async () => {
    const familyId = randomUUID();
    const userId = `user-${randomUUID()}`;
    let jti = randomUUID();
    const now = Date.now();
    await store.createFamily({
      familyId,
      userId,
      jti,
      now,
      absoluteExpiresAt: now + 30 * 86_400_000,
    });
    return async () => {
      const nextJti = randomUUID();
      const r = await store.rotateFamily({
        familyId,
        userId,
        presentedJti: jti,
        nextJti,
        now: Date.now(),
        idleMs: 7 * 86_400_000,
        overlapMs: 2000,
      });
      if (r.status !== 'rotated') throw new Error(`rotate: ${r.status}`);
      jti = nextJti;
    };
  });
}

const prefix = `bench_${randomBytes(4).toString('hex')}`;

async function withStore(
  name: string,
  open: () => TokenStore,
  cleanup: () => Promise<void>,
): Promise<{ refresh?: Run; rotate?: Run; skipped?: string }> {
  const store = open();
  try {
    await store.init();
  } catch (error) {
    await store.close().catch(() => {});
    return { skipped: `${name} unreachable: ${(error as Error).message}` };
  }
  try {
    const refresh = await refreshRun(store);
    const rotate = await rotateOnlyRun(store);
    return { refresh, rotate };
  } finally {
    await store.close();
    await cleanup().catch(() => {});
  }
}

async function dropPg(): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const t of ['refresh_families', 'session_users', 'session_global'])
    await client.query(`DROP TABLE IF EXISTS ${prefix}_${t}`);
  await client.end();
}

async function dropRedis(): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

const fmt = (r: Run) => `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`;

const bench: BenchModule = {
  name: 'refresh',
  async run() {
    const memory = await withStore(
      'memory',
      () => createMemoryTokenStore(),
      async () => {},
    );
    const postgres = await withStore(
      'postgres',
      () => createPostgresTokenStore({ connectionString: PG_URL, prefix, max: CLIENTS }),
      dropPg,
    );
    const redis = await withStore(
      'redis',
      () => createRedisTokenStore({ url: REDIS_URL, prefix }),
      dropRedis,
    );
    const base = memory.refresh!;
    const baseline = {
      name: 'in-memory store, same clients',
      value: base.opsPerSec,
      unit: 'ops/s',
    };
    const results: BenchResult[] = [
      {
        name: `refresh, memory store, ${CLIENTS} clients`,
        value: base.opsPerSec,
        unit: 'ops/s',
        notes: `${fmt(base)}; store rotate alone: ${memory.rotate!.opsPerSec.toFixed(0)} ops/s`,
      },
    ];
    for (const [label, r] of [
      ['postgres', postgres],
      ['redis', redis],
    ] as const) {
      if (!r.refresh) {
        results.push({
          name: `refresh, ${label} store, ${CLIENTS} clients`,
          value: 0,
          unit: 'ops/s',
          notes: `skipped: ${r.skipped}`,
        });
        continue;
      }
      results.push({
        name: `refresh, ${label} store, ${CLIENTS} clients`,
        value: r.refresh.opsPerSec,
        unit: 'ops/s',
        baseline,
        ratio: r.refresh.opsPerSec / base.opsPerSec,
        target: 'report ops/s (issue)',
        notes: `${fmt(r.refresh)}; store rotate alone: ${r.rotate!.opsPerSec.toFixed(0)} ops/s (${fmt(r.rotate!)})`,
      });
    }
    return results;
  },
};
export default bench;
