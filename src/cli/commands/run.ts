// `rotor run --env E -- CMD ARGS…`: starts CMD (no shell) with the environment's values in its
// environment (NAME, and NAME_PREVIOUS while a grace window is open), inherits stdio, forwards
// signals, and exits with the child's code, or 128+n when the child died from signal n.
//
// With --watch it follows the store (see ../run-watch.ts): when a value the child was given
// changes (a rotation, an emergency, a retire or the end of a grace window), the child is
// restarted (SIGTERM, then SIGKILL after --stop-timeout) or, with --on-change SIGNAL, sent that
// signal after the new values are written to the file named by ROTOR_RUN_VALUES_FILE.
//
// The child gets this process's environment minus Rotor's own ROTOR_* settings (above all
// ROTOR_MASTER_KEY, which would open every stored value) and minus stale NAME_PREVIOUS
// variables a parent shell may carry (and the kid companions NAME_KID, NAME_PREVIOUS_KID,
// NAME_PREVIOUS_UNTIL, NAME_ON_ROTATE). The store is closed before the child starts, so a
// long-running app does not hold the database open.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, delimiter, join, resolve } from 'node:path';
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { kidVariableNames } from '../../core/delivery/kid-variable.js';
import {
  isSecretValue,
  readEnvironmentValues,
  type DeliveredValue,
  type ReadValuesResult,
} from '../../core/delivery/read-values.js';
import { RotorError } from '../../core/errors.js';
import type { CommandContext } from '../command-context.js';
import { collectOption } from '../io.js';
import type { Wrap } from '../program.js';
import { reportError } from '../report-error.js';
import {
  createValuesFile,
  deliveredSignature,
  watchStore,
  WATCH_POLL_MS,
  type ValuesFile,
} from '../run-watch.js';

export const FORWARDED_SIGNALS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
] as const;

/** Exit codes a shell uses when a command cannot be started. */
const EXIT_NOT_FOUND = 127;
const EXIT_CANNOT_EXECUTE = 126;

export interface RunOptions {
  env: string;
  secret?: string[];
  /** Follow the store: restart or signal the child when its values change. */
  watch?: boolean;
  /** `restart` (default) or a signal name (SIGHUP, SIGUSR2…) to send after writing the values file. */
  onChange?: string;
  /** How long a restart waits after SIGTERM before SIGKILL (a duration, default 10s). */
  stopTimeout?: string;
}

/** The child's environment: `base` without ROTOR_* and stale NAME_PREVIOUS (and kid companions), plus the values. */
export function childEnvironment(
  base: NodeJS.ProcessEnv,
  secrets: readonly string[],
  values: readonly DeliveredValue[],
): NodeJS.ProcessEnv {
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
  for (const v of values)
    if (v.carries === 'part' && v.stage === 'current') delete env[`${v.variable}_PREVIOUS`];
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
  return new RotorError('ERR_ROTOR_RUN_SPAWN_FAILED', message, {
    ...(cause === undefined ? {} : { cause }),
    details: { command },
  });
}

/** Signals `--on-change` may name: any that a process can catch. */
function onChangeSignal(value: string | undefined): NodeJS.Signals | undefined {
  if (value === undefined || value === 'restart') return undefined;
  const name = (value.startsWith('SIG') ? value : `SIG${value}`).toUpperCase() as NodeJS.Signals;
  if (osConstants.signals[name] === undefined || name === 'SIGKILL' || name === 'SIGSTOP') {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `--on-change ${value}: give restart or a signal the command can catch (SIGHUP, SIGUSR1, SIGUSR2, SIGTERM…)`,
    );
  }
  return name;
}

interface WatchSettings {
  signal?: NodeJS.Signals;
  stopTimeoutMs: number;
}

function watchSettings(options: RunOptions): WatchSettings | undefined {
  if (!options.watch) {
    if (options.onChange !== undefined || options.stopTimeout !== undefined) {
      throw new RotorError('ERR_ROTOR_CLI_USAGE', '--on-change and --stop-timeout need --watch');
    }
    return undefined;
  }
  const signal = onChangeSignal(options.onChange);
  const stopTimeoutMs = parseDuration(options.stopTimeout ?? '10s');
  return { ...(signal ? { signal } : {}), stopTimeoutMs };
}

/** Reads the environment's values (one audited read) and closes the store again. */
async function readValues(
  ctx: CommandContext,
  options: RunOptions,
  command: string,
  reason?: string,
): Promise<ReadValuesResult> {
  try {
    return await readEnvironmentValues(ctx.rotor, ctx.actor, {
      environment: options.env,
      action: 'read.run',
      ...(options.secret ? { secrets: options.secret } : {}),
      details: {
        command: basename(command),
        ...(options.watch ? { watch: true } : {}),
        ...(reason ? { reason } : {}),
      },
    });
  } finally {
    // A long-running app does not hold the store open through `rotor run`.
    await ctx.rotor.close();
  }
}

