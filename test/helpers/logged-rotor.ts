// A Rotor for a test project whose debug log is kept in memory, for tests that prove no secret
// value reaches the log.
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRotor, type Rotor } from '../../src/core/context.js';
import { ROTATORS } from '../../src/rotators/registry.js';
import type { TestProject } from './project.js';

/** A Rotor on `p` (its directory, environment and clock) logging at debug level into `logs`. */
export function loggedRotor(p: TestProject): { rotor: Rotor; logs: string[] } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const rotor = createRotor({
    cwd: p.dir,
    env: p.env,
    rotators: ROTATORS,
    clock: p.clock,
    logger: pino({ level: 'debug' }, sink),
  });
  return { rotor, logs };
}
