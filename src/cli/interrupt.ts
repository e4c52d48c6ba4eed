// Ctrl-C (SIGINT) or SIGTERM while a command changes things (a rotation and its deploy hooks):
// stop the hooks' process groups, which a terminal's Ctrl-C does not reach, and say what state
// was left and how to go on, then exit 128+n. The journal is left as it was: every point of a
// rotation is resumable (`rotor resume` finishes it after verify, rolls it back before).
import { constants as osConstants } from 'node:os';
import { stopHookProcesses } from '../core/rotation/stages/hook-processes.js';
import type { CliIo } from './io.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Installs the handlers until the returned function is called. `describe` says, at the moment of
 * the signal, what the operator should know (lines for stderr). Only for a real process: a CLI
 * run in-process (tests) has no `io.exit` and keeps its host's signal handling.
 */
export function onInterrupt(io: CliIo, describe: () => string[]): () => void {
  const exit = io.exit;
  if (!exit) return () => undefined;
  let handling = false;
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      if (handling) return;
      handling = true;
      io.stderr.write(`\nrotor: interrupted (${signal}): stopping deploy hooks…\n`);
      void stopHookProcesses().then((stopped) => {
        if (stopped > 0) io.stderr.write(`rotor: stopped ${stopped} hook process group(s)\n`);
        for (const line of describe()) io.stderr.write(`rotor: ${line}\n`);
        exit(128 + (osConstants.signals[signal] ?? 2));
      });
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => {
    for (const remove of handlers) remove();
  };
}