/** Starts the child; an environment too large to pass (E2BIG) is named, not thrown bare. */
function startChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): ChildProcess {
  try {
    return spawnProcess(command, args, { stdio: 'inherit', env, cwd, shell: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'E2BIG')
      throw spawnFailed(
        command,
        `cannot start ${command}: ${code ?? (error as Error).message}`,
        error,
      );
    const sizes = Object.entries(env)
      .map(([k, v]) => [k, Buffer.byteLength(`${k}=${v ?? ''}`)] as const)
      .sort((a, b) => b[1] - a[1]);
    const total = sizes.reduce((n, [, size]) => n + size, 0);
    const largest = sizes
      .slice(0, 3)
      .map(([k, size]) => `${k} (${size} bytes)`)
      .join(', ');
    throw spawnFailed(
      command,
      `cannot start ${command}: its environment is too large for the system (E2BIG: ${total} bytes in ${sizes.length} variables; largest ${largest}): pass fewer secrets with --secret, or shrink the largest values`,
      error,
    );
  }
}

type Exit =
  { code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException };

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((settle) => {
    child.once('error', (error: NodeJS.ErrnoException) => settle({ error }));
    child.once('exit', (code, signal) => settle({ code, signal }));
  });
}

/** Stops a child gracefully: SIGTERM, then SIGKILL if it is still there after `timeoutMs`. */
async function stopChild(
  child: ChildProcess,
  exited: Promise<Exit>,
  timeoutMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((wake) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      wake();
    }, timeoutMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

function changedSecrets(before: string, after: string): string[] {
  const names = (sig: string) => new Set(sig.split('\n').filter(Boolean));
  const a = names(before);
  const b = names(after);
  const changed = new Set<string>();
  for (const entry of [...a].filter((x) => !b.has(x)).concat([...b].filter((x) => !a.has(x))))
    changed.add(entry.split('/')[0]!);
  return [...changed].sort();
}

export async function runCommand(
  ctx: CommandContext,
  options: RunOptions,
  argv: string[],
): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command.length === 0)
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      'no command to run: rotor run --env E -- CMD ARGS…',
    );
  const { io } = ctx;
  const watch = watchSettings(options);
  // Bad input is refused before any value is read (and audited).
  if (!commandExists(command, io.env.PATH, io.cwd)) {
    reportError(io, spawnFailed(command, `command not found: ${command}`), false);
    return EXIT_NOT_FOUND;
  }
  const storeFile = watch ? (await ctx.rotor.store()).location : undefined;
  const result = await readValues(ctx, options, command);
  if (result.missing.length > 0) {
    io.stderr.write(
      `rotor: warning: no current value in ${options.env} for ${result.missing.join(', ')} (import or rotate them)\n`,
    );
  }
  const secrets = [...ctx.rotor.policy().secrets.keys()];
  const valuesFile = watch?.signal ? createValuesFile() : undefined;
  const environmentFor = (values: readonly DeliveredValue[]): NodeJS.ProcessEnv => {
    const env = childEnvironment(io.env, secrets, values);
    if (valuesFile) env.ROTOR_RUN_VALUES_FILE = valuesFile.path;
    return env;
  };
  valuesFile?.write(result.values);
  try {
    const outcome =
      watch && storeFile
        ? await superviseWatched(
            ctx,
            options,
            { command, args, watch, storeFile, valuesFile, environmentFor },
            result,
          )
        : await superviseOnce(startChild(command, args, environmentFor(result.values), io.cwd));
    return exitCodeOf(ctx, command, outcome);
  } finally {
    valuesFile?.remove();
  }
}

function exitCodeOf(ctx: CommandContext, command: string, outcome: Exit): number {
  if ('error' in outcome) {
    const notFound = outcome.error.code === 'ENOENT';
    reportError(
      ctx.io,
      spawnFailed(
        command,
        `cannot start ${command}: ${outcome.error.code ?? outcome.error.message}`,
        outcome.error,
      ),
      false,
    );
    return notFound ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
  }
  if (outcome.code !== null) return outcome.code;
  const number = outcome.signal ? osConstants.signals[outcome.signal] : undefined;
  return number === undefined ? 1 : 128 + number;
}

