// What was applied, as meta rows: the policy file's digest and text. Apart from apply-policy.ts
// so that `rotor status` compares rotor.yaml with the applied policy without loading Kysely.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const POLICY_DIGEST = 'policy_sha256';
/** The applied policy file's text (see applied-policy.ts). */
export const POLICY_TEXT = 'policy_text';

/** SHA-256 of the policy file as applied, so status can tell when rotor.yaml has moved on. */
export function policyDigest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** True when `file` differs from the applied digest `applied` (false when either is unknown). */
export function differsFromApplied(file: string, applied: string | undefined): boolean {
  const now = policyDigest(file);
  return applied !== undefined && now !== undefined && applied !== now;
}
