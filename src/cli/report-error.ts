// How the CLI reports a failure: one line on stderr (or one JSON object with --json) naming
// the error code, and the exit code it ends with. Messages never carry values.
import { toRotorError } from '../core/errors.js';
import { colors, type CliIo } from './io.js';

/** A failure that is not a RotorError is a bug: sysexits' EX_SOFTWARE, apart from 1 and 2. */
export const EXIT_INTERNAL = 70;

/** The exit code of a failed command: the command's own (`check`: 3), else 70 for a bug, else 1. */
export function exitCodeOf(error: unknown, commandCode?: number): number {
  if (commandCode !== undefined) return commandCode;
  return toRotorError(error).code === 'ERR_ROTOR_INTERNAL' ? EXIT_INTERNAL : 1;
}

/** Reports an error once, without values: `rotor: ERR_CODE: message`. */
export function reportError(io: CliIo, error: unknown, json: boolean): void {
  const debug = Boolean(io.env.ROTOR_DEBUG);
  const rotorError = toRotorError(error, {
    where: debug ? 'the stack below' : 'ROTOR_DEBUG=1 prints its stack',
  });
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ error: { code: rotorError.code, message: rotorError.message, details: rotorError.details ?? {} } }, null, 2)}\n`,
    );
    return;
  }
  const c = colors({ ...io, stdout: io.stderr });
  io.stderr.write(`${c.red('rotor:')} ${c.bold(rotorError.code)}: ${rotorError.message}\n`);
  if (rotorError !== error && error instanceof Error && debug) io.stderr.write(`${error.stack}\n`);
}
