// The dashboard's sign-in limit is one count per store, not per process: two limiters on one
// store (what two `rotor serve` instances see) share failures, reservations in flight and
// successes, on SQLite and on PostgreSQL; reservations made at once from two processes pass
// exactly the limit; and an attack through two real `rotor serve` processes on one PostgreSQL
// store reaches argon2 at most 5 times in total, a lock that outlives a restart of an instance.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createManualClock, systemClock } from '../src/core/clock.js';
import type { Rotor } from '../src/core/context.js';
import { createOperator } from '../src/core/operators/create-operator.js';
import { signInKeyHash } from '../src/core/operators/sign-in-failures.js';
import { createLoginLimiter, type LoginLimit } from '../src/server/dashboard/login-limiter.js';
import { loginForm, PASSWORD, SETUP, signIn } from './helpers/dashboard-sign-in.js';
import { createProject, type TestProject } from './helpers/project.js';
import { startServe, type ServeProcess } from './helpers/serve-process.js';
import { requireService } from './helpers/services.js';
import { createScratchDatabase, forEachBackend } from './helpers/store-backends.js';
import { entryArgs } from './helpers/spawned-entries.js';

const LIMIT: LoginLimit = { maxFailures: 5, windowMs: 15 * 60_000 };
const ALICE = ['ip:203.0.113.9', 'name:alice'];
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const rotors: Rotor[] = [];
afterEach(async () => {
  for (const r of rotors.splice(0)) await r.close();
});