/** Forwards the signals a terminal or supervisor sends Rotor to whichever child is running. */
function forwardSignals(
  target: () => ChildProcess | undefined,
  onSignal?: (signal: NodeJS.Signals) => void,
): () => void {
  const removers = FORWARDED_SIGNALS.map((signal) => {
    const forward = () => {
      onSignal?.(signal);
      try {
        target()?.kill(signal);
      } catch {
        // The child is already gone; its exit is on its way.
      }
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  return () => {
    for (const remove of removers) remove();
  };
}

async function superviseOnce(child: ChildProcess): Promise<Exit> {
  const stopForwarding = forwardSignals(() => child);
  try {
    return await exitOf(child);
  } finally {
    stopForwarding();
  }
}

interface WatchRun {
  command: string;
  args: string[];
  watch: WatchSettings;
  storeFile: string;
  valuesFile: ValuesFile | undefined;
  environmentFor(values: readonly DeliveredValue[]): NodeJS.ProcessEnv;
}

/**
 * Runs the child and follows the store until the child ends by itself (or by a signal sent to
 * Rotor): then resolves with how it ended. Restarts it, or signals it, when its values change.
 */
async function superviseWatched(
  ctx: CommandContext,
  options: RunOptions,
  run: WatchRun,
  first: ReadValuesResult,
): Promise<Exit> {
  const { io } = ctx;
  const received = first.values.filter(isSecretValue).map((v) => v.secret);
  const watcher = await watchStore(run.storeFile, options.env, [...new Set(received)]);
  let delivered = deliveredSignature(first.values);
  let child = startChild(run.command, run.args, run.environmentFor(first.values), io.cwd);
  let exited = exitOf(child);
  let stopping = false; // a signal was sent to Rotor: no more restarts
  let busy = false;
  const stopForwarding = forwardSignals(
    () => child,
    (signal) => {
      if (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGQUIT') stopping = true;
    },
  );

  const onTick = async () => {
    const now = ctx.rotor.clock.now();
    const wanted = watcher.signature(now);
    if (wanted === delivered || stopping) return;
    const names = changedSecrets(delivered, wanted).join(', ');
    const next = await readValues(ctx, options, run.command, 'change');
    delivered = deliveredSignature(next.values);
    if (run.watch.signal) {
      run.valuesFile?.write(next.values);
      io.stderr.write(
        `rotor: ${names} changed in ${options.env}: sent ${run.watch.signal} (new values in $ROTOR_RUN_VALUES_FILE)\n`,
      );
      child.kill(run.watch.signal);
      return;
    }
    io.stderr.write(
      `rotor: ${names} changed in ${options.env}: restarting ${basename(run.command)} (SIGTERM, SIGKILL after ${run.watch.stopTimeoutMs} ms)\n`,
    );
    await stopChild(child, exited, run.watch.stopTimeoutMs);
    if (stopping) return;
    child = startChild(run.command, run.args, run.environmentFor(next.values), io.cwd);
    exited = exitOf(child);
  };

  try {
    for (;;) {
      const current = child;
      const tick = new Promise<'tick'>((wake) => setTimeout(() => wake('tick'), WATCH_POLL_MS));
      const ended = await Promise.race([exited, tick]);
      if (ended !== 'tick') {
        // Ended by itself, or by a signal Rotor passed on: that is the run's outcome.
        if (current === child) return ended;
        continue;
      }
      if (busy) continue;
      busy = true;
      try {
        await onTick();
      } catch (error) {
        // A store busy with a long write, or a value not readable right now: try again next tick.
        reportError(io, error, false);
      } finally {
        busy = false;
      }
    }
  } finally {
    stopForwarding();
    watcher.close();
  }
}

export function registerRun(program: Command, wrap: Wrap): void {
  const command = program.command('run');
  command
    .description(
      "run a command with an environment's values injected (NAME, and NAME_PREVIOUS during a grace window)",
    )
    .usage(
      '--env <environment> [--secret NAME]… [--watch [--on-change restart|SIGNAL]] -- <command> [args…]',
    )
    .argument('<command...>', 'the command and its arguments, after --')
    // `rotor run -e E node -e CODE` without `--` would take the child's -e as Rotor's
    // environment: an --env given twice is refused, so that mistake fails loudly.
    .requiredOption(
      '-e, --env <environment>',
      'environment whose values to inject (default ROTOR_ENV)',
      (value: string, previous: string | undefined) => {
        if (previous !== undefined && command.getOptionValueSource('env') === 'cli') {
          throw new InvalidArgumentError(
            'given twice: put the command after `--` (rotor run -e E -- node -e …)',
          );
        }
        return value;
      },
    )
    .option('--secret <name>', 'only this secret (repeatable)', collectOption)
    .option(
      '--watch',
      'follow the store: when a value the command got changes, restart it (or signal it, see --on-change)',
    )
    .addOption(
      new Option(
        '--on-change <action>',
        'with --watch: restart (default), or a signal to send (SIGHUP, SIGUSR2…) after writing the new values to $ROTOR_RUN_VALUES_FILE',
      ),
    )
    .option(
      '--stop-timeout <duration>',
      'with --watch: how long a restart waits after SIGTERM before SIGKILL (default 10s)',
    )
    .action(wrap(runCommand));
}
