// A process of its own that reserves sign-in attempts on a project's store, for tests of the
// limit across processes: it opens the store, prints `ready`, waits for `go` on stdin, makes
// ROTOR_TEST_RESERVATIONS reservations at once for one account and prints how many passed.
//   ROTOR_TEST_PROJECT=<dir> node --import tsx test/helpers/sign-in-reserver.ts   (env: its store)
import { createInterface } from 'node:readline';
import { createRotor } from '../../src/core/context.js';
import { systemClock } from '../../src/core/clock.js';
import { createLoginLimiter } from '../../src/server/dashboard/login-limiter.js';

const count = Number(process.env.ROTOR_TEST_RESERVATIONS ?? '25');
const rotor = createRotor({ cwd: process.env.ROTOR_TEST_PROJECT!, env: process.env, rotators: [] });
const store = () => rotor.store();
await store();
const limiter = createLoginLimiter(
  { store, clock: systemClock },
  { maxFailures: 5, windowMs: 15 * 60_000 },
);
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
process.stdin.destroy();
const results = await Promise.all(
  Array.from({ length: count }, () => limiter.reserve(['ip:203.0.113.9', 'name:alice'])),
);
process.stdout.write(`${JSON.stringify({ passed: results.filter((r) => r.ok).length })}\n`);
await rotor.close();
