// `rotor resume`: finishes or rolls back rotations a crashed process left behind.
import type { Command } from 'commander';
import { createRotationEngine } from '../../core/rotation/rotation-engine.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import { onInterrupt } from '../interrupt.js';
import type { Wrap } from '../program.js';

export async function resumeCommand(
  ctx: CommandContext,
  options: { json?: boolean },
): Promise<number> {
  const engine = createRotationEngine({ rotor: ctx.rotor });
  // Resuming runs deploy hooks too: a Ctrl-C stops them and leaves the journal for another resume.
  const removeInterrupt = onInterrupt(ctx.io, () => [
    'resume was interrupted; its journal is kept: run `rotor resume` again',
  ]);
  let outcomes: Awaited<ReturnType<typeof engine.resume>>;
  try {
    outcomes = await engine.resume(ctx.actor);
  } finally {
    removeInterrupt();
  }
  if (options.json) printJson(ctx.io, { outcomes, requestId: ctx.actor.requestId });
  else {
    if (outcomes.length === 0) print(ctx.io, 'nothing to resume: no interrupted rotation');
    for (const o of outcomes)
      print(ctx.io, `${o.action.padEnd(11)} ${o.secret}/${o.environment}  ${o.detail}`);
    print(ctx.io, `request ${ctx.actor.requestId}`);
  }
  return outcomes.some((o) => o.action === 'skipped') ? 1 : 0;
}

export function registerResume(program: Command, wrap: Wrap): void {
  program
    .command('resume')
    .description('finish (after verify) or roll back (before it) interrupted rotations')
    .option('--json', 'machine-readable result')
    .action(wrap(resumeCommand));
}
