// `rotor operator add | list | disable`: the local accounts that sign in to the dashboard.
// The password comes from a hidden prompt or stdin, never argv; the TOTP provisioning URI is
// printed once, for an authenticator app.
import type { Command } from 'commander';
import { createOperator } from '../../core/operators/create-operator.js';
import { disableOperator } from '../../core/operators/disable-operator.js';
import { listOperators } from '../../core/operators/list-operators.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { formatTable, print, printJson } from '../io.js';
import type { Wrap } from '../program.js';
import { readLineInputs, readSecretInput } from '../secret-input.js';

export interface OperatorAddOptions {
  passwordFile?: string;
  json?: boolean;
}

export async function operatorAddCommand(
  ctx: CommandContext,
  options: OperatorAddOptions,
  name: string,
): Promise<number> {
  const { io } = ctx;
  const password = await readPassword(io, name, options.passwordFile);
  const created = await createOperator(ctx.rotor, ctx.actor, { name, password });
  if (options.json) {
    printJson(io, { ...created, requestId: ctx.actor.requestId });
    return 0;
  }
  print(io, `created operator ${name}  request ${ctx.actor.requestId}`);
  print(io, 'Add this to an authenticator app now (it is shown only this once):');
  print(io, `  ${created.otpauthUri}`);
  print(io, `  or type the key by hand: ${created.totpSecret}`);
  return 0;
}

/**
 * The new password: from --password-file (one line), else one line per prompt (a terminal or a
 * pipe: `printf 'pw\npw\n' |`), where a second line, when given, must repeat the first. The
 * check for control characters (a stray newline, a tab, an escape) is createOperator's.
 */
async function readPassword(
  io: CommandContext['io'],
  name: string,
  passwordFile: string | undefined,
): Promise<string> {
  if (passwordFile) return readSecretInput(io, { fromFile: passwordFile, prompt: '' });
  const [password, again] = await readLineInputs(io, [
    `Password for ${name} (at least 12 characters): `,
    'The same password again: ',
  ]);
  // A terminal always asks twice; a pipe may give the password once (scripts) or twice.
  if ((io.stdin.isTTY || again !== undefined) && again !== password) {
    throw new RotorError(
      'ERR_ROTOR_OPERATOR_PASSWORD_MISMATCH',
      'the two passwords differ: nothing was created',
    );
  }
  return password!;
}

export async function operatorListCommand(
  ctx: CommandContext,
  options: { json?: boolean },
): Promise<number> {
  const operators = await listOperators(ctx.rotor);
  if (options.json) {
    printJson(ctx.io, { operators });
    return 0;
  }
  if (operators.length === 0) {
    print(ctx.io, 'no operators yet: add one with `rotor operator add NAME`');
    return 0;
  }
  print(
    ctx.io,
    formatTable(
      ['NAME', 'STATE', 'CREATED', 'BY'],
      operators.map((o) => [
        o.name,
        o.disabledAt ? `disabled ${o.disabledAt}` : 'active',
        o.createdAt,
        o.createdBy,
      ]),
    ),
  );
  return 0;
}

export async function operatorDisableCommand(
  ctx: CommandContext,
  options: { json?: boolean },
  name: string,
): Promise<number> {
  const result = await disableOperator(ctx.rotor, ctx.actor, name);
  if (options.json) {
    printJson(ctx.io, { ...result, requestId: ctx.actor.requestId });
    return 0;
  }
  const what = result.alreadyDisabled ? 'was already disabled' : 'is disabled';
  print(
    ctx.io,
    `operator ${name} ${what}; ${result.sessionsEnded} dashboard session(s) ended  request ${ctx.actor.requestId}`,
  );
  return 0;
}

export function registerOperator(program: Command, wrap: Wrap): void {
  const operator = program
    .command('operator')
    .description('local accounts for the dashboard (argon2id password + TOTP)');
  operator
    .command('add')
    .description(
      'create an operator; reads the password from a hidden prompt or stdin and prints the TOTP otpauth:// URI once',
    )
    .argument('<name>', 'operator name (letters, digits, ".", "_", "-")')
    .option('--password-file <file>', 'read the password from a file instead of stdin')
    .option('--json', 'machine-readable result')
    .action(wrap(operatorAddCommand));
  operator
    .command('list')
    .description('list operators')
    .option('--json', 'machine-readable result')
    .action(wrap(operatorListCommand));
  operator
    .command('disable')
    .description('stop an operator from signing in and end their dashboard sessions')
    .argument('<name>', 'operator name')
    .option('--json', 'machine-readable result')
    .action(wrap(operatorDisableCommand));
}
