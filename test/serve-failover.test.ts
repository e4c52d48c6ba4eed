// Scheduler failover between `rotor serve` instances on one PostgreSQL store that look like
// different machines (each in its own UTS namespace, so os.hostname() differs and no pid can be
// checked): a SIGKILLed leader's lease runs out and the other instance takes it; a leader killed in
// the middle of a rotation leaves it to the survivor, which rolls it forward exactly once; and two
// resumers racing over one interrupted rotation finish it once. Also, on SQLite in-process: a
// leader whose renewal comes back after its lease could have expired does not act.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createRotationEngine } from '../src/core/rotation/rotation-engine.js';
import { LOCK_HEARTBEAT_TTL_MS } from '../src/core/rotation/lock.js';
import { createScheduler, LEASE_RENEW_MS, LEASE_TTL_MS } from '../src/core/scheduler/scheduler.js';
import { createManualClock } from '../src/core/clock.js';
import type { Rotor } from '../src/core/context.js';
import { createLeaderLease } from '../src/core/scheduler/leader-lease.js';
import type { Store } from '../src/core/store/open-store.js';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import {
  canFakeHostname,
  killServe,
  ROOT,
  rotorCommand,
  startServe,
  waitFor,
  type ServeProcess,
} from './helpers/serve-process.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');
const fakeHosts = canFakeHostname();
if (!fakeHosts) {
  const why = 'unshare --uts does not work here (it needs root)';
  if (process.env.CI === 'true') throw new Error(`serve-failover: ${why}, and CI=true`);
  process.stderr.write(`\n⚠️  SKIPPING other-host failover tests: ${why}.\n\n`);
}

/** Slack for a busy 2-core machine on top of what the lease design allows. */
const SLACK_MS = 10_000;

/** A deploy hook that, once `armed` exists, sleeps (its pid in `hook-started`) the first time only. */
const SLOW_HOOK = `if [ -e armed ] && [ ! -e hook-started ]; then echo $$ > hook-started; exec sleep 600; fi`;

const policy = (hook: boolean) => `version: 1
environments: [staging]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 365d
    config: { bytes: 32, encoding: base64url }
${hook ? `    deploy:\n      - command: ["sh", "-c", ${JSON.stringify(SLOW_HOOK)}]\n        timeout: 15m\n` : ''}`;

interface Db {
  query<T>(text: string, values?: unknown[]): Promise<T[]>;
  /** The database's clock, in ms: the clock leases are compared on. */
  now(): Promise<number>;
  end(): Promise<void>;
}

async function connect(url: string): Promise<Db> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const query = async <T>(text: string, values: unknown[] = []) =>
    (await client.query(text, values)).rows as T[];
  return {
    query,
    async now() {
      const [row] = await query<{ now: string }>(
        'SELECT (extract(epoch from clock_timestamp()) * 1000)::int8 AS now',
      );
      return Number(row!.now);
    },
    end: () => client.end(),
  };
}

interface Lease {
  owner: string;
  pid: number;
  host: string;
  acquired_at: number;
  expires_at: number;
}

async function lease(db: Db): Promise<Lease | undefined> {
  const [row] = await db.query<Record<keyof Lease, string | number>>(
    "SELECT owner, pid, host, acquired_at, expires_at FROM scheduler_leases WHERE name = 'scheduler'",
  );
  if (!row) return undefined;
  return {
    owner: String(row.owner),
    pid: Number(row.pid),
    host: String(row.host),
    acquired_at: Number(row.acquired_at),
    expires_at: Number(row.expires_at),
  };
}

/** A project on a new scratch database, applied, with SESSION_SECRET rotated `ageDays` ago. */
async function scratchProject(
  tag: string,
  opts: { hook: boolean; ageDays: number },
): Promise<{ project: TestProject; db: Db; drop: () => Promise<void> }> {
  const scratch = await createScratchDatabase(tag);
  const project = await createProject({
    policy: policy(opts.hook),
    start: Date.now() - opts.ageDays * DAY,
    env: { ROTOR_STORE_URL: scratch.url },
  });
  expect((await project.cli(['apply'])).code).toBe(0);
  const rotated = await project.cli(['rotate', 'SESSION_SECRET']);
  expect(rotated.code, rotated.stderr).toBe(0);
  project.clock.set(Date.now());
  const db = await connect(scratch.url);
  return {
    project,
    db,
    drop: async () => {
      await db.end().catch(() => undefined);
      await scratch.drop();
    },
  };
}

