// `rotor init`: writes rotor.yaml with the runbook's inventory, creates .rotor/ with a master
// key (mode 0600) and an empty store. Inside a git work tree it also writes .rotor/.gitignore,
// so `git add .` never commits the key beside the store. It never touches an existing store (the
// SQLite file, or a PostgreSQL database that holds one): a new key cannot open values sealed
// under a lost one, so making one would only hide the loss.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import {
  ensureMasterKeyFile,
  MASTER_KEY_FILE,
  masterKeyFromEnv,
} from '../../core/crypto/master-key-file.js';
import { recordAudit } from '../../core/audit/audit-log.js';
import { RotorError } from '../../core/errors.js';
import { DEFAULT_POLICY_YAML } from '../../core/policy/default-policy.js';
import { resolveStoreTarget } from '../../core/store/store-url.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface InitOptions {
  force?: boolean;
}

/** The directory holding `.git` (a folder, or a file in a worktree) at or above `dir`, if any. */
export function gitWorkTreeOf(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

const STATE_GITIGNORE =
  "# Rotor's state: the store and the master key. Never commit them (back the key up elsewhere).\n*\n";

/**
 * Where a Rotor store already is, if the configured target holds one: the SQLite file, or a
 * PostgreSQL database where Rotor's migrations have run (asked read-only: nothing is created).
 */
async function existingStore(ctx: CommandContext): Promise<string | undefined> {
  const { rotor } = ctx;
  const target = resolveStoreTarget(rotor.stateDir, rotor.env);
  if (target.kind === 'sqlite') return existsSync(target.file) ? target.file : undefined;
  const { openPostgres, postgresStoreExists, mapPostgresError } =
    await import('../../core/store/postgres-adapter.js');
  const db = await openPostgres(target);
  try {
    return (await postgresStoreExists(db)) ? target.display : undefined;
  } catch (error) {
    throw mapPostgresError(error, target.display);
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

/**
 * Refuses to run over an existing store, naming what to do instead. A lost key is said first
 * (whatever else init would complain about), as it is what the operator must act on.
 */
function assertNoStore(ctx: CommandContext, store: string | undefined, onlyIfKeyLost: boolean) {
  const { rotor } = ctx;
  if (store === undefined) return;
  const keyPath = join(rotor.stateDir, MASTER_KEY_FILE);
  const keyLost =
    !masterKeyFromEnv({ stateDir: rotor.stateDir, env: rotor.env }) && !existsSync(keyPath);
  if (onlyIfKeyLost && !keyLost) return;
  // A shared store (PostgreSQL) is usually joined from another host: say how, not only "restore".
  const howToJoin = store.startsWith('postgres')
    ? ': to use it from here, copy rotor.yaml and the master key from a host that uses it'
    : '';
  throw new RotorError(
    'ERR_ROTOR_STORE_EXISTS',
    keyLost
      ? `a store already exists at ${store} but its master key ${keyPath} is missing: restore it from your backup (or set ROTOR_MASTER_KEY)${howToJoin}. A new key cannot open the stored values, so init will not make one`
      : `a store already exists at ${store}: init only sets up a new project (edit rotor.yaml and run \`rotor apply\`)${howToJoin}`,
    { details: { store } },
  );
}

export async function initCommand(ctx: CommandContext, options: InitOptions): Promise<number> {
  const { rotor } = ctx;
  // Asked once, before anything is written: a store found (or a store that cannot be reached)
  // stops init with nothing changed, on SQLite and PostgreSQL alike.
  const store = await existingStore(ctx);
  assertNoStore(ctx, store, true);
  const policyExists = existsSync(rotor.policyFile);
  if (policyExists && !options.force) {
    throw new RotorError(
      'ERR_ROTOR_POLICY_EXISTS',
      `${rotor.policyFile} already exists: edit it and run \`rotor apply\` (--force keeps it and creates the store and key, when there is no store yet)`,
    );
  }
  assertNoStore(ctx, store, false);
  if (!policyExists) writeFileSync(rotor.policyFile, DEFAULT_POLICY_YAML, { flag: 'wx' });
  mkdirSync(rotor.stateDir, { recursive: true, mode: 0o700 });
  const gitTree = gitWorkTreeOf(rotor.stateDir);
  const gitignore = join(rotor.stateDir, '.gitignore');
  const wroteGitignore = gitTree !== undefined && !existsSync(gitignore);
  if (wroteGitignore) writeFileSync(gitignore, STATE_GITIGNORE, { flag: 'wx' });
  const wroteKey = ensureMasterKeyFile({ stateDir: rotor.stateDir, env: rotor.env });
  const created = await rotor.store({ create: true });
  await rotor.masterKey();
  await recordAudit(created, rotor.clock, ctx.actor, {
    action: 'init',
    outcome: 'success',
    notes: wroteKey ? 'created policy, store and master key file' : 'created policy and store',
  });
  const rel = (p: string) => relative(rotor.cwd, p) || p;
  if (ctx.json) {
    printJson(ctx.io, {
      policyFile: rotor.policyFile,
      stateDir: rotor.stateDir,
      masterKeyFile: wroteKey,
      gitignore: wroteGitignore ? gitignore : null,
      requestId: ctx.actor.requestId,
    });
  } else {
    print(
      ctx.io,
      `${policyExists ? 'kept' : 'wrote'} ${rel(rotor.policyFile)}  (the runbook's inventory; edit it, then \`rotor apply\`)`,
    );
    print(
      ctx.io,
      `created ${rel(rotor.stateDir)}/ with the store${wroteKey ? ` and a master key (${rel(rotor.stateDir)}/master.key, mode 0600: back it up, never commit it)` : ' (master key from ROTOR_MASTER_KEY)'}`,
    );
    if (wroteGitignore)
      print(
        ctx.io,
        `wrote ${rel(gitignore)}  (inside a git work tree: git will not commit the store or the key)`,
      );
    print(ctx.io, `request ${ctx.actor.requestId}`);
  }
  return 0;
}

export function registerInit(program: Command, wrap: Wrap): void {
  program
    .command('init')
    .description(
      "write rotor.yaml with the runbook's inventory and create the store and master key",
    )
    .option(
      '--force',
      'keep an existing rotor.yaml and create the store and key (refused while a store exists)',
    )
    .option('--json', 'machine-readable output')
    .action(wrap(initCommand));
}
