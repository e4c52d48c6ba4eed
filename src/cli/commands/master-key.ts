// `rotor master-key rotate`: re-wrap every data key under a new master key.
import type { Command } from 'commander';
import { rotateMasterKey } from '../../core/master-key/rotate-master-key.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export async function masterKeyRotateCommand(
  ctx: CommandContext,
  options: { newKeyFile?: string; json?: boolean },
): Promise<number> {
  const result = await rotateMasterKey(
    ctx.rotor,
    ctx.actor,
    options.newKeyFile ? { newKeyFile: options.newKeyFile } : {},
  );
  if (options.json) printJson(ctx.io, { ...result, requestId: ctx.actor.requestId });
  else {
    print(
      ctx.io,
      `master key rotated: ${result.oldKeyId} → ${result.newKeyId}; re-wrapped ${result.rewrapped} data key(s)`,
    );
    print(
      ctx.io,
      result.fromEnv
        ? `the new key is in ${result.keyFile} (mode 0600): set ROTOR_MASTER_KEY from it now, then delete the file`
        : `the new key is in ${result.keyFile}: update your backup`,
    );
    print(ctx.io, `request ${ctx.actor.requestId}`);
  }
  return 0;
}

export function registerMasterKey(program: Command, wrap: Wrap): void {
  const masterKey = program.command('master-key').description("manage Rotor's own master key");
  masterKey
    .command('rotate')
    .description('generate a new master key and re-wrap every data key with it (crash-safe)')
    .option(
      '--new-key-file <file>',
      'where to write the new key when the current one comes from ROTOR_MASTER_KEY',
    )
    .option('--json', 'machine-readable result')
    .action(wrap(masterKeyRotateCommand));
}
