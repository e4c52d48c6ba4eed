// `rotor db adopt NAME --env E [--dry-run] [--yes] [--from-user U]`: first-time setup of a
// database secret on an existing database. Prints the SQL that moves the app's objects and
// privileges from its single login user to Rotor's group role, then (after confirmation, or
// --yes) runs it in one transaction and audits it as `db.adopt`. Safe to run again.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { appendAudit } from '../../core/audit/audit-log.js';
import { RotorError, isRotorError } from '../../core/errors.js';
import type { RotatorContext } from '../../core/rotator/rotator-contract.js';
import { acquireLock, lockName } from '../../core/rotation/lock.js';
import { openVersion, parseMeta, versionInStage } from '../../core/vault/versions.js';
import {
  applyMysqlAdoption,
  planMysqlAdoption,
  type MysqlConfig,
} from '../../rotators/mysql-adopt.js';
import {
  applyPostgresAdoption,
  planPostgresAdoption,
  type AdoptPlan,
} from '../../rotators/postgres/adopt.js';
import type { PostgresConfig } from '../../rotators/postgres/postgres-config.js';
import type { CommandContext } from '../command-context.js';
import { colors, print, printJson, type CliIo } from '../io.js';
import type { Wrap } from '../program.js';

export interface AdoptOptions {
  env: string;
  dryRun?: boolean;
  yes?: boolean;
  fromUser?: string;
  json?: boolean;
}

/** One per database kind: plan (read-only) and apply. */
interface Adopter {
  plan(ctx: RotatorContext<unknown>, oldUser: string): Promise<AdoptPlan>;
  apply(
    ctx: RotatorContext<unknown>,
    plan: AdoptPlan,
  ): Promise<{ plan: AdoptPlan; verified: number }>;
  /** The statements run in one transaction (PostgreSQL); MariaDB commits each GRANT. */
  transactional: boolean;
  /**
   * The rotator retires a previous version by the login role in its metadata (postgres), which a
   * `rotor import`ed URL lacks; mysql reads the user from the URL.
   */
  marksImport: boolean;
}

const ADOPTERS: Record<string, Adopter> = {
  postgres: {
    plan: (ctx, user) => planPostgresAdoption(ctx as RotatorContext<PostgresConfig>, user),
    apply: (ctx, plan) => applyPostgresAdoption(ctx as RotatorContext<PostgresConfig>, plan),
    transactional: true,
    marksImport: true,
  },
  mysql: {
    plan: (ctx, user) => planMysqlAdoption(ctx as RotatorContext<MysqlConfig>, user),
    apply: (ctx, plan) => applyMysqlAdoption(ctx as RotatorContext<MysqlConfig>, plan),
    transactional: false,
    marksImport: false,
  },
};

/** The current value of `name` in `environment`, or undefined when it has none yet. */
async function currentValue(
  ctx: CommandContext,
  name: string,
  environment: string,
): Promise<string | undefined> {
  const store = await ctx.rotor.store();
  const row = await versionInStage(store.db, name, environment, 'current');
  return row ? openVersion(await ctx.rotor.masterKey(), row) : undefined;
}

function userOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username);
  } catch {
    return '';
  }
}

interface OldUser {
  name: string;
  /**
   * The current version, when it is the old user's URL stored by `rotor import` without the
   * login role the postgres rotator reads to retire it (`meta.role`): adopt records it.
   */
  unmarked?: { id: string; meta: Record<string, string | number | boolean> };
}

/** The app's login role: --from-user, else the user of the secret's current DATABASE_URL. */
async function oldUserOf(
  ctx: CommandContext,
  name: string,
  environment: string,
  fromUser: string | undefined,
): Promise<OldUser> {
  const store = await ctx.rotor.store();
  const row = await versionInStage(store.db, name, environment, 'current');
  const user = row ? userOf(openVersion(await ctx.rotor.masterKey(), row)) : '';
  const meta = row ? parseMeta(row) : {};
  const unmarked =
    row && user && typeof meta.role !== 'string' && (!fromUser || fromUser === user)
      ? { unmarked: { id: row.id, meta } }
      : {};
  if (fromUser) return { name: fromUser, ...unmarked };
  if (!row) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `${name} has no current version in ${environment}, so the application's login role is unknown: pass --from-user NAME (or \`rotor import\` the current URL first)`,
    );
  }
  if (!user)
    throw new RotorError(
      'ERR_ROTOR_VALUE_INVALID',
      `the current ${name} in ${environment} is not a URL with a user name: pass --from-user NAME`,
    );
  return { name: user, ...unmarked };
}

function printPlan(io: CliIo, plan: AdoptPlan, transactional: boolean): void {
  const c = colors(io);
  print(
    io,
    `${plan.secret} in ${plan.environment}: adopt login role "${plan.oldUser}" into group role "${plan.group}" (database ${plan.database})`,
  );
  if (plan.alreadyAdopted) return;
  if (plan.owned.length)
    print(
      io,
      c.dim(`-- owned by "${plan.oldUser}", moving to "${plan.group}": ${plan.owned.join(', ')}`),
    );
  if (transactional) print(io, 'BEGIN;');
  for (const statement of plan.statements) print(io, `${statement};`);
  if (transactional) print(io, 'COMMIT;');
  for (const note of plan.notes) print(io, `${c.yellow('!')} ${note}`);
  for (const statement of plan.later) print(io, `-- after the first rotation: ${statement};`);
}

