// `rotor apply`: loads rotor.yaml into the store and shows what changed.
import type { Command } from 'commander';
import { applyPolicy } from '../../core/apply/apply-policy.js';
import type { CommandContext } from '../command-context.js';
import { colors, print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export async function applyCommand(
  ctx: CommandContext,
  options: { dryRun?: boolean },
): Promise<number> {
  const changes = await applyPolicy(ctx.rotor, ctx.actor, { dryRun: Boolean(options.dryRun) });
  if (ctx.json) {
    printJson(ctx.io, { dryRun: Boolean(options.dryRun), changes, requestId: ctx.actor.requestId });
    return 0;
  }
  const c = colors(ctx.io);
  if (changes.length === 0) print(ctx.io, 'no changes: the store matches rotor.yaml');
  for (const ch of changes) {
    const mark =
      ch.type === 'add' ? c.green('+') : ch.type === 'remove' ? c.red('-') : c.yellow('~');
    print(ctx.io, `${mark} ${ch.what} ${ch.name}${ch.fields ? ` (${ch.fields.join(', ')})` : ''}`);
  }
  if (options.dryRun && changes.length > 0)
    print(ctx.io, `dry run: ${changes.length} change(s) not written`);
  else if (changes.length > 0) print(ctx.io, `applied ${changes.length} change(s)`);
  print(ctx.io, `request ${ctx.actor.requestId}`);
  return 0;
}

export function registerApply(program: Command, wrap: Wrap): void {
  program
    .command('apply')
    .description('load rotor.yaml into the store (idempotent; shows what changes)')
    .option('--dry-run', 'show the changes without writing them')
    .option('--json', 'machine-readable output')
    .action(wrap(applyCommand));
}
