// Builds the `rotor` command tree and runs argv through it, given where the command
// registrations and the command context come from: program.ts loads them on demand (the whole
// CLI), reading-commands.ts has the reading commands' at hand (their own bundle).
import { Command, CommanderError, Option } from 'commander';
import { RotorError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { CommandContext, GlobalOptions } from './command-context.js';
import type * as CommandContextModule from './command-context.js';
import type { CliIo } from './io.js';
import { applyEnvDefault, unknownGlobalOption } from './argv-checks.js';
import { COMMAND_EXAMPLES, examplesText, PROGRAM_EXAMPLES } from './help-examples.js';
import { isReadingCommand } from './command-word.js';
import { exitCodeOf, reportError } from './report-error.js';
import { VERSION } from './version.js';
import type { CommandEntry, Register } from './commands/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandAction<O = any> = (
  ctx: CommandContext,
  options: O,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ...args: any[]
) => Promise<number | void>;

export interface ActionSettings {
  /** Exit code when the command fails with an error (monitoring commands use 3). */
  errorExitCode?: number;
}

export type Wrap = <O>(
  action: CommandAction<O>,
  settings?: ActionSettings,
) => (...args: unknown[]) => Promise<void>;

export interface CliRuntime {
  io: CliIo;
  clock?: Clock;
}

/** A command as `rotor --help` lists it, without its module. */
export type CommandSummary = Omit<CommandEntry, 'load'>;

/** Where a command tree gets what it runs. */
export interface CommandSource {
  /** The registration of the command argv names, if any (none for help and typos). */
  registers(argv: readonly string[]): Promise<Register[]>;
  /** The commands listed when argv names none. */
  listed: readonly CommandSummary[];
  /** The module that builds a command's context (loaded once a command runs). */
  context(): Promise<typeof CommandContextModule>;
}

/** Commander echoes unknown options verbatim; strip anything after `=` so no value is echoed. */
function redactArgvEcho(text: string): string {
  return text.replace(/'(--?[A-Za-z0-9-]+)=[^']*'/g, "'$1=…'");
}

/**
 * Builds the command tree with the given commands registered. Without any (an argv that names no
 * command: `--help`, `--version`, a typo), each command is listed by name and summary only, so
 * help and suggestions work without loading a single command module.
 */
export function buildProgram(
  runtime: CliRuntime,
  state: { exitCode: number },
  registers: readonly Register[],
  source: Pick<CommandSource, 'listed' | 'context'>,
): Command {
  const { io } = runtime;
  const program = new Command('rotor');
  program
    .description('Rotor: the secrets inventory, rotation, audit and reminders for Node.js apps')
    .version(VERSION)
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

  const wrap: Wrap =
    (action, settings = {}) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const options = command.optsWithGlobals<GlobalOptions & { value?: string }>();
      const positional = args.slice(0, -2);
      const json = Boolean(options.json);
      if (options.value !== undefined) {
        reportError(
          io,
          new RotorError(
            'ERR_ROTOR_VALUE_ON_ARGV',
            'secret values are never taken from the command line (they would leak into shell history and ps): pipe the value on stdin or use --from-file',
          ),
          json,
        );
        state.exitCode = settings.errorExitCode ?? 1;
        return;
      }
      const { createCommandContext } = await source.context();
      // `init` sets up the directory it runs in, like `git init`; every other command finds the
      // project's rotor.yaml in the directories above.
      const discover = command.name() !== 'init';
      const ctx: CommandContext = createCommandContext(io, options, {
        ...(runtime.clock ? { clock: runtime.clock } : {}),
        discover,
        // The reading commands read a SQLite store without Kysely (core/store/sqlite-reads.ts).
        syncReads: isReadingCommand(command.name()),
      });
      try {
        const code = await action(ctx, options as never, ...positional);
        state.exitCode = typeof code === 'number' ? code : 0;
      } catch (error) {
        reportError(io, error, json);
        state.exitCode = exitCodeOf(error, settings.errorExitCode);
      } finally {
        await ctx.rotor.close();
      }
    };

  if (registers.length > 0) for (const register of registers) register(program, wrap);
  else for (const entry of source.listed) listCommand(program, entry);
  program.addHelpText('after', examplesText(PROGRAM_EXAMPLES));
  for (const command of program.commands) {
    const examples = COMMAND_EXAMPLES[command.name()];
    if (examples && registers.length > 0) command.addHelpText('after', examplesText(examples));
  }
  return program;
}

/** A stand-in that shows a command in the overview; it never runs (argv naming it loads the real one). */
function listCommand(program: Command, entry: CommandSummary): void {
  const command = program.command(entry.name).description(entry.summary);
  if (entry.args) command.arguments(entry.args);
  if (entry.options) command.addOption(new Option('--json').hideHelp());
}

/** Runs argv through the command tree `source` describes and resolves to the process exit code. */
export async function runCommandTree(
  argv: string[],
  runtime: CliRuntime,
  source: CommandSource,
): Promise<number> {
  const state = { exitCode: 0 };
  const unknown = unknownGlobalOption(argv);
  if (unknown !== undefined) {
    runtime.io.stderr.write(
      `error: unknown option '${unknown}' (rotor's own options are -c/--config, --state-dir, --operator, -h/--help, -V/--version; command options go after the command)\n`,
    );
    return 2;
  }
  const program = buildProgram(runtime, state, await source.registers(argv), source);
  applyEnvDefault(program, runtime.io.env);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      // For monitoring, a misconfigured check is UNKNOWN (3), not CRITICAL (2).
      return argv[0] === 'check' ? 3 : 2;
    }
    reportError(runtime.io, error, false);
    return exitCodeOf(error);
  }
  return state.exitCode;
}
