// `rotor jwks NAME --env E [--json]`: the public JWK Set of an asymmetric signing secret, for
// third-party verifiers (`rotor jwks JWT_SIGNING_KEY --env production > public/jwks.json`).
// stdout carries only the JWK Set `{ "keys": [...] }`, so it can be served or saved as is; the
// human notes (which key is standby, current, previous, and until when) go to stderr, and
// --json leaves them out. Public keys only: there is no terminal guard as for `rotor get`.
import type { Command } from 'commander';
import { readJwks, type PublishedKey } from '../../core/delivery/jwks.js';
import type { CommandContext } from '../command-context.js';
import { printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface JwksOptions {
  env: string;
  json?: boolean;
}

function note(key: PublishedKey): string {
  const until =
    key.until === null
      ? ''
      : key.stage === 'standby'
        ? `  current from ${new Date(key.until).toISOString()}`
        : `  accepted until ${new Date(key.until).toISOString()}`;
  return `${key.stage.padEnd(8)} ${key.kid}  ${key.alg}${until}`;
}

export async function jwksCommand(
  ctx: CommandContext,
  options: JwksOptions,
  name: string,
): Promise<number> {
  const result = await readJwks(ctx.rotor, ctx.actor, name, options.env);
  printJson(ctx.io, result.jwks);
  if (!options.json && !ctx.json) {
    ctx.io.stderr.write(`${result.keys.map(note).join('\n')}\nrequest ${ctx.actor.requestId}\n`);
  }
  return 0;
}

export function registerJwks(program: Command, wrap: Wrap): void {
  program
    .command('jwks')
    .description(
      'print the public JWK Set (standby, current, previous) of an asymmetric signing key',
    )
    .argument('<name>', 'secret name, e.g. JWT_SIGNING_KEY (kind jwt-keypair)')
    .requiredOption('-e, --env <environment>', 'environment to publish (default ROTOR_ENV)')
    .option('--json', 'only the JWK Set, no notes on stderr')
    .action(wrap(jwksCommand));
}
