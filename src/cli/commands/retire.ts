// `rotor retire [NAME]`: retires previous versions whose grace window has passed.
import type { Command } from 'commander';
import { createRotationEngine } from '../../core/rotation/rotation-engine.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export async function retireCommand(
  ctx: CommandContext,
  options: { env?: string; now?: boolean; force?: boolean; reason?: string; json?: boolean },
  name?: string,
): Promise<number> {
  const engine = createRotationEngine({ rotor: ctx.rotor });
  const retired = await engine.retire(ctx.actor, {
    ...(name ? { secret: name } : {}),
    ...(options.env ? { environment: options.env } : {}),
    now: Boolean(options.now),
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.force ? { force: true } : {}),
  });
  if (options.json) printJson(ctx.io, { retired, requestId: ctx.actor.requestId });
  else {
    if (retired.length === 0)
      print(
        ctx.io,
        'nothing to retire: no previous version has reached the end of its grace window',
      );
    for (const r of retired) {
      if (r.postponed)
        print(
          ctx.io,
          `postponed ${r.secret}/${r.environment} version ${r.versionId}: ${r.reason ?? 'the old credential is still in use'} (retry later, or --force)`,
        );
      else if (r.proof?.state === 'kept')
        print(
          ctx.io,
          `kept ${r.secret}/${r.environment} version ${r.versionId}: ${r.proof.detail}`,
        );
      else if (r.proof?.state === 'accepted')
        print(
          ctx.io,
          `NOT REVOKED ${r.secret}/${r.environment} version ${r.versionId}: ${r.proof.detail}`,
        );
      else
        print(
          ctx.io,
          `retired ${r.secret}/${r.environment} version ${r.versionId}${r.early ? ' (before its grace ended)' : ''}${r.proof ? `; ${r.proof.detail}` : ''}`,
        );
    }
    print(ctx.io, `request ${ctx.actor.requestId}`);
  }
  // A retired credential the server still accepts is a failure, whatever else went well.
  return retired.some((r) => r.proof?.state === 'accepted') ? 1 : 0;
}

export function registerRetire(program: Command, wrap: Wrap): void {
  program
    .command('retire')
    .description('retire previous versions whose grace window has passed')
    .argument('[name]', 'only this secret')
    .option('-e, --env <environment>', 'only this environment')
    .option('--now', 'retire even inside the grace window (needs --reason)')
    .option(
      '--force',
      'retire even while the old credential still has live sessions (they are cut off)',
    )
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'machine-readable result')
    .action(wrap(retireCommand));
}
