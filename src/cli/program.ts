// Builds the `rotor` command tree. `runCli` is the whole CLI as a function of argv and streams,
// so tests run commands in-process; only main.ts touches process.exit.
import { Command, CommanderError, Option } from 'commander';
import { RotorError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { createCommandContext, type CommandContext, type GlobalOptions } from './command-context.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';

export { reportError };
import { COMMANDS } from './commands/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandAction<O = any> = (ctx: CommandContext, options: O, ...args: any[]) => Promise<number | void>;

export interface ActionSettings {
  /** Exit code when the command fails with an error (monitoring commands use 3). */
  errorExitCode?: number;
}

export type Wrap = <O>(action: CommandAction<O>, settings?: ActionSettings) => (...args: unknown[]) => Promise<void>;

export interface CliRuntime {
  io: CliIo;
  clock?: Clock;
}

/** Commander echoes unknown options verbatim; strip anything after `=` so no value is echoed. */
function redactArgvEcho(text: string): string {
  return text.replace(/'(--?[A-Za-z0-9-]+)=[^']*'/g, "'$1=…'");
}

export function buildProgram(runtime: CliRuntime, state: { exitCode: number }): Command {
  const { io } = runtime;
  const program = new Command('rotor');
  program
    .description('Rotor: the secrets inventory, rotation, audit and reminders for Node.js apps')
    .version('0.1.0')
    .option('-c, --config <file>', 'policy file (default rotor.yaml, or ROTOR_CONFIG)')
    .option('--state-dir <dir>', 'state directory (default .rotor, or ROTOR_STATE_DIR)')
    .option('--operator <name>', 'who is acting (default ROTOR_OPERATOR, else the OS user)')
    .addOption(new Option('--value <value>').hideHelp())
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(redactArgvEcho(s)),
      outputError: (s, write) => write(redactArgvEcho(s)),
    });

  const wrap: Wrap = (action, settings = {}) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const options = command.optsWithGlobals<GlobalOptions & { value?: string }>();
      const positional = args.slice(0, -2);
      const json = Boolean(options.json);
      if (options.value !== undefined) {
        reportError(io, new RotorError('ERR_ROTOR_VALUE_ON_ARGV', 'secret values are never taken from the command line (they would leak into shell history and ps): pipe the value on stdin or use --from-file'), json);
        state.exitCode = settings.errorExitCode ?? 1;
        return;
      }
      const ctx = createCommandContext(io, options, runtime.clock ? { clock: runtime.clock } : {});
      try {
        const code = await action(ctx, options as never, ...positional);
        state.exitCode = typeof code === 'number' ? code : 0;
      } catch (error) {
        reportError(io, error, json);
        state.exitCode = settings.errorExitCode ?? 1;
      } finally {
        await ctx.rotor.close();
      }
    };

  for (const register of COMMANDS) register(program, wrap);
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function runCli(argv: string[], runtime: CliRuntime): Promise<number> {
  const state = { exitCode: 0 };
  const program = buildProgram(runtime, state);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      // For monitoring, a misconfigured check is UNKNOWN (3), not CRITICAL (2).
      return argv[0] === 'check' ? 3 : 2;
    }
    reportError(runtime.io, error, false);
    return 1;
  }
  return state.exitCode;
}
