// `rotor check`: the status as a monitoring plugin. Exit 0 OK, 1 WARNING, 2 CRITICAL,
// 3 UNKNOWN (also for any error: a check that cannot run must never look healthy). One summary
// line, then one line per problem; `--at` asks what will be due on that date.
import type { Command } from 'commander';
import { isRotorError } from '../../core/errors.js';
import {
  checkDetailLines,
  evaluateCheck,
  PLUGIN_CODES,
  type CheckResult,
  type Problem,
} from '../../core/status/check.js';
import type { CommandContext } from '../command-context.js';
import type { Wrap } from '../program.js';
import { storeStatus, writeLines } from './status.js';
import { parseDateOption } from '../parse-date.js';

export interface CheckOptions {
  at?: string;
}

/**
 * Why the master key at hand cannot open the store, if it cannot. Check reads no values, so a
 * host without any key (a monitoring box) is fine; a key that is there but wrong is not:
 * nothing can be rotated or read with it.
 */
async function wrongMasterKey(ctx: CommandContext): Promise<string | undefined> {
  try {
    await ctx.rotor.masterKey();
    return undefined;
  } catch (error) {
    if (
      isRotorError(error, 'ERR_ROTOR_CRYPTO_WRONG_MASTER_KEY') ||
      isRotorError(error, 'ERR_ROTOR_CRYPTO_MASTER_KEY_INVALID')
    ) {
      return error.message;
    }
    return undefined;
  }
}

function withMasterKeyProblem(result: CheckResult, problem: string | undefined): CheckResult {
  if (problem === undefined) return result;
  const detail = `${problem}: nothing can be rotated or read with it (restore the right key from your backup)`;
  return {
    ...result,
    status: 'CRITICAL',
    code: PLUGIN_CODES.CRITICAL,
    summary: result.summary.replace(/^ROTOR \w+ - /, 'ROTOR CRITICAL - wrong master key; '),
    problems: [
      {
        secret: 'ROTOR_MASTER_KEY',
        environment: '*',
        problem: 'wrong-master-key' as Problem,
        status: 'CRITICAL',
        detail,
      },
      ...result.problems,
    ],
  };
}

/** Whether rotor.yaml asks for signed audit checkpoints (a missing or broken file: no). */
function hasCheckpoints(ctx: CommandContext): boolean {
  try {
    return ctx.rotor.policy().audit?.checkpoints !== undefined;
  } catch {
    return false;
  }
}

export async function checkCommand(ctx: CommandContext, options: CheckOptions): Promise<number> {
  const { rotor } = ctx;
  const now = rotor.clock.now();
  const at = options.at === undefined ? now : parseDateOption('--at', options.at, 'end');
  const { report } = await storeStatus(rotor, { now, at });
  const asOf = options.at === undefined ? undefined : new Date(at).toISOString();
  let result = withMasterKeyProblem(
    evaluateCheck(report, asOf ? { asOf } : {}),
    await wrongMasterKey(ctx),
  );
  if (hasCheckpoints(ctx)) {
    const { withCheckpointWarning } = await import('../../core/audit/checkpoint-check.js');
    result = await withCheckpointWarning(result, rotor);
  }
  if (ctx.json) {
    const head = JSON.stringify(
      {
        status: result.status,
        code: result.code,
        summary: result.summary,
        at: new Date(at).toISOString(),
        counts: result.counts,
      },
      null,
      2,
    );
    const problems = result.problems;
    function* lines(): Generator<string> {
      yield `${head.slice(0, -2)},\n  "problems": [`;
      for (let i = 0; i < problems.length; i++)
        yield `    ${JSON.stringify(problems[i])}${i < problems.length - 1 ? ',' : ''}`;
      yield '  ]\n}';
    }
    await writeLines(ctx.io.stdout, lines());
  } else {
    await writeLines(ctx.io.stdout, [result.summary, ...checkDetailLines(result)]);
  }
  return result.code;
}

export function registerCheck(program: Command, wrap: Wrap): void {
  program
    .command('check')
    .description(
      'monitoring-plugin check: exit 0 OK, 1 WARNING (due soon, due), 2 CRITICAL (overdue, failed or stuck rotation), 3 UNKNOWN',
    )
    .option(
      '--at <date>',
      'evaluate at this ISO date (end of that day, UTC) or date-time instead of now',
    )
    .option('--json', 'machine-readable output')
    .action(wrap(checkCommand, { errorExitCode: PLUGIN_CODES.UNKNOWN }));
}
