// `rotor store migrate --to postgres://…`: copies the current store (SQLite by default) into an
// empty PostgreSQL database. The URL on argv must not carry a password: PGPASSWORD or
// ROTOR_STORE_PASSWORD_FILE give it, as they do for ROTOR_STORE_URL.
import type { Command } from 'commander';
import { RotorError } from '../../core/errors.js';
import { migrateStore, type MigrateStoreResult } from '../../core/migrate/migrate-store.js';
import { postgresTarget, redactStoreUrl } from '../../core/store/store-url.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface StoreMigrateOptions {
  to: string;
  json?: boolean;
}

function targetOf(ctx: CommandContext, url: string) {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new RotorError(
      'ERR_ROTOR_STORE_URL_INVALID',
      `--to must be a PostgreSQL URL (postgres://user@host:5432/rotor), not ${redactStoreUrl(url)}`,
    );
  }
  if (new URL(url).password) {
    throw new RotorError(
      'ERR_ROTOR_VALUE_ON_ARGV',
      '--to must not hold a password (argv is visible to other users): set PGPASSWORD or ROTOR_STORE_PASSWORD_FILE instead',
    );
  }
  return postgresTarget(url, ctx.rotor.env, '--to');
}

export async function storeMigrateCommand(
  ctx: CommandContext,
  options: StoreMigrateOptions,
): Promise<number> {
  const target = targetOf(ctx, options.to);
  const source = await ctx.rotor.store();
  const { openPostgresStore } = await import('../../core/store/postgres-adapter.js');
  const opened = await openPostgresStore(target, { create: true });
  let result: MigrateStoreResult;
  try {
    result = await migrateStore({
      source,
      target: opened,
      clock: ctx.rotor.clock,
      actor: ctx.actor,
    });
  } finally {
    await opened.close();
  }
  const rows = Object.values(result.tables).reduce((a, b) => a + b, 0);
  if (ctx.json) {
    printJson(ctx.io, {
      from: source.location,
      to: target.display,
      ...result,
      requestId: ctx.actor.requestId,
    });
    return 0;
  }
  print(ctx.io, `copied ${rows} rows from ${source.location} to ${target.display}`);
  print(
    ctx.io,
    `audit chain copied up to seq ${result.headSeq}; both stores recorded store.migrated after it`,
  );
  print(
    ctx.io,
    `use it: ROTOR_STORE_URL=${target.display} (keep the master key; the old store is left as it was)`,
  );
  print(ctx.io, `request ${ctx.actor.requestId}`);
  return 0;
}

export function registerStore(program: Command, wrap: Wrap): void {
  const store = program.command('store').description("manage Rotor's own store");
  store
    .command('migrate')
    .description(
      'copy this store into an empty PostgreSQL database (values stay sealed; the audit chain is kept)',
    )
    .requiredOption('--to <url>', 'the target: postgres://user@host:5432/db (no password here)')
    .option('--json', 'machine-readable result')
    .action(wrap(storeMigrateCommand));
}
