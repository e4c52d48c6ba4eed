// What a retire did to the real credential, as Rotor observed it (refused, accepted, unproven,
// kept), so no audit row claims a revocation that did not happen (docs/status.md).
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type {
  AnyRotator,
  LiveSession,
  RetireOutcome,
  RotatorContext,
  StoredMaterial,
} from '../rotator/rotator-contract.js';

export type ProofState = 'refused' | 'accepted' | 'unproven' | 'kept';

export interface RetireProof {
  state: ProofState;
  detail: string;
}

/** Metadata keys on the version (flat, as `meta` holds scalars only). */
export const PROOF_KEYS = {
  state: 'retireProof',
  detail: 'retireProofDetail',
  at: 'retireProofAt',
} as const;
export const DRAIN_KEYS = {
  sessions: 'drainSessions',
  since: 'drainSince',
  withinMs: 'drainWithinMs',
  then: 'drainThen',
} as const;

/** Asks the kind to log in with the retired material; undefined when the kind cannot tell. */
export async function proveRetired(
  rotator: AnyRotator,
  ctx: RotatorContext<unknown>,
  old: StoredMaterial,
  outcome: void | RetireOutcome,
): Promise<RetireProof | undefined> {
  if (outcome && outcome.kept)
    return { state: 'kept', detail: `kept, still valid: ${outcome.kept}` };
  if (!rotator.prove) return undefined;
  try {
    const proof = await rotator.prove(ctx, old);
    return proof.refused
      ? {
          state: 'refused',
          detail: `a fresh login with the retired credential was refused (${proof.detail})`,
        }
      : {
          state: 'accepted',
          detail: `CRITICAL: the retired credential still logs in (${proof.detail})`,
        };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      state: 'unproven',
      detail: `revocation not proven: the server could not be asked (${message})`,
    };
  }
}

/** The audit outcome of a retire given its proof: only an observed refusal (or none to ask) is a success. */
export function retireOutcome(proof: RetireProof | undefined): 'success' | 'failure' | 'info' {
  if (!proof || proof.state === 'refused') return 'success';
  return proof.state === 'accepted' ? 'failure' : 'info';
}

/** Merges `values` into a version's metadata. */
export async function mergeMeta(
  db: Kysely<Database>,
  versionId: string,
  values: Record<string, string | number | boolean | null>,
): Promise<void> {
  const row = await db
    .selectFrom('versions')
    .select('meta')
    .where('id', '=', versionId)
    .executeTakeFirst();
  if (!row) return;
  const meta = JSON.parse(row.meta) as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) {
    if (v === null) delete meta[k];
    else meta[k] = v;
  }
  await db
    .updateTable('versions')
    .set({ meta: JSON.stringify(meta) })
    .where('id', '=', versionId)
    .execute();
}

/** The metadata a proof leaves on the retired version. */
export function proofMeta(proof: RetireProof, at: number): Record<string, string | number | null> {
  return {
    [PROOF_KEYS.state]: proof.state,
    [PROOF_KEYS.detail]: proof.detail,
    [PROOF_KEYS.at]: at,
    [DRAIN_KEYS.sessions]: null,
    [DRAIN_KEYS.since]: null,
  };
}

/** Live sessions from an ERR_ROTOR_RETIRE_POSTPONED error's details, when the kind listed them. */
export function postponedSessions(
  details: Record<string, unknown> | undefined,
): LiveSession[] | undefined {
  const list = details?.sessionList;
  return Array.isArray(list) ? (list as LiveSession[]) : undefined;
}

/** Sessions as errors and audit details list them: a driver's extra columns (pid…) left out. */
export function publicSessions(sessions: readonly LiveSession[]): LiveSession[] {
  return sessions.map(({ application, address, ageSeconds }) => ({
    application,
    address,
    ageSeconds,
  }));
}

/** One line per session: `application "web" from 10.0.0.5, 26h old`. */
export function describeSessions(sessions: readonly LiveSession[]): string {
  return sessions
    .map(
      (s) =>
        `application "${s.application || '(none)'}" from ${s.address || 'local socket'}, ${formatAge(s.ageSeconds)} old`,
    )
    .join('; ');
}

function formatAge(seconds: number): string {
  if (seconds >= 86_400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m`;
  return `${Math.max(0, Math.floor(seconds))}s`;
}
