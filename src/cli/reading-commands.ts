// The reading commands (status, check, get, run) with everything they need at start-up, as one
// bundle of its own: scripts/build.mjs builds it apart from the whole CLI's chunks, so one of
// these commands loads a handful of files. main.ts hands it argv when argv names one of them.
import * as commandContext from './command-context.js';
import { commandWord, type ReadingCommand } from './command-word.js';
import { runCommandTree, type CliRuntime, type CommandSource } from './command-tree.js';
import type { Register } from './commands/index.js';
import { registerCheck } from './commands/check.js';
import { registerGet } from './commands/get.js';
import { registerRun } from './commands/run.js';
import { registerStatus } from './commands/status.js';

export { processIo } from './io.js';
export { exitCodeOf, reportError } from './report-error.js';

const REGISTERS: Record<ReadingCommand, Register> = {
  status: registerStatus,
  check: registerCheck,
  get: registerGet,
  run: registerRun,
};

const READING: CommandSource = {
  registers: async (argv) => {
    const register = REGISTERS[commandWord(argv) as ReadingCommand];
    return register ? [register] : [];
  },
  listed: [],
  context: async () => commandContext,
};

/** Runs argv that names a reading command (commandWord) as runCli would. */
export function run(argv: string[], runtime: CliRuntime): Promise<number> {
  return runCommandTree(argv, runtime, READING);
}