/** Asks on the terminal; anything but y/yes is a no. */
async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(question);
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function adoptCommand(
  ctx: CommandContext,
  options: AdoptOptions,
  name: string,
): Promise<number> {
  const { rotor, io } = ctx;
  const spec = rotor.secret(name);
  const adopter = ADOPTERS[spec.kind];
  if (!adopter) {
    throw new RotorError(
      'ERR_ROTOR_CLI_USAGE',
      `rotor db adopt sets up database secrets (kind ${Object.keys(ADOPTERS).join(' or ')}); ${name} is kind ${spec.kind}`,
      { details: { secret: name, kind: spec.kind } },
    );
  }
  rotor.assertEnvironment(spec, options.env);
  const environment = options.env;
  const old = await oldUserOf(ctx, name, environment, options.fromUser);
  const oldUser = old.name;
  const rctx: RotatorContext<unknown> = {
    secret: name,
    environment,
    versionId: 'adopt',
    config: spec.config,
    clock: rotor.clock,
    emergency: false,
    env: rotor.env,
    lifetimeMs: spec.cadence.maxMs + spec.graceMs,
    readSecret: (secret) => currentValue(ctx, secret, environment),
  };
  const plan = await adopter.plan(rctx, oldUser);
  const json = Boolean(options.json);
  if (!json) printPlan(io, plan, adopter.transactional);
  const store = await rotor.store();
  const facts = {
    database: plan.database,
    oldUser,
    group: plan.group,
    statements: plan.statements.length,
  };
  /** Audits the outcome and, on success, records the old user on an imported version (see OldUser). */
  const record = (
    outcome: 'success' | 'failure' | 'info',
    notes: string,
    details: Record<string, string | number | boolean | null>,
  ) =>
    store.writeTransaction(async (trx) => {
      const mark = outcome !== 'failure' && adopter.marksImport && old.unmarked;
      if (mark)
        await trx
          .updateTable('versions')
          .set({ meta: JSON.stringify({ ...mark.meta, role: oldUser }) })
          .where('id', '=', mark.id)
          .execute();
      await appendAudit(trx, rotor.clock, ctx.actor, {
        secret: name,
        environment,
        action: 'db.adopt',
        outcome,
        notes,
        details: { ...details, ...(mark ? { version: mark.id } : {}) },
      });
    });
  if (plan.alreadyAdopted || options.dryRun) {
    // Only the store's record of the old login role can be missing (a URL imported after adopt).
    if (plan.alreadyAdopted && adopter.marksImport && old.unmarked && !options.dryRun)
      await record('info', `recorded login role "${oldUser}" on the imported version`, facts);
    if (json)
      printJson(io, {
        ...plan,
        applied: false,
        dryRun: Boolean(options.dryRun),
        requestId: ctx.actor.requestId,
      });
    else if (plan.alreadyAdopted)
      print(io, `already adopted: ${plan.alreadyAdopted}; nothing to do`);
    else print(io, 'dry run: nothing was changed');
    return 0;
  }
  if (!options.yes) {
    if (!io.stdin.isTTY) {
      throw new RotorError(
        'ERR_ROTOR_CLI_USAGE',
        'not a terminal, so adopt cannot ask for confirmation: review the SQL with --dry-run, then run again with --yes; nothing was changed',
      );
    }
    if (
      !(await confirm(
        io,
        `Run these ${plan.statements.length} statements on ${plan.database} (${environment})${adopter.transactional ? ' in one transaction' : ''}? [y/N] `,
      ))
    ) {
      print(io, 'not confirmed: nothing was changed');
      return 1;
    }
  }
  // No rotation of this secret may run while its roles are being rearranged.
  const lock = await acquireLock(store, rotor.clock, lockName(name, environment));
  try {
    const result = await adopter.apply(rctx, plan);
    await record(
      'success',
      `"${result.plan.oldUser}" adopted into "${plan.group}"; it keeps working until it is dropped`,
      { ...facts, verified: result.verified },
    );
    if (json)
      printJson(io, {
        ...result.plan,
        applied: true,
        verified: result.verified,
        requestId: ctx.actor.requestId,
      });
    else {
      print(
        io,
        `${colors(io).green('adopted')}: ${result.verified} privileges of "${result.plan.oldUser}" verified effective for "${plan.group}"; "${result.plan.oldUser}" keeps working`,
      );
      print(
        io,
        `next: rotor rotate ${name} --env ${environment}; once the app runs on the new login, drop "${oldUser}" (see README, rotor db adopt)`,
      );
      print(io, `request ${ctx.actor.requestId}`);
    }
    return 0;
  } catch (error) {
    await record(
      'failure',
      `failed: ${isRotorError(error) ? error.code : 'error'}${adopter.transactional ? ' (rolled back)' : ''}`,
      { ...facts, error: isRotorError(error) ? error.code : null },
    );
    throw error;
  } finally {
    await lock.release();
  }
}

export function registerDb(program: Command, wrap: Wrap): void {
  const db = program
    .command('db')
    .description('database secrets: first-time setup on an existing database');
  db.command('adopt')
    .description(
      "move an existing app user's objects and privileges to Rotor's group role (prints the SQL first; one transaction on PostgreSQL)",
    )
    .argument('<name>', 'secret name, e.g. DATABASE_URL (kind postgres or mysql)')
    .requiredOption('-e, --env <environment>', 'environment whose database to adopt')
    .option('--dry-run', 'print the SQL and change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .option(
      '--from-user <role>',
      "the app's current login role, or user@host for mysql (default: the user of the current value)",
    )
    .option('--json', 'machine-readable result')
    .action(wrap(adoptCommand));
}