forEachBackend((backend) => {
  async function setup() {
    const project = await createProject({ env: await backend.freshStore() });
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    // Each limiter opens the store on its own connection, as a process of its own would
    // (`shared`: on the first limiter's connection instead).
    const limiter = (shared = false) => {
      const rotor = shared && rotors[0] ? rotors[0] : project.rotor(undefined, clock);
      if (!rotors.includes(rotor)) rotors.push(rotor);
      return createLoginLimiter({ store: () => rotor.store(), clock }, LIMIT);
    };
    const rows = async () => {
      const store = await rotors[0]!.store();
      return store.db.selectFrom('sign_in_attempts').selectAll().execute();
    };
    return { project, clock, limiter, rows };
  }

  test('failures recorded through one instance lock the account on the other', async () => {
    const { clock, limiter } = await setup();
    const [a, b] = [limiter(), limiter()];
    for (const [i, instance] of [a, a, b, a, b].entries()) {
      const r = await instance.reserve([`ip:198.51.100.${i}`, 'name:alice']);
      expect(r.ok).toBe(true);
      if (r.ok) await r.reservation.settle('failure');
      clock.advance(1_000);
    }
    // Full for the name: refused on both, until the first failure leaves the window.
    for (const instance of [a, b])
      expect(await instance.reserve(['ip:198.51.100.99', 'name:alice'])).toEqual({
        ok: false,
        retryAfterMs: LIMIT.windowMs - 5_000,
      });
    // Another name from a fresh address is not affected.
    expect((await b.reserve(['ip:198.51.100.98', 'name:bob'])).ok).toBe(true);
    clock.advance(LIMIT.windowMs - 5_000);
    expect((await a.reserve(['ip:198.51.100.99', 'name:alice'])).ok).toBe(true);
  });

  test('a reservation in flight on one instance counts on the other until it settles', async () => {
    const { limiter } = await setup();
    const [a, b] = [limiter(), limiter()];
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await a.reserve(ALICE));
    expect(held.every((r) => r.ok)).toBe(true);
    expect(await b.reserve(ALICE)).toEqual({ ok: false, retryAfterMs: 1_000 });
    const first = held[0]!;
    if (first.ok) await first.reservation.settle('not-checked');
    expect((await b.reserve(ALICE)).ok).toBe(true);
  });

  test("a success on one instance clears the account's failures everywhere, not the address's", async () => {
    const { limiter } = await setup();
    const [a, b] = [limiter(), limiter()];
    for (let i = 0; i < 4; i++) {
      const r = await a.reserve(ALICE);
      if (r.ok) await r.reservation.settle('failure');
    }
    const right = await b.reserve(ALICE);
    expect(right.ok).toBe(true);
    if (right.ok) await right.reservation.settle('success');
    // The name has room again from another address; this address still holds its 4 failures.
    for (let i = 0; i < 5; i++) {
      const r = await a.reserve([`ip:192.0.2.${i}`, 'name:alice']);
      expect(r.ok).toBe(true);
      if (r.ok) await r.reservation.settle('not-checked');
    }
    const same = await b.reserve(['ip:203.0.113.9', 'name:carol']);
    expect(same.ok).toBe(true);
    if (same.ok) await same.reservation.settle('failure');
    expect((await a.reserve(['ip:203.0.113.9', 'name:dave'])).ok).toBe(false);
  });

  test('a restarted instance (new connection, empty memory) still refuses a locked account', async () => {
    const { limiter } = await setup();
    const a = limiter();
    for (let i = 0; i < 5; i++) {
      const r = await a.reserve(ALICE);
      if (r.ok) await r.reservation.settle('failure');
    }
    await rotors.shift()!.close();
    const restarted = limiter();
    const refused = await restarted.reserve(ALICE);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBe(LIMIT.windowMs);
  });

  test('a check left in flight by a dead process stops counting after 60 s; old rows are pruned', async () => {
    const { clock, limiter, rows } = await setup();
    const dead = limiter();
    for (let i = 0; i < 5; i++) expect((await dead.reserve(ALICE)).ok).toBe(true);
    const b = limiter();
    expect(await b.reserve(ALICE)).toEqual({ ok: false, retryAfterMs: 1_000 });
    expect((await rows()).length).toBe(10); // 5 reservations × 2 keys
    clock.advance(60_000);
    // b's next reservation first prunes (at most once a minute) the dead process's checks.
    const late = await b.reserve(ALICE);
    expect(late.ok).toBe(true);
    if (late.ok) await late.reservation.settle('failure');
    expect((await rows()).map((r) => r.state)).toEqual(['failed', 'failed']);
    // Past the window, the failures go at the next prune too.
    clock.advance(LIMIT.windowMs);
    const next = await b.reserve(['ip:192.0.2.1', 'name:bob']);
    expect(next.ok).toBe(true);
    expect((await rows()).map((r) => r.state)).toEqual(['checking', 'checking']);
  });

  test('the table holds hashes of the keys, never the name or the address', async () => {
    const { limiter, rows } = await setup();
    const r = await limiter().reserve(ALICE);
    if (r.ok) await r.reservation.settle('failure');
    const stored = await rows();
    expect(stored.map((row) => row.key_hash).sort()).toEqual(ALICE.map(signInKeyHash).sort());
    const text = JSON.stringify(stored);
    expect(text).not.toContain('alice');
    expect(text).not.toContain('203.0.113.9');
  });

  test('50 reservations at once through two limiters, limit 5: exactly 5 pass', async () => {
    const { limiter, rows } = await setup();
    // One connection: two SQLite connections in one process would wait on each other's lock
    // with the event loop blocked. Two processes are the next test.
    const [a, b] = [limiter(), limiter(true)];
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).reserve(ALICE)),
    );
    expect(results.filter((r) => r.ok).length).toBe(5);
    // The refused ones are refused by checks in flight: a retry in a second.
    expect(results.filter((r) => !r.ok)).toEqual(
      Array.from({ length: 45 }, () => ({ ok: false, retryAfterMs: 1_000 })),
    );
    expect((await rows()).length).toBe(10);
  }, 60_000);

  test('25 reservations at once from each of two processes, limit 5: exactly 5 pass', async () => {
    const { project } = await setup();
    const children = [0, 1].map(() =>
      spawn(process.execPath, entryArgs('sign-in-reserver'), {
        cwd: ROOT,
        env: { ...project.env, ROTOR_TEST_PROJECT: project.dir, ROTOR_TEST_RESERVATIONS: '25' },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const outputs = children.map((child) => {
      const out = { text: '', err: '' };
      child.stdout.on('data', (d: Buffer) => (out.text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out.err += d.toString()));
      return out;
    });
    const deadline = Date.now() + 60_000;
    while (!outputs.every((o) => o.text.includes('ready'))) {
      if (Date.now() > deadline || children.some((c) => c.exitCode !== null))
        throw new Error(`a reserver did not start: ${outputs.map((o) => o.err).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const child of children) child.stdin.end('go\n');
    const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
    expect(codes, outputs.map((o) => o.err).join('\n')).toEqual([0, 0]);
    const passed = outputs.map(
      (o) => (JSON.parse(o.text.split('\n')[1]!) as { passed: number }).passed,
    );
    expect(passed[0]! + passed[1]!).toBe(5);
  }, 120_000);
});

// --- An attack from outside: two real `rotor serve` processes on one PostgreSQL store. ---

const postgres = await requireService('postgres');

describe.skipIf(!postgres.available)('two rotor serve processes on one PostgreSQL store', () => {
  let project: TestProject;
  let rotor: Rotor;
  let drop: () => Promise<void> = async () => {};
  const instances: ServeProcess[] = [];
  const env = { ROTOR_SIGNIN_CONCURRENCY: '8' } as NodeJS.ProcessEnv;

  beforeAll(async () => {
    const db = await createScratchDatabase('signin');
    drop = () => db.drop();
    env.ROTOR_STORE_URL = db.url;
    project = await createProject({ start: Date.now(), env: { ROTOR_STORE_URL: db.url } });
    rotor = project.rotor(undefined, systemClock);
    await createOperator(rotor, SETUP, { name: 'alice', password: PASSWORD });
    instances.push(...(await Promise.all([0, 1].map(() => startServe(project.dir, [], env)))));
  }, 180_000);

  afterAll(async () => {
    for (const i of instances) await i.stop();
    await rotor?.close();
    await drop();
  }, 60_000);

  /** Password checks that reached argon2: one operator.login audit row each. */
  async function checked(): Promise<number> {
    const store = await rotor.store();
    const rows = await store.db
      .selectFrom('audit_events')
      .select('entry')
      .where('action', '=', 'operator.login')
      .execute();
    return rows.filter((r) => (JSON.parse(r.entry) as { operator: string }).operator === 'alice')
      .length;
  }

  test('wrong passwords fired at both at once reach argon2 at most 5 times in all', async () => {
    const forms = await Promise.all(instances.map((i) => loginForm(i.base)));
    let unauthorised = 0;
    // Rounds of 20 guesses per instance at once, until the account is full (one is usually enough).
    for (let round = 0; round < 10 && (await checked()) < 5; round++) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, n) =>
          signIn(instances[n % 2]!.base, forms[n % 2]!, 'alice', `wrong password ${round}.${n}`),
        ),
      );
      for (const a of answers) {
        await a.body?.cancel();
        expect([401, 429, 503]).toContain(a.status);
        if (a.status !== 401) expect(Number(a.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(a.headers.get('set-cookie') ?? '').not.toContain('rotor_session=');
      }
      unauthorised += answers.filter((a) => a.status === 401).length;
      expect(await checked()).toBeLessThanOrEqual(5);
    }
    expect(await checked()).toBe(5);
    expect(unauthorised).toBe(5);
    // Locked on both instances: the right password is refused too, and not checked.
    for (const [n, instance] of instances.entries()) {
      const right = await signIn(instance.base, forms[n]!, 'alice', PASSWORD);
      await right.body?.cancel();
      expect(right.status).toBe(429);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(60);
    }
    expect(await checked()).toBe(5);
  }, 180_000);

  test('after a restart of an instance the lock still holds', async () => {
    const old = instances.shift()!;
    expect(await old.stop()).toBe(0);
    const restarted = await startServe(project.dir, [], env);
    instances.push(restarted);
    const right = await signIn(restarted.base, await loginForm(restarted.base), 'alice', PASSWORD);
    await right.body?.cancel();
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(60);
    expect(await checked()).toBe(5);
  }, 180_000);
});
