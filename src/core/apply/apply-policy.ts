// Loads a validated policy into the store: environments and secret specs. Idempotent: a
// second apply of the same file changes nothing and reports no changes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Actor } from '../audit/audit-log.js';
import { getMeta, setMeta, type Store } from '../store/open-store.js';
import type { Database } from '../store/schema.js';
import { appendAudit } from '../audit/audit-log.js';
import type { Rotor } from '../context.js';
import type { Policy, SecretSpec } from '../policy/policy.js';
import { differsFromApplied, POLICY_DIGEST, POLICY_TEXT } from './policy-digest.js';

export { differsFromApplied, POLICY_DIGEST, POLICY_TEXT, policyDigest } from './policy-digest.js';

export interface PolicyChange {
  type: 'add' | 'change' | 'remove';
  what: 'environment' | 'secret';
  name: string;
  /** Which fields changed, for `change`. */
  fields?: string[];
}

function specJson(spec: SecretSpec): string {
  return JSON.stringify(spec);
}

export function diffPolicy(
  policy: Policy,
  stored: {
    environments: { name: string; position: number }[];
    secrets: { name: string; spec: string }[];
  },
): PolicyChange[] {
  const changes: PolicyChange[] = [];
  const storedEnvs = new Map(stored.environments.map((e) => [e.name, e.position]));
  policy.environments.forEach((name, position) => {
    if (!storedEnvs.has(name)) changes.push({ type: 'add', what: 'environment', name });
    else if (storedEnvs.get(name) !== position)
      changes.push({ type: 'change', what: 'environment', name, fields: ['order'] });
  });
  for (const name of storedEnvs.keys())
    if (!policy.environments.includes(name))
      changes.push({ type: 'remove', what: 'environment', name });
  const storedSecrets = new Map(stored.secrets.map((s) => [s.name, s.spec]));
  for (const [name, spec] of policy.secrets) {
    const before = storedSecrets.get(name);
    if (before === undefined) changes.push({ type: 'add', what: 'secret', name });
    else if (before !== specJson(spec)) {
      const old = JSON.parse(before) as Record<string, unknown>;
      const now = JSON.parse(specJson(spec)) as Record<string, unknown>;
      const fields = [...new Set([...Object.keys(old), ...Object.keys(now)])].filter(
        (k) => JSON.stringify(old[k]) !== JSON.stringify(now[k]),
      );
      changes.push({ type: 'change', what: 'secret', name, fields });
    }
  }
  for (const name of storedSecrets.keys())
    if (!policy.secrets.has(name)) changes.push({ type: 'remove', what: 'secret', name });
  return changes;
}

/** True when rotor.yaml differs from what was last applied (false when either is unknown). */
export async function policyHasUnappliedChanges(store: Store, file: string): Promise<boolean> {
  return differsFromApplied(file, await getMeta(store, POLICY_DIGEST));
}

async function recordDigest(trx: Kysely<Database>, file: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return;
  }
  await setMeta(trx, POLICY_DIGEST, createHash('sha256').update(bytes).digest('hex'));
  // The text itself, so a running `rotor serve` follows what was applied, not the file it read at start.
  await setMeta(trx, POLICY_TEXT, bytes.toString('utf8'));
}

/** Computes and (unless `dryRun`) writes the changes in one transaction, audited. */
export async function applyPolicy(
  rotor: Rotor,
  actor: Actor,
  options: { dryRun?: boolean } = {},
): Promise<PolicyChange[]> {
  const policy = rotor.policy();
  const store = await rotor.store({ create: !options.dryRun });
  return store.writeTransaction(async (trx) => {
    const environments = await trx.selectFrom('environments').selectAll().execute();
    const secrets = await trx.selectFrom('secrets').select(['name', 'spec']).execute();
    const changes = diffPolicy(policy, { environments, secrets });
    if (options.dryRun) return changes;
    await recordDigest(trx, rotor.policyFile);
    if (changes.length === 0) return changes;
    const now = rotor.clock.now();
    await trx.deleteFrom('environments').execute();
    if (policy.environments.length > 0) {
      await trx
        .insertInto('environments')
        .values(policy.environments.map((name, position) => ({ name, position })))
        .execute();
    }
    for (const change of changes) {
      if (change.what !== 'secret') continue;
      if (change.type === 'remove') {
        await trx.deleteFrom('secrets').where('name', '=', change.name).execute();
        continue;
      }
      const spec = policy.secrets.get(change.name)!;
      await trx
        .insertInto('secrets')
        .values({ name: spec.name, kind: spec.kind, spec: specJson(spec), applied_at: now })
        .onConflict((oc) =>
          oc.column('name').doUpdateSet({ kind: spec.kind, spec: specJson(spec), applied_at: now }),
        )
        .execute();
    }
    for (const change of changes) {
      await appendAudit(trx, rotor.clock, actor, {
        secret: change.what === 'secret' ? change.name : null,
        environment: change.what === 'environment' ? change.name : null,
        action: `policy.${change.type}`,
        outcome: 'success',
        notes: change.fields
          ? `changed: ${change.fields.join(', ')}`
          : `${change.what} ${change.type === 'add' ? 'added' : 'removed'}`,
        details: { file: rotor.policyFile },
      });
    }
    return changes;
  });
}
