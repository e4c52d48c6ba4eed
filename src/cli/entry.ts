// What both executables do around a command: dist/cli/rotor.cjs (bin.ts, what npm links as
// `rotor`) and dist/cli/main.js (main.ts, the whole CLI as an ES module).
import type { CliIo } from './io.js';
import type { CliRuntime } from './command-tree.js';
import { prebuiltHelp } from './prebuilt-help.js';
import { VERSION } from './version.js';

/** A command tree with the process-facing parts an executable needs. */
export interface CommandRunner {
  run(argv: string[], runtime: CliRuntime): Promise<number>;
  processIo(): CliIo;
  exitCodeOf(error: unknown): number;
  reportError(io: CliIo, error: unknown, json: boolean): void;
}

/** Set on `process` once the handlers are on (bin.ts and then main.ts both ask for them). */
const EPIPE_GUARDED = Symbol.for('rotor.epipeGuarded');

/** A reader that stops early (`rotor audit export | head`) is not an error worth a stack trace. */
export function exitQuietlyOnEpipe(): void {
  const marked = process as unknown as Record<symbol, boolean>;
  if (marked[EPIPE_GUARDED]) return;
  marked[EPIPE_GUARDED] = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
}

/**
 * Answers `--version` and the prebuilt `--help` before any command loads (scripts and shell
 * prompts call these often); true when it did.
 */
export function answerWithoutCommands(argv: readonly string[]): boolean {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return true;
  }
  const help = prebuiltHelp(argv, process.stdout);
  if (help === undefined) return false;
  process.stdout.write(help);
  return true;
}

/** Runs argv and sets the exit code; a failure nothing reported (a bug) is ERR_ROTOR_INTERNAL, 70. */
export async function runCommand(argv: string[], runner: CommandRunner): Promise<void> {
  const io = runner.processIo();
  const fail = (error: unknown) => {
    runner.reportError(io, error, false);
    return runner.exitCodeOf(error);
  };
  process.on('uncaughtException', (error) => process.exit(fail(error)));
  process.exitCode = await runner.run(argv, { io }).catch(fail);
}
