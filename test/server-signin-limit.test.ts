// The dashboard's sign-in limit holds under concurrency, attacked from outside the process: the
// server (buildApp, dashboard included) listens on loopback and 40 wrong sign-ins for one account
// arrive at once over HTTP. Each attempt is counted before its password is checked, so at most the
// limit (5) ever reach argon2; every other answer is a quick 429 (limit) or 503 (too many checks
// at once), and nothing is signed in. Checks that reached argon2 are counted from the audit log
// (each writes one operator.login row), i.e. from what the server actually did.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createOperator } from '../src/core/operators/create-operator.js';
import { createDashboardPlugin } from '../src/server/dashboard/dashboard-plugin.js';
import {
  createCheckGate,
  createLoginLimiter,
  signInConcurrency,
} from '../src/server/dashboard/login-limiter.js';
import { buildApp } from '../src/server/app.js';
import { createManualClock } from '../src/core/clock.js';
import { loginForm, PASSWORD, SETUP, signIn } from './helpers/dashboard-sign-in.js';
import { createProject } from './helpers/project.js';
import type { FastifyInstance } from 'fastify';
import type { Rotor } from '../src/core/context.js';

let app: FastifyInstance | undefined;
let rotor: Rotor | undefined;
afterEach(async () => {
  await app?.close();
  await rotor?.close();
  app = undefined;
  rotor = undefined;
});

async function listen(
  options: Parameters<typeof createDashboardPlugin>[0] = {},
): Promise<{ base: string; rotor: Rotor }> {
  const project = await createProject();
  rotor = project.rotor();
  await createOperator(rotor, SETUP, { name: 'alice', password: PASSWORD });
  app = await buildApp({
    rotor,
    requestLogging: false,
    rateLimit: false,
    plugins: [createDashboardPlugin(options)],
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, rotor };
}

async function loginRows(r: Rotor): Promise<{ operator: string; outcome: string }[]> {
  const store = await r.store();
  const rows = await store.db
    .selectFrom('audit_events')
    .select('entry')
    .where('action', '=', 'operator.login')
    .execute();
  return rows.map((row) => JSON.parse(row.entry) as { operator: string; outcome: string });
}

describe('sign-in limit under 40 parallel wrong sign-ins over loopback HTTP', () => {
  test('at most 5 reach argon2; the rest are refused with 429 or 503; none signs in', async () => {
    const { base, rotor: r } = await listen({ signInConcurrency: 8 });
    const form = await loginForm(base);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => signIn(base, form, 'alice', `wrong password ${i}`)),
    );
    const statuses = answers.map((a) => a.status);
    for (const a of answers) await a.body?.cancel();
    const checked = (await loginRows(r)).filter((row) => row.operator === 'alice');
    expect(checked.length).toBeLessThanOrEqual(5);
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.every((row) => row.outcome === 'failure')).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBe(checked.length);
    expect(statuses.filter((s) => s === 429 || s === 503).length).toBe(40 - checked.length);
    expect(answers.some((a) => a.headers.get('set-cookie')?.includes('rotor_session='))).toBe(
      false,
    );
    // The account stays locked for the window: the right password is refused too, unchecked.
    const right = await signIn(base, form, 'alice', PASSWORD);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await loginRows(r)).filter((row) => row.operator === 'alice').length).toBe(
      checked.length,
    );
  }, 120_000);

  test('one address spraying many names is limited per address too', async () => {
    const { base, rotor: r } = await listen({ signInConcurrency: 8 });
    const form = await loginForm(base);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => signIn(base, form, `user${i}`, 'wrong password')),
    );
    for (const a of answers) await a.body?.cancel();
    expect((await loginRows(r)).length).toBeLessThanOrEqual(5);
    expect(
      answers.filter((a) => a.status === 429 || a.status === 503).length,
    ).toBeGreaterThanOrEqual(35);
  }, 120_000);

  test('concurrent password checks are capped: beyond the cap the answer is an immediate 503', async () => {
    // A limit high enough not to interfere: only the check cap (1) refuses here.
    const { base, rotor: r } = await listen({
      signInConcurrency: 1,
      loginLimit: { maxFailures: 1_000, windowMs: 60_000 },
    });
    const form = await loginForm(base);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signIn(base, form, `name${i}`, 'wrong password')),
    );
    for (const a of answers) await a.body?.cancel();
    const busy = answers.filter((a) => a.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((a) => a.headers.get('retry-after') === '1')).toBe(true);
    // Every answer is either a check (401, audited) or a refusal (503, not audited).
    expect((await loginRows(r)).length).toBe(answers.filter((a) => a.status === 401).length);
  }, 120_000);
});

describe('login limiter reservations', () => {
  test('reserve counts an attempt before it is checked; settling frees or records it', async () => {
    const project = await createProject();
    rotor = project.rotor();
    const clock = createManualClock(0);
    const store = rotor.store.bind(rotor);
    const limiter = createLoginLimiter({ store, clock }, { maxFailures: 2, windowMs: 60_000 });
    const a = await limiter.reserve(['name:x']);
    const b = await limiter.reserve(['name:x']);
    expect(a.ok && b.ok).toBe(true);
    const c = await limiter.reserve(['name:x']);
    expect(c).toEqual({ ok: false, retryAfterMs: 1_000 });
    if (a.ok) await a.reservation.settle('not-checked');
    const d = await limiter.reserve(['name:x']);
    expect(d.ok).toBe(true);
    if (b.ok) await b.reservation.settle('failure');
    if (d.ok) await d.reservation.settle('failure');
    if (d.ok) await d.reservation.settle('success'); // a second settle is ignored
    const e = await limiter.reserve(['name:x']);
    expect(e).toEqual({ ok: false, retryAfterMs: 60_000 });
    clock.advance(60_001);
    expect((await limiter.reserve(['name:x'])).ok).toBe(true);
  });

  test('the cap on checks comes from the option, else ROTOR_SIGNIN_CONCURRENCY, else 2', () => {
    expect(signInConcurrency(undefined, {})).toBe(2);
    expect(signInConcurrency(undefined, { ROTOR_SIGNIN_CONCURRENCY: '4' })).toBe(4);
    expect(signInConcurrency(1, { ROTOR_SIGNIN_CONCURRENCY: '4' })).toBe(1);
    for (const bad of ['0', '-2', '1.5', 'many'])
      expect(() => signInConcurrency(undefined, { ROTOR_SIGNIN_CONCURRENCY: bad })).toThrow(
        /ROTOR_SIGNIN_CONCURRENCY/,
      );
  });

  test('the check gate admits at most its size and frees a slot once per release', () => {
    const gate = createCheckGate(2);
    const one = gate.tryEnter()!;
    const two = gate.tryEnter()!;
    expect(gate.tryEnter()).toBeUndefined();
    one();
    one();
    expect(gate.running()).toBe(1);
    expect(gate.tryEnter()).toBeDefined();
    two();
  });
});
