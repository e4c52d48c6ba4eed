// The whole `rotor` CLI as a function of argv and streams, so tests run commands in-process;
// only main.ts touches process.exit. Each command's module loads when argv names it.
import { commandNamed, COMMANDS, type Register } from './commands/index.js';
import { runCommandTree, type CliRuntime, type CommandSource } from './command-tree.js';
import { reportError } from './report-error.js';

export type {
  ActionSettings,
  CliRuntime,
  CommandAction,
  CommandSource,
  CommandSummary,
  Wrap,
} from './command-tree.js';
export { buildProgram } from './command-tree.js';
export { reportError };

/** The registration of the command argv names, loaded on demand; none for help and typos. */
async function registersFor(argv: readonly string[]): Promise<Register[]> {
  const entry = commandNamed(argv);
  return entry ? [await entry.load()] : [];
}

const WHOLE_CLI: CommandSource = {
  registers: registersFor,
  listed: COMMANDS,
  context: () => import('./command-context.js'),
};

/** Runs the CLI and resolves to the process exit code. */
export function runCli(argv: string[], runtime: CliRuntime): Promise<number> {
  return runCommandTree(argv, runtime, WHOLE_CLI);
}
