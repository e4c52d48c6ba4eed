// `rotor token create | list | revoke`: API tokens for `rotor serve`. A created token is printed
// once, to stdout, and stored only as a hash; lose it and create another.
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { createApiToken } from '../../core/tokens/create-token.js';
import { listApiTokens } from '../../core/tokens/list-tokens.js';
import { revokeApiToken } from '../../core/tokens/revoke-token.js';
import { TOKEN_ROLES } from '../../core/tokens/token-grant.js';
import type { ApiTokenInfo } from '../../core/tokens/token-record.js';
import type { CommandContext } from '../command-context.js';
import { collectOption, colors, formatTable, print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface TokenCreateOptions {
  name: string;
  role: string;
  secret?: string[];
  env?: string[];
  expires?: string;
}

function grantText(t: ApiTokenInfo): string {
  return t.role === 'app' ? `${t.secrets.join(',')} in ${t.environments.join(',')}` : '-';
}

export async function tokenCreateCommand(
  ctx: CommandContext,
  options: TokenCreateOptions,
): Promise<number> {
  const store = await ctx.rotor.store();
  const { token, info } = await createApiToken(store, ctx.rotor.clock, ctx.actor, {
    name: options.name,
    role: options.role,
    ...(options.secret ? { secrets: options.secret } : {}),
    ...(options.env ? { environments: options.env } : {}),
    ...(options.expires ? { expiresInMs: parseDuration(options.expires) } : {}),
  });
  if (ctx.json) {
    printJson(ctx.io, { token, ...info, requestId: ctx.actor.requestId });
    return 0;
  }
  const c = colors(ctx.io);
  print(ctx.io, token);
  ctx.io.stderr.write(
    `${c.green('created')} API token ${info.id} "${info.name}" (${info.role}${info.role === 'app' ? `: ${grantText(info)}` : ''})${info.expiresAt ? `, expires ${info.expiresAt}` : ', no expiry'}\n` +
      `The token above is shown this once: store it now (it is kept only as a hash).\n`,
  );
  return 0;
}

export async function tokenListCommand(ctx: CommandContext): Promise<number> {
  const tokens = await listApiTokens(await ctx.rotor.store(), ctx.rotor.clock);
  if (ctx.json) {
    printJson(ctx.io, { tokens });
    return 0;
  }
  if (tokens.length === 0) {
    print(ctx.io, 'no API tokens: create one with `rotor token create --name NAME --role ROLE`');
    return 0;
  }
  const rows = tokens.map((t) => [
    t.id,
    t.name,
    t.role,
    grantText(t),
    t.state,
    t.createdAt.slice(0, 10),
    t.expiresAt?.slice(0, 10) ?? '-',
    t.lastUsedAt?.replace('T', ' ').slice(0, 16) ?? '-',
  ]);
  print(
    ctx.io,
    formatTable(['ID', 'NAME', 'ROLE', 'GRANT', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED'], rows),
  );
  return 0;
}

export async function tokenRevokeCommand(
  ctx: CommandContext,
  options: { reason: string },
  id: string,
): Promise<number> {
  const info = await revokeApiToken(await ctx.rotor.store(), ctx.rotor.clock, ctx.actor, {
    id,
    reason: options.reason,
  });
  if (ctx.json) printJson(ctx.io, { ...info, requestId: ctx.actor.requestId });
  else
    print(
      ctx.io,
      `revoked API token ${info.id} "${info.name}" (${info.role}); request ${ctx.actor.requestId}`,
    );
  return 0;
}

export function registerToken(program: Command, wrap: Wrap): void {
  const token = program
    .command('token')
    .description('API tokens for `rotor serve`: create (shown once), list, revoke');
  token
    .command('create')
    .description('create an API token and print it once')
    .requiredOption(
      '--name <name>',
      'who or what uses it (recorded as the operator in the audit log)',
    )
    .requiredOption('--role <role>', TOKEN_ROLES.join(' | '))
    .option(
      '--secret <pattern>',
      'app tokens: a secret it may read, globs allowed (JWT_*); repeatable',
      collectOption,
    )
    .option(
      '-e, --env <pattern>',
      'app tokens: an environment it may read in; repeatable',
      collectOption,
    )
    .option('--expires <duration>', 'lifetime, e.g. 90d (default: no expiry)')
    .option('--json', 'machine-readable output (includes the token)')
    .action(wrap(tokenCreateCommand));
  token
    .command('list')
    .description('list API tokens (never their secrets)')
    .option('--json', 'machine-readable output')
    .action(wrap(tokenListCommand));
  token
    .command('revoke')
    .description('revoke an API token at once')
    .argument('<id>', 'the token id (rotor token list)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'machine-readable output')
    .action(wrap(tokenRevokeCommand));
}
