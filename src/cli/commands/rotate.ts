// `rotor rotate NAME`: one journaled rotation per environment, in policy order. On a terminal
// each step is shown as it runs; `--json` prints one result instead.
import type { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import {
  createRotationEngine,
  type ProgressEvent,
  type RotateResult,
} from '../../core/rotation/rotation-engine.js';
import type { CommandContext } from '../command-context.js';
import { colors, print, printJson, type CliIo } from '../io.js';
import { onInterrupt } from '../interrupt.js';
import type { Wrap } from '../program.js';
import { readSecretInput } from '../secret-input.js';

export interface RotateOptions {
  env?: string;
  emergency?: boolean;
  reason?: string;
  fromFile?: string;
  json?: boolean;
}

/** Steps that run the project's own commands (deploy hooks, smoke tests, health checks). */
const STAGE_STEPS = new Set<string>(['deploy', 'smoke', 'health']);

function progressPrinter(io: CliIo, enabled: boolean): (e: ProgressEvent) => void {
  const c = colors(io);
  return (e) => {
    if (!enabled) return;
    if (e.phase === 'start') {
      // A deploy hook or smoke test can take a while: say it runs rather than sit silent.
      if (STAGE_STEPS.has(e.step))
        print(
          io,
          `  ${c.dim('…')} ${e.environment.padEnd(12)} ${e.step.padEnd(9)}  ${c.dim(`${e.detail ?? ''} running`)}`,
        );
      return;
    }
    const mark = e.phase === 'done' ? c.green('✓') : c.red('✗');
    const ms =
      e.ms === undefined ? '' : c.dim(` ${e.ms < 1 ? e.ms.toFixed(2) : e.ms.toFixed(0)} ms`);
    print(
      io,
      `  ${mark} ${e.environment.padEnd(12)} ${e.step.padEnd(9)}${ms}${e.detail ? `  ${e.phase === 'failed' ? c.red(e.detail) : c.dim(e.detail)}` : ''}`,
    );
  };
}

export function describeResult(io: CliIo, result: RotateResult): void {
  const c = colors(io);
  for (const r of result.results) {
    if (r.outcome === 'succeeded') {
      const grace = r.graceUntil
        ? `previous accepted until ${r.graceUntil}`
        : r.previousVersionId
          ? 'previous version revoked'
          : 'first version';
      print(
        io,
        `${c.green('rotated')} ${result.secret} in ${r.environment}: version ${r.versionId} is current; ${grace}`,
      );
      for (const action of r.emergencyActions ?? []) print(io, `  ${c.yellow('!')} ${action}`);
      // The truth about what already runs: an environment variable cannot change under a process.
      if (r.emergencyActions && r.previousVersionId) {
        print(
          io,
          `  ${c.yellow('!')} processes started with \`rotor run\` keep the old value until they are restarted (those under \`rotor run --watch\` are restarted or signalled within 2 s)`,
        );
      }
    } else if (r.outcome === 'standby') {
      print(
        io,
        `${c.cyan('standby')} ${result.secret} in ${r.environment}: version ${r.versionId} is published and may become current from ${r.promoteAfter}; run \`rotor rotate ${result.secret} --env ${r.environment}\` (or \`rotor resume\`) then`,
      );
    } else if (r.outcome === 'waiting') {
      print(io, `${c.yellow('waiting')} ${result.secret} in ${r.environment}: ${r.error?.message}`);
    } else if (r.outcome === 'failed') {
      print(
        io,
        `${c.red('failed')}  ${result.secret} in ${r.environment}: ${r.error?.code}: ${r.error?.message}`,
      );
    } else {
      print(
        io,
        `${c.dim('skipped')} ${result.secret} in ${r.environment}: an earlier environment ${result.results.some((x) => x.outcome === 'waiting') ? 'is still waiting' : 'failed'}`,
      );
    }
  }
}

export async function rotateCommand(
  ctx: CommandContext,
  options: RotateOptions,
  name: string,
): Promise<number> {
  const { rotor, io } = ctx;
  const spec = rotor.secret(name);
  const environments = options.env ? [options.env] : undefined;
  for (const env of environments ?? []) rotor.assertEnvironment(spec, env);
  const rotator = rotor.rotator(spec.kind);
  let input: string | ((env: string) => Promise<string>) | undefined;
  if (rotator.source === 'operator') {
    const envCount = environments?.length ?? spec.environments.length;
    if (envCount > 1 && !io.stdin.isTTY) {
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        `${name} is a ${spec.kind} secret with a value per environment: pass --env to say which one this value is for`,
      );
    }
    const instructions = (spec.config as { instructions?: string } | undefined)?.instructions;
    input = (env: string) =>
      readSecretInput(io, {
        ...(options.fromFile ? { fromFile: options.fromFile } : {}),
        prompt: `${instructions ? `${instructions}\n` : ''}New value for ${name} in ${env}: `,
      });
  }
  const tty = Boolean(io.stdout.isTTY) && !options.json;
  const printProgress = progressPrinter(io, tty);
  // The environment whose rotation is journaled and not yet finished, for the Ctrl-C message.
  let inFlight: string | undefined;
  const engine = createRotationEngine({
    rotor,
    onProgress: (e) => {
      inFlight = e.environment;
      printProgress(e);
    },
  });
  if (!options.json)
    print(
      io,
      `${options.emergency ? 'EMERGENCY rotation' : 'rotating'} ${name} (${spec.kind})  request ${ctx.actor.requestId}`,
    );
  const removeInterrupt = onInterrupt(io, () =>
    inFlight === undefined
      ? ['no rotation had started: nothing was changed']
      : [
          `the rotation of ${name} in ${inFlight} was interrupted; its journal is kept`,
          'run `rotor resume` to finish it (if it passed verify) or roll it back (if not)',
        ],
  );
  let result: RotateResult;
  try {
    result = await engine.rotate(ctx.actor, {
      secret: name,
      ...(environments ? { environments } : {}),
      method: ctx.actor.method,
      emergency: Boolean(options.emergency),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(input ? { input } : {}),
    });
  } finally {
    removeInterrupt();
  }
  if (options.json) printJson(io, { ...result, requestId: ctx.actor.requestId });
  else describeResult(io, result);
  return result.ok ? 0 : 1;
}

export function registerRotate(program: Command, wrap: Wrap): void {
  program
    .command('rotate')
    .description('rotate a secret (create → apply → verify → promote), staging first')
    .argument('<name>', 'secret name, as in rotor.yaml')
    .option('-e, --env <environment>', 'only this environment')
    .option('--emergency', 'no grace: revoke the old version at once and run the emergency actions')
    .option('--reason <text>', 'why (required for --emergency; recorded in the audit log)')
    .option('--from-file <file>', 'read the new value of a manual secret from a file')
    .option('--json', 'machine-readable result')
    .action(wrap(rotateCommand));
}
