// `rotor serve [--port N] [--host H]`: the HTTP API on 127.0.0.1 by default. Request logs go to
// stderr through the Rotor logger (info by default, ROTOR_LOG_LEVEL to change); SIGTERM or SIGINT
// stops accepting connections, lets requests in flight finish, then returns (main.ts exits).
import type { Command } from 'commander';
import { createLogger, createRotor } from '../../core/context.js';
import { RotorError } from '../../core/errors.js';
import { ROTATORS } from '../../rotators/registry.js';
import { buildApp } from '../../server/app.js';
import type { CommandContext, GlobalOptions } from '../command-context.js';
import { print } from '../io.js';
import type { Wrap } from '../program.js';

export interface ServeOptions extends GlobalOptions {
  port?: string;
  host?: string;
}

export const DEFAULT_PORT = 7420;

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new RotorError('ERR_ROTOR_CLI_USAGE', `invalid --port "${value}": use 0-65535 (0 picks a free port)`);
  return Number(value);
}

export async function serveCommand(ctx: CommandContext, options: ServeOptions): Promise<number> {
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  const env = ctx.io.env;
  const rotor = createRotor({
    cwd: ctx.io.cwd,
    env,
    rotators: ROTATORS,
    clock: ctx.rotor.clock,
    logger: createLogger({ ...env, ROTOR_LOG_LEVEL: env.ROTOR_LOG_LEVEL ?? 'info' }),
    ...(options.config ? { policyFile: options.config } : {}),
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
  });
  // Fail before listening if the project cannot serve: no policy, no store, wrong master key.
  rotor.policy();
  await rotor.store();
  await rotor.masterKey();
  const app = await buildApp({ rotor });
  try {
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve(signal);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    const address = await app.listen({ port, host });
    print(ctx.io, `rotor serve: listening on ${address} (API under /v1, OpenAPI at ${address}/v1/openapi.json)`);
    const signal = await stopped;
    rotor.logger.info({ signal }, 'shutting down');
  } finally {
    await app.close();
    await rotor.close();
  }
  print(ctx.io, 'rotor serve: stopped');
  return 0;
}

export function registerServe(program: Command, wrap: Wrap): void {
  program
    .command('serve')
    .description('run the HTTP API (bearer API tokens; see `rotor token create`)')
    .option('-p, --port <port>', `port (default ${DEFAULT_PORT}; 0 picks a free one)`)
    .option('--host <host>', 'address to bind (default 127.0.0.1: only this machine)')
    .action(wrap(serveCommand));
}
