// SIGTERM of a `rotor serve` that leads the scheduler on a PostgreSQL store, in the middle of a
// scheduled rotation: its event streams end (clients see the close, not a hang), its lease is
// released at once so another instance leads, the rotation finishes before it exits 0, and it says
// so. A second SIGTERM stops it at once, and the rotation it leaves is finished by the other
// instance from the journal.
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createProject, DAY, type TestProject } from './helpers/project.js';
import {
  adminAndAppTokens,
  events,
  killServe,
  startServe,
  waitFor,
  type ServeProcess,
} from './helpers/serve-process.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase } from './helpers/store-backends.js';

const postgres = await requireService('postgres');

/**
 * Once `armed` exists, the first deploy hook (its pid in `hook-started`) waits until the test
 * creates `release`, or `seconds` at most: the rotation stays in progress exactly as long as the
 * test needs, on a quiet machine or a busy one.
 */
const policy = (seconds: number) => `version: 1
environments: [staging]
secrets:
  SESSION_SECRET:
    kind: random
    cadence: 365d
    config: { bytes: 32, encoding: base64url }
    deploy:
      - command: ["sh", "-c", "if [ -e armed ] && [ ! -e hook-started ]; then echo $$ > hook-started; n=0; while [ ! -e release ] && [ $n -lt ${seconds * 10} ]; do sleep 0.1; n=$((n+1)); done; fi"]
        timeout: 15m
`;

interface Setup {
  project: TestProject;
  query<T>(text: string, values?: unknown[]): Promise<T[]>;
  a: ServeProcess;
  b: ServeProcess;
  app: string;
  /** The instance running the rotation (the leader), once its deploy hook sleeps. */
  rotating(): Promise<{ leader: ServeProcess; other: ServeProcess; rotationId: string }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
}, 60_000);

/** Two instances over a new scratch store whose SESSION_SECRET is overdue (rotated 400 days ago). */
async function setUp(tag: string, hookSeconds: number): Promise<Setup> {
  const scratch = await createScratchDatabase(tag);
  cleanups.push(() => scratch.drop());
  const project = await createProject({
    policy: policy(hookSeconds),
    start: Date.now() - 400 * DAY,
    env: { ROTOR_STORE_URL: scratch.url },
  });
  expect((await project.cli(['apply'])).code).toBe(0);
  expect((await project.cli(['rotate', 'SESSION_SECRET'])).code).toBe(0);
  project.clock.set(Date.now());
  const { app } = await adminAndAppTokens(project);
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: scratch.url });
  client.on('error', () => undefined);
  await client.connect();
  cleanups.push(() => client.end());
  const query = async <T>(text: string, values: unknown[] = []) =>
    (await client.query(text, values)).rows as T[];
  writeFileSync(join(project.dir, 'armed'), '');
  const [a, b] = await Promise.all(
    [0, 1].map(() => startServe(project.dir, ['--scheduler-interval', '2s'], { ...project.env })),
  );
  for (const s of [a!, b!]) {
    cleanups.push(() => killServe(s));
  }
  const started = join(project.dir, 'hook-started');
  cleanups.push(async () => {
    if (!existsSync(started)) return;
    try {
      process.kill(Number(readFileSync(started, 'utf8').trim()), 'SIGKILL');
    } catch {
      // finished already
    }
  });
  return {
    project,
    query,
    a: a!,
    b: b!,
    app,
    async rotating() {
      await waitFor('the deploy hook to start', () => existsSync(started));
      const [lock] = await query<{ pid: number }>(
        "SELECT pid FROM locks WHERE name = 'rotation:SESSION_SECRET:staging'",
      );
      const [running] = await query<{ id: string }>(
        "SELECT id FROM rotations WHERE state = 'running' AND method = 'scheduled'",
      );
      const leader = lock!.pid === a!.child.pid ? a! : b!;
      return { leader, other: leader === a ? b! : a!, rotationId: running!.id };
    },
  };
}

const leaseHolder = async (s: Setup) =>
  (await s.query<{ pid: number }>("SELECT pid FROM scheduler_leases WHERE name = 'scheduler'"))[0]
    ?.pid;

describe.skipIf(!postgres.available)('rotor serve on SIGTERM', () => {
  test('ends event streams, hands the lease over at once, finishes the rotation in progress and exits 0', async () => {
    const s = await setUp('drain', 600);
    const { leader, other, rotationId } = await s.rotating();
    expect(await leaseHolder(s)).toBe(leader.child.pid);
    const stream = await events(leader.base, s.app);
    await waitFor('the stream to open', () => stream.text().length > 0);

    const exited = once(leader.child, 'exit');
    leader.child.kill('SIGTERM');
    // The client sees its stream end while the rotation still runs: it does not hang until exit.
    await stream.ended;
    expect(leader.child.exitCode).toBeNull();
    await waitFor('the shutdown line', () =>
      leader
        .stderr()
        .includes('waiting for the rotation in progress to finish (SESSION_SECRET/staging)'),
    );
    // The lease is released before the rotation ends: the other instance leads.
    await waitFor(
      'the other instance to lead',
      async () => (await leaseHolder(s)) === other.child.pid,
    );
    expect(leader.child.exitCode).toBeNull(); // still finishing the rotation
    writeFileSync(join(s.project.dir, 'release'), '');
    const [code] = (await exited) as [number | null];
    expect(code, leader.stderr()).toBe(0);
    expect(leader.stdout()).toContain('rotor serve: stopped');

    const rotations = await s.query<{ id: string; state: string }>(
      "SELECT id, state FROM rotations WHERE method = 'scheduled'",
    );
    expect(rotations).toEqual([{ id: rotationId, state: 'succeeded' }]);
    expect(await s.query('SELECT name FROM locks')).toEqual([]);
    const current = await s.query("SELECT id FROM versions WHERE stage = 'current'");
    expect(current).toHaveLength(1);
    const verify = await s.project.cli(['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(await other.stop()).toBe(0);
  }, 300_000);

  test('a second SIGTERM stops at once; the other instance finishes the rotation from the journal', async () => {
    const s = await setUp('drain2', 600);
    const { leader, other, rotationId } = await s.rotating();
    const exited = once(leader.child, 'exit');
    leader.child.kill('SIGTERM');
    await waitFor('the shutdown line', () =>
      leader.stderr().includes('a second SIGTERM stops at once'),
    );
    leader.child.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    // The hook it was running is orphaned; end it so that only the journal is left.
    process.kill(Number(readFileSync(join(s.project.dir, 'hook-started'), 'utf8').trim()));

    await waitFor(
      'the other instance to finish the rotation',
      async () =>
        (
          await s.query<{ state: string }>('SELECT state FROM rotations WHERE id = $1', [
            rotationId,
          ])
        )[0]?.state === 'succeeded',
      180_000,
    );
    const scheduled = await s.query("SELECT id FROM rotations WHERE method = 'scheduled'");
    expect(scheduled).toHaveLength(1);
    const current = await s.query("SELECT id FROM versions WHERE stage = 'current'");
    expect(current).toHaveLength(1);
    const verify = await s.project.cli(['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(await other.stop()).toBe(0);
  }, 300_000);
});
