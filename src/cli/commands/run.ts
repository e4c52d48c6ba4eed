// `rotor run --env E -- CMD ARGS…`: starts CMD (no shell) with the environment's values in its
// environment (NAME, and NAME_PREVIOUS while a grace window is open), inherits stdio, forwards
// signals, and exits with the child's code, or 128+n when the child died from signal n.
//
// The child gets this process's environment minus Rotor's own ROTOR_* settings (above all
// ROTOR_MASTER_KEY, which would open every stored value) and minus stale NAME_PREVIOUS
// variables a parent shell may carry (and the kid companions NAME_KID, NAME_PREVIOUS_KID,
// NAME_PREVIOUS_UNTIL, NAME_ON_ROTATE). The store is closed before the child starts, so a
// long-running app does not hold the database open.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, delimiter, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { kidVariableNames } from '../../core/delivery/kid-variable.js';
import { readEnvironmentValues, type DeliveredValue } from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { collectOption } from '../io.js';
import type { Wrap } from '../program.js';
import { reportError } from '../report-error.js';

export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** Exit codes a shell uses when a command cannot be started. */
const EXIT_NOT_FOUND = 127;
const EXIT_CANNOT_EXECUTE = 126;

export interface RunOptions {
  env: string;
  secret?: string[];
}

/** The child's environment: `base` without ROTOR_* and stale NAME_PREVIOUS (and kid companions), plus the values. */
export function childEnvironment(base: NodeJS.ProcessEnv, secrets: readonly string[], values: readonly DeliveredValue[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined || key.startsWith('ROTOR_')) continue;
    env[key] = value;
  }
  for (const name of secrets) {
    delete env[`${name}_PREVIOUS`];
    for (const companion of kidVariableNames(name)) delete env[companion];
  }
  // A multi-part value's parts (S3_ACCESS_KEY_ID…) have their own stale _PREVIOUS to drop.
  for (const v of values) if (v.carries === 'part' && v.stage === 'current') delete env[`${v.variable}_PREVIOUS`];
  for (const v of values) env[v.variable] = v.value;
  return env;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `command` resolves the way execvp would: a path, or a name on PATH. */
export function commandExists(command: string, path: string | undefined, cwd: string): boolean {
  if (command.includes('/')) return isExecutableFile(resolve(cwd, command));
  return (path ?? '')
    .split(delimiter)
    .filter((dir) => dir.length > 0)
    .some((dir) => isExecutableFile(join(resolve(cwd, dir), command)));
}

function spawnFailed(command: string, message: string, cause?: unknown): RotorError {
  return new RotorError('ERR_ROTOR_RUN_SPAWN_FAILED', message, { ...(cause === undefined ? {} : { cause }), details: { command } });
}

export async function runCommand(ctx: CommandContext, options: RunOptions, argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command.length === 0) throw new RotorError('ERR_ROTOR_CLI_USAGE', 'no command to run: rotor run --env E -- CMD ARGS…');
  const { io } = ctx;
  // Bad input is refused before any value is read (and audited).
  if (!commandExists(command, io.env.PATH, io.cwd)) {
    reportError(io, spawnFailed(command, `command not found: ${command}`), false);
    return EXIT_NOT_FOUND;
  }
  const result = await readEnvironmentValues(ctx.rotor, ctx.actor, {
    environment: options.env,
    action: 'read.run',
    ...(options.secret ? { secrets: options.secret } : {}),
    details: { command: basename(command) },
  });
  if (result.missing.length > 0) {
    io.stderr.write(`rotor: warning: no current value in ${options.env} for ${result.missing.join(', ')} (import or rotate them)\n`);
  }
  const env = childEnvironment(io.env, [...ctx.rotor.policy().secrets.keys()], result.values);
  await ctx.rotor.close();

  const child = spawn(command, args, { stdio: 'inherit', env, cwd: io.cwd, shell: false });
  const forwarders = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => {
      try {
        child.kill(signal);
      } catch {
        // The child is already gone; its exit is on its way.
      }
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  try {
    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((settle) => {
      child.once('error', (error: NodeJS.ErrnoException) => settle({ error }));
      child.once('exit', (code, signal) => settle({ code, signal }));
    });
    if ('error' in outcome) {
      const notFound = outcome.error.code === 'ENOENT';
      reportError(io, spawnFailed(command, `cannot start ${command}: ${outcome.error.code ?? outcome.error.message}`, outcome.error), false);
      return notFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
    }
    if (outcome.code !== null) return outcome.code;
    const number = outcome.signal ? osConstants.signals[outcome.signal] : undefined;
    return number === undefined ? 1 : 128 + number;
  } finally {
    for (const remove of forwarders) remove();
  }
}

export function registerRun(program: Command, wrap: Wrap): void {
  program
    .command('run')
    .description("run a command with an environment's values injected (NAME, and NAME_PREVIOUS during a grace window)")
    .usage('--env <environment> [--secret NAME]… -- <command> [args…]')
    .argument('<command...>', 'the command and its arguments, after --')
    // No -e short flag: `rotor run --env E node -e …` without `--` must fail loudly, not
    // quietly take the child's -e as Rotor's environment.
    .requiredOption('--env <environment>', 'environment whose values to inject')
    .option('--secret <name>', 'only this secret (repeatable)', collectOption)
    .action(wrap(runCommand));
}
