// `rotor init`: writes rotor.yaml with the runbook's inventory, creates .rotor/ with a master
// key (mode 0600) and an empty store.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { ensureMasterKeyFile } from '../../core/crypto/master-key-file.js';
import { recordAudit } from '../../core/audit/audit-log.js';
import { RotorError } from '../../core/errors.js';
import { DEFAULT_POLICY_YAML } from '../../core/policy/default-policy.js';
import type { CommandContext } from '../command-context.js';
import { print, printJson } from '../io.js';
import type { Wrap } from '../program.js';

export interface InitOptions {
  force?: boolean;
}

export async function initCommand(ctx: CommandContext, options: InitOptions): Promise<number> {
  const { rotor } = ctx;
  const policyExists = existsSync(rotor.policyFile);
  if (policyExists && !options.force) {
    throw new RotorError('ERR_ROTOR_POLICY_EXISTS', `${rotor.policyFile} already exists: edit it, or pass --force to keep it and only create what is missing`);
  }
  if (!policyExists) writeFileSync(rotor.policyFile, DEFAULT_POLICY_YAML, { flag: 'wx' });
  mkdirSync(rotor.stateDir, { recursive: true, mode: 0o700 });
  const wroteKey = ensureMasterKeyFile({ stateDir: rotor.stateDir, env: rotor.env });
  const store = await rotor.store({ create: true });
  await rotor.masterKey();
  await recordAudit(store, rotor.clock, ctx.actor, {
    action: 'init',
    outcome: 'success',
    notes: wroteKey ? 'created policy, store and master key file' : 'created policy and store',
  });
  const rel = (p: string) => relative(rotor.cwd, p) || p;
  if (ctx.json) {
    printJson(ctx.io, { policyFile: rotor.policyFile, stateDir: rotor.stateDir, masterKeyFile: wroteKey, requestId: ctx.actor.requestId });
  } else {
    print(ctx.io, `${policyExists ? 'kept' : 'wrote'} ${rel(rotor.policyFile)}  (the runbook's inventory; edit it, then \`rotor apply\`)`);
    print(ctx.io, `created ${rel(rotor.stateDir)}/ with the store${wroteKey ? ` and a master key (${rel(rotor.stateDir)}/master.key, mode 0600: back it up, never commit it)` : ' (master key from ROTOR_MASTER_KEY)'}`);
    print(ctx.io, `request ${ctx.actor.requestId}`);
  }
  return 0;
}

export function registerInit(program: Command, wrap: Wrap): void {
  program
    .command('init')
    .description("write rotor.yaml with the runbook's inventory and create the store and master key")
    .option('--force', 'keep an existing rotor.yaml and create only what is missing')
    .option('--json', 'machine-readable output')
    .action(wrap(initCommand));
}
