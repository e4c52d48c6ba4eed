// `rotor get NAME --env E [--stage current|previous] [--reveal]`: prints one value for scripts
// (`DB_URL=$(rotor get DATABASE_URL --env production)`).
//
// Output: when stdout is a pipe or file, exactly the value's bytes with no trailing newline,
// so `rotor get X > file` and `| tool` carry the value unchanged; `$(…)` works either way.
// A terminal only gets a value with --reveal (so it does not land in scrollback by
// accident), and then a trailing newline so the prompt does not run into it. --json prints
// {secret, environment, stage, versionId, value} under the same terminal rule.
import { Option, type Command } from 'commander';
import {
  readOneValue,
  assertReadable,
  type DeliveredStage,
} from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface GetOptions {
  env: string;
  stage?: DeliveredStage;
  reveal?: boolean;
}

export async function getCommand(
  ctx: CommandContext,
  options: GetOptions,
  name: string,
): Promise<number> {
  const stage = options.stage ?? 'current';
  // Validate before the terminal check so a typo gets its own error, and before any read.
  assertReadable(ctx.rotor, name, options.env);
  const toTerminal = Boolean(ctx.io.stdout.isTTY);
  if (toTerminal && !options.reveal) {
    throw new RotorError(
      'ERR_ROTOR_CLI_REFUSE_TTY',
      `refusing to print ${name} to a terminal: pipe or redirect it, or pass --reveal to show it on screen`,
      {
        details: { secret: name },
      },
    );
  }
  const delivered = await readOneValue(ctx.rotor, ctx.actor, {
    secret: name,
    environment: options.env,
    stage,
  });
  if (ctx.json) {
    printJson(ctx.io, {
      secret: delivered.secret,
      environment: delivered.environment,
      stage: delivered.stage,
      versionId: delivered.versionId,
      retireAt: delivered.retireAt === null ? null : new Date(delivered.retireAt).toISOString(),
      value: delivered.value,
      requestId: ctx.actor.requestId,
    });
    return 0;
  }
  ctx.io.stdout.write(toTerminal ? `${delivered.value}\n` : delivered.value);
  return 0;
}

export function registerGet(program: Command, wrap: Wrap): void {
  program
    .command('get')
    .description(
      'print one secret value (refuses a terminal without --reveal; no trailing newline when piped)',
    )
    .argument('<name>', 'secret name, e.g. DATABASE_URL')
    .requiredOption('-e, --env <environment>', 'environment to read from (default ROTOR_ENV)')
    .addOption(
      new Option(
        '--stage <stage>',
        'which version: current, or previous while its grace window is open',
      )
        .choices(['current', 'previous'])
        .default('current'),
    )
    .option('--reveal', 'allow printing to a terminal')
    .option('--json', 'machine-readable output (includes the value)')
    .action(wrap(getCommand));
}