function serveOn(project: TestProject, host: string, interval: string): Promise<ServeProcess> {
  return startServe(
    project.dir,
    ['--scheduler-interval', interval],
    { ...project.env },
    { hostname: host },
  );
}

const live = new Set<ServeProcess>();
afterAll(async () => {
  for (const s of live) await killServe(s);
});

describe.skipIf(!postgres.available || !fakeHosts)('scheduler failover across hosts', () => {
  test('kill -9 of the leader on another host: its lease runs out and the survivor takes it within TTL + one renewal', async () => {
    const { project, db, drop } = await scratchProject('failover', { hook: false, ageDays: 1 });
    try {
      // A tick interval far longer than the lease: failover must not wait for it.
      const [a, b] = await Promise.all([
        serveOn(project, 'rotor-host-a', '10m'),
        serveOn(project, 'rotor-host-b', '10m'),
      ]);
      live.add(a).add(b);
      const byHost = { 'rotor-host-a': a, 'rotor-host-b': b } as Record<string, ServeProcess>;
      await waitFor('a leader', async () => byHost[(await lease(db))?.host ?? ''] !== undefined);
      const before = (await lease(db))!;
      const leader = byHost[before.host]!;
      const [otherHost, survivor] = Object.entries(byHost).find(([h]) => h !== before.host)!;
      expect(before.pid).toBe(leader.child.pid);

      const killedAt = await db.now();
      const lastExpiry = (await lease(db))!.expires_at;
      await killServe(leader);
      await waitFor('the survivor to hold the lease', async () => {
        return (await lease(db))?.host === otherHost;
      });
      const after = (await lease(db))!;
      expect(after.pid).toBe(survivor.child.pid);
      expect(after.owner).not.toBe(before.owner);
      // Taken because the lease ran out (no pid can be checked across hosts), not before...
      expect(after.acquired_at).toBeGreaterThanOrEqual(lastExpiry);
      // ...and at the first attempt after it ran out (design: ≤ TTL + renewal, about 13 s).
      expect(after.acquired_at - killedAt).toBeLessThanOrEqual(
        LEASE_TTL_MS + LEASE_RENEW_MS + SLACK_MS,
      );
      await waitFor('the survivor to say so', () =>
        survivor.stderr().includes('this instance is now the leader'),
      );
      process.stdout.write(
        `serve-failover: other-host takeover ${after.acquired_at - killedAt} ms after kill -9 (database clock)\n`,
      );
      expect((await fetch(`${survivor.base}/readyz`)).status).toBe(200);
      await survivor.stop();
    } finally {
      await drop();
    }
  }, 240_000);

  test('kill -9 of the leader in the middle of a scheduled rotation: the survivor rolls it forward exactly once', async () => {
    // Rotated 400 days ago with a 365-day cadence: overdue, so the leader's first tick rotates it.
    const { project, db, drop } = await scratchProject('midrot', { hook: true, ageDays: 400 });
    try {
      writeFileSync(join(project.dir, 'armed'), '');
      const [a, b] = await Promise.all([
        serveOn(project, 'rotor-host-a', '2s'),
        serveOn(project, 'rotor-host-b', '2s'),
      ]);
      live.add(a).add(b);
      const started = join(project.dir, 'hook-started');
      await waitFor('the deploy hook to start', () => existsSync(started));
      const hookPid = Number(readFileSync(started, 'utf8').trim());
      const running = await db.query<{ id: string; step: string }>(
        "SELECT id, step FROM rotations WHERE secret = 'SESSION_SECRET' AND state = 'running'",
      );
      expect(running).toHaveLength(1);
      const rotationId = running[0]!.id;
      const holder = await db.query<{ pid: number; host: string }>(
        "SELECT pid, host FROM locks WHERE name = 'rotation:SESSION_SECRET:staging'",
      );
      const leader = holder[0]!.pid === a.child.pid ? a : b;
      const survivor = leader === a ? b : a;
      await killServe(leader);
      // The hook's sleep outlives its parent; it is not what the test is about.
      try {
        process.kill(hookPid, 'SIGKILL');
      } catch {
        // already gone
      }

      await waitFor(
        'the interrupted rotation to finish',
        async () =>
          (
            await db.query<{ state: string }>('SELECT state FROM rotations WHERE id = $1', [
              rotationId,
            ])
          )[0]?.state === 'succeeded',
        180_000,
      );
      // Let the survivor tick a few more times: nothing must rotate again.
      const lease2 = (await lease(db))!;
      expect(lease2.pid).toBe(survivor.child.pid);
      await new Promise((r) => setTimeout(r, 6_000));

      const rotations = await db.query<{ id: string; state: string; method: string }>(
        "SELECT id, state, method FROM rotations WHERE secret = 'SESSION_SECRET' ORDER BY started_at",
      );
      // The one from setup and the interrupted one; no second scheduled rotation.
      expect(rotations.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
      expect(rotations.filter((r) => r.method === 'scheduled').map((r) => r.id)).toEqual([
        rotationId,
      ]);
      const versions = await db.query<{ stage: string }>(
        "SELECT stage FROM versions WHERE secret = 'SESSION_SECRET' AND environment = 'staging' ORDER BY created_at",
      );
      expect(versions).toHaveLength(2);
      expect(versions[1]!.stage).toBe('current');
      const verify = await project.cli(['audit', 'verify']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(survivor.stderr()).toContain('this instance is now the leader');
      await survivor.stop();
    } finally {
      await drop();
    }
  }, 360_000);

  test('two resumers racing over one rotation interrupted on another host finish it once', async () => {
    const { project, db, drop } = await scratchProject('race', { hook: true, ageDays: 1 });
    try {
      writeFileSync(join(project.dir, 'armed'), '');
      // `rotor rotate` from "another machine", killed while its deploy hook runs.
      const [command, ...argv] = rotorCommand(project.dir, ['rotate', 'SESSION_SECRET'], {
        hostname: 'rotor-host-gone',
      });
      const cli = spawn(command, argv, { cwd: ROOT, env: { ...project.env }, stdio: 'ignore' });
      const started = join(project.dir, 'hook-started');
      await waitFor('the deploy hook to start', () => existsSync(started));
      cli.kill('SIGKILL');
      await once(cli, 'exit');
      try {
        process.kill(Number(readFileSync(started, 'utf8').trim()), 'SIGKILL');
      } catch {
        // already gone
      }
      const [lock] = await db.query<{ host: string }>('SELECT host FROM locks');
      expect(lock?.host).toBe('rotor-host-gone');
      // Its holder can no longer renew the heartbeat: wait for it to run out.
      await waitFor(
        'the heartbeat of the dead holder to run out',
        async () => {
          const [beat] = await db.query<{ expires_at: string }>(
            "SELECT expires_at FROM scheduler_leases WHERE name = 'lock:rotation:SESSION_SECRET:staging'",
          );
          return !beat || Number(beat.expires_at) <= (await db.now());
        },
        LOCK_HEARTBEAT_TTL_MS + 60_000,
      );

      const one = project.rotor();
      const two = project.rotor();
      try {
        const actor = { operator: 'tester', requestId: 'race', method: 'manual' as const };
        const outcomes = (
          await Promise.all(
            [one, two].map((rotor) => createRotationEngine({ rotor }).resume(actor)),
          )
        ).flat();
        const finished = outcomes.filter((o) => o.action === 'completed');
        expect(finished, JSON.stringify(outcomes)).toHaveLength(1);
        expect(outcomes.filter((o) => o.action !== 'completed').map((o) => o.action)).toEqual(
          outcomes.length === 2 ? ['skipped'] : [],
        );
      } finally {
        await one.close();
        await two.close();
      }
      const rotations = await db.query<{ state: string }>(
        "SELECT state FROM rotations WHERE secret = 'SESSION_SECRET' ORDER BY started_at",
      );
      expect(rotations.map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
      const current = await db.query<{ id: string }>(
        "SELECT id FROM versions WHERE secret = 'SESSION_SECRET' AND stage = 'current'",
      );
      expect(current).toHaveLength(1);
      expect(await db.query('SELECT name FROM locks')).toEqual([]);
      const verify = await project.cli(['audit', 'verify']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } finally {
      await drop();
    }
  }, 240_000);
});

/** A Rotor whose store's write transactions (lease renewals among them) start `ms` late. */
function slowWrites(rotor: Rotor, ms: number): Rotor {
  let slow: Store | undefined;
  return new Proxy(rotor, {
    get(target, prop) {
      if (prop !== 'store') {
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async () => {
        const store = await target.store();
        slow ??= {
          ...store,
          async writeTransaction(fn) {
            await new Promise((r) => setTimeout(r, ms));
            return store.writeTransaction(fn);
          },
        };
        return slow;
      };
    },
  });
}

describe('a scheduler whose lease renewal comes back too late', () => {
  test('stops before any phase: it cannot be sure the lease is still its own', async () => {
    const project = await createProject({ policy: policy(false) });
    expect((await project.cli(['apply'])).code).toBe(0);
    expect((await project.cli(['rotate', 'SESSION_SECRET'])).code).toBe(0);
    project.clock.advance(400 * DAY); // overdue
    const rotor = project.rotor();
    try {
      const engine = createRotationEngine({ rotor });
      // Each renewal takes 50 ms to commit, longer than a 20 ms lease: never surely held.
      const late = createScheduler({ rotor: slowWrites(rotor, 50), engine, leaseMs: 20 });
      const report = await late.tick();
      expect(report.rotations).toEqual([]);
      expect(report.errors).toEqual([
        {
          phase: 'resume',
          code: 'ERR_ROTOR_LOCK_HELD',
          message: 'leadership was lost (or the scheduler is stopping) during the tick',
        },
      ]);
      const store = await rotor.store();
      expect(await store.db.selectFrom('rotations').select('method').execute()).toEqual([
        { method: 'manual' },
      ]);
      await late.stop();
      // The same slow store with a lease that outlasts a renewal: it rotates.
      const onTime = createScheduler({ rotor: slowWrites(rotor, 50), engine, leaseMs: 60_000 });
      const done = await onTime.tick();
      expect(done.errors).toEqual([]);
      expect(done.rotations).toMatchObject([{ secret: 'SESSION_SECRET', outcome: 'rotated' }]);
      await onTime.stop();
    } finally {
      await rotor.close();
    }
  });
});

describe.skipIf(!postgres.available)('the lease on PostgreSQL keeps time by the database', () => {
  test('an instance whose clock runs a year ahead cannot take a lease that has not run out', async () => {
    const { project, drop } = await scratchProject('clock', { hook: false, ageDays: 1 });
    const behind = project.rotor(undefined, createManualClock(Date.now() - 365 * DAY));
    const ahead = project.rotor(undefined, createManualClock(Date.now() + 365 * DAY));
    try {
      const a = createLeaderLease(await behind.store(), behind.clock);
      const b = createLeaderLease(await ahead.store(), ahead.clock);
      expect(await a.acquire(60_000)).toBe(true);
      // By its own clock the lease ended a year ago; by the database's it has a minute to go.
      expect(await b.acquire(60_000)).toBe(false);
      const held = (await b.holder())!;
      expect(Math.abs(held.expiresAt - 60_000 - Date.now())).toBeLessThan(60_000);
      await a.release();
      expect(await b.acquire(60_000)).toBe(true);
    } finally {
      await behind.close();
      await ahead.close();
      await drop();
    }
  });
});
