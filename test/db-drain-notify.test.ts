// Issue 9: a retire held up by an idle session is not only a status row: the scheduler's reminder
// channels (here a signed webhook) carry it, WARNING when the retire is postponed, CRITICAL after
// drain.within, naming the session, once each; never a secret value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduler } from '../src/core/scheduler/scheduler.js';
import { openFixture, postgresEngine as engine } from './helpers/db-engines.js';
import { DAY } from './helpers/project.js';
import { rotorWithLogs, startReceiver } from './scheduler-helpers.js';

const available = await engine.start();
afterAll(() => engine.stop());
const HOOK_KEY = 'hook-signing-key-db-drain-0123';

describe.skipIf(!available)(
  'drain notifications (scheduler, private PostgreSQL cluster)',
  { timeout: 90_000 },
  () => {
    it('a postponed retire is sent as WARNING naming the session, then CRITICAL after drain.within, once each', async () => {
      const receiver = await startReceiver(HOOK_KEY);
      const f = await openFixture(engine);
      try {
        const file = join(f.p.dir, 'rotor.yaml');
        const policy = readFileSync(file, 'utf8').replace(
          /^secrets:/m,
          `notify:\n  webhook:\n    - url: ${receiver.url}\n      key: { env: HOOK_KEY }\nsecrets:`,
        );
        f.p.writePolicy(policy);
        f.p.env.HOOK_KEY = HOOK_KEY;
        expect((await f.p.cli(['apply'])).code).toBe(0);
        const first = (await f.rotate(), await f.current())!;
        expect((await f.rotate()).ok).toBe(true);
        const idle = await engine.openSession(first);
        const { rotor } = rotorWithLogs(f.p);
        try {
          const scheduler = createScheduler({ rotor });
          f.p.clock.advance(DAY + 1);
          const t1 = await scheduler.tick();
          expect(t1.retired.map((r) => r.postponed)).toEqual([true]);
          await scheduler.tick();
          const warnings = receiver.hooks.filter((h) => h.body.includes('retire postponed'));
          expect(warnings).toHaveLength(1);
          expect(warnings[0]!.signatureValid).toBe(true);
          expect(warnings[0]!.body).toContain(
            'Rotor WARNING: DATABASE_URL (production) retire postponed',
          );
          expect(warnings[0]!.body).toMatch(/application \\"shop\\" from 127\.0\.0\.1/);
          f.p.clock.advance(DAY);
          await scheduler.tick();
          await scheduler.tick();
          const critical = receiver.hooks.filter((h) => h.body.includes('sessions held'));
          expect(critical).toHaveLength(1);
          expect(critical[0]!.body).toContain(
            'Rotor CRITICAL: DATABASE_URL (production) sessions held',
          );
          const values = [first, (await f.current())!].map((u) =>
            decodeURIComponent(new URL(u).password),
          );
          for (const h of receiver.hooks) for (const v of values) expect(h.body).not.toContain(v);
          await idle.query(); // nothing was cut (drain.then: wait)
        } finally {
          await idle.close();
          await rotor.close();
        }
      } finally {
        await f.cleanup();
        await receiver.close();
      }
    });
  },
);
