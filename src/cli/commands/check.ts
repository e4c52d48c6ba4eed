// `rotor check`: the status as a monitoring plugin. Exit 0 OK, 1 WARNING, 2 CRITICAL,
// 3 UNKNOWN (also for any error: a check that cannot run must never look healthy). One summary
// line, then one line per problem; `--at` asks what will be due on that date.
import type { Command } from 'commander';
import { checkDetailLines, evaluateCheck, PLUGIN_CODES } from '../../core/status/check.js';
import { computeStatus } from '../../core/status/status.js';
import type { CommandContext } from '../command-context.js';
import type { Wrap } from '../program.js';
import { writeLines } from './status.js';
import { parseDateOption } from '../parse-date.js';

export interface CheckOptions {
  at?: string;
}

export async function checkCommand(ctx: CommandContext, options: CheckOptions): Promise<number> {
  const { rotor } = ctx;
  const now = rotor.clock.now();
  const at = options.at === undefined ? now : parseDateOption('--at', options.at, 'end');
  const store = await rotor.store();
  const report = await store.guard(() => computeStatus(store, { now, at }));
  const asOf = options.at === undefined ? undefined : new Date(at).toISOString();
  const result = evaluateCheck(report, asOf ? { asOf } : {});
  if (ctx.json) {
    const head = JSON.stringify({ status: result.status, code: result.code, summary: result.summary, at: new Date(at).toISOString(), counts: result.counts }, null, 2);
    const problems = result.problems;
    function* lines(): Generator<string> {
      yield `${head.slice(0, -2)},\n  "problems": [`;
      for (let i = 0; i < problems.length; i++) yield `    ${JSON.stringify(problems[i])}${i < problems.length - 1 ? ',' : ''}`;
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
    .description('monitoring-plugin check: exit 0 OK, 1 WARNING (due soon, due), 2 CRITICAL (overdue, failed or stuck rotation), 3 UNKNOWN')
    .option('--at <date>', 'evaluate at this ISO date (end of that day, UTC) or date-time instead of now')
    .option('--json', 'machine-readable output')
    .action(wrap(checkCommand, { errorExitCode: PLUGIN_CODES.UNKNOWN }));
}
