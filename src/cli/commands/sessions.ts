// `rotor sessions revoke --user ID | --all`: makes every token issued until now fail in the
// app's session store (rotor.yaml `sessions:`), optionally flagging a password reset.
import type { Command } from 'commander';
import { revokeSessions } from '../../core/sessions/revoke-sessions.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface SessionsRevokeOptions {
  user?: string;
  all?: boolean;
  requirePasswordReset?: boolean;
  reason?: string;
  json?: boolean;
}

export async function sessionsRevokeCommand(
  ctx: CommandContext,
  options: SessionsRevokeOptions,
): Promise<number> {
  const result = await revokeSessions(ctx.rotor, ctx.actor, {
    ...(options.user !== undefined ? { userId: options.user } : {}),
    all: Boolean(options.all),
    requirePasswordReset: Boolean(options.requirePasswordReset),
    ...(options.reason !== undefined ? { reason: options.reason } : {}),
  });
  if (options.json) {
    printJson(ctx.io, { revoked: result, requestId: ctx.actor.requestId });
    return 0;
  }
  const whose = result.scope === 'all' ? 'every user' : `user ${result.userId}`;
  print(
    ctx.io,
    `revoked the sessions of ${whose} in the ${result.store} session store: tokens issued until ${result.validAfter} are rejected`,
  );
  if (result.requirePasswordReset)
    print(
      ctx.io,
      `${result.scope === 'all' ? 'every user' : 'the user'} must set a new password before logging in again`,
    );
  print(ctx.io, `request ${ctx.actor.requestId}`);
  return 0;
}

export function registerSessions(program: Command, wrap: Wrap): void {
  const sessions = program
    .command('sessions')
    .description("revoke the app's sessions and refresh tokens (rotor/tokens)");
  sessions
    .command('revoke')
    .description('make every token issued until now fail, for one user or everybody')
    .option('--user <id>', 'only this user')
    .option('--all', 'every user')
    .option(
      '--require-password-reset',
      'flag the user(s) for a password reset until the app reports a new password',
    )
    .option('--reason <text>', 'why (required; recorded in the audit log)')
    .option('--json', 'machine-readable result')
    .action(wrap(sessionsRevokeCommand));
}
