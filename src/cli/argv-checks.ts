// Checks and defaults applied to argv around commander: options before the command name that
// `rotor` does not know are errors even next to --version or --help (commander would answer
// those and ignore the rest), and ROTOR_ENV fills in a required --env. Light on purpose: it
// runs on every start, before any command module is loaded.
import type { Command } from 'commander';

/** Options `rotor` itself takes before the command name; those taking a value list it. */
const GLOBAL_OPTIONS = new Map<string, boolean>([
  ['-c', true],
  ['--config', true],
  ['--state-dir', true],
  ['--operator', true],
  ['--value', true],
  ['-h', false],
  ['--help', false],
  ['-V', false],
  ['--version', false],
]);

/** The first option before the command name that `rotor` does not know, if any. */
export function unknownGlobalOption(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') return undefined;
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    const takesValue = GLOBAL_OPTIONS.get(name);
    if (takesValue === undefined) return name;
    if (takesValue && !arg.includes('=')) i += 1;
  }
  return undefined;
}

/**
 * For each command whose --env is required and not given, ROTOR_ENV (like DOPPLER_ENVIRONMENT):
 * `ROTOR_ENV=staging rotor get JWT_ACCESS_SECRET`. Commands where --env only narrows
 * (rotate, retire, status, audit) ignore it, so a shell default never silently skips production.
 */
export function applyEnvDefault(program: Command, env: NodeJS.ProcessEnv): void {
  const value = env.ROTOR_ENV;
  if (!value) return;
  const visit = (command: Command) => {
    const option = command.options.find((o) => o.long === '--env' && o.mandatory);
    if (option && command.getOptionValue('env') === undefined)
      command.setOptionValueWithSource('env', value, 'env');
    for (const sub of command.commands) visit(sub);
  };
  for (const command of program.commands) visit(command);
}
