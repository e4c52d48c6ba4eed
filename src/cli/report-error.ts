// How the CLI reports a failure: one line on stderr (or one JSON object with --json) naming
// the error code. Messages never carry values.
import { isRotorError, RotorError } from '../core/errors.js';
import { colors, type CliIo } from './io.js';

/** Reports an error once, without values: `rotor: ERR_CODE: message`. */
export function reportError(io: CliIo, error: unknown, json: boolean): void {
  const rotorError = isRotorError(error)
    ? error
    : new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        `unexpected failure: ${error instanceof Error ? error.message : String(error)}`,
      );
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ error: { code: rotorError.code, message: rotorError.message, details: rotorError.details ?? {} } }, null, 2)}\n`,
    );
    return;
  }
  const c = colors({ ...io, stdout: io.stderr });
  io.stderr.write(`${c.red('rotor:')} ${c.bold(rotorError.code)}: ${rotorError.message}\n`);
  if (!isRotorError(error) && error instanceof Error && io.env.ROTOR_DEBUG)
    io.stderr.write(`${error.stack}\n`);
}
