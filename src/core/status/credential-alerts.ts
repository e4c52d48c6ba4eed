// Credentials whose end Rotor could not finish or chose not to, from what retire recorded, for
// `rotor status`/`check` (the alerts and their levels: docs/status.md).
import type { Kysely } from 'kysely';
import type { Database, VersionsTable } from '../store/schema.js';

export type CredentialProblem =
  'not-revoked' | 'sessions-held' | 'unproven' | 'outside-rotation' | 'retire-postponed';

export interface CredentialAlert {
  problem: CredentialProblem;
  versionId: string;
  detail: string;
}

const DEFAULT_DRAIN_WITHIN_MS = 24 * 3_600_000;

interface Session {
  application: string;
  address: string;
  ageSeconds: number;
}

function sessionsText(json: unknown): string {
  let list: Session[] = [];
  try {
    list = typeof json === 'string' ? (JSON.parse(json) as Session[]) : [];
  } catch {
    list = [];
  }
  return list
    .map(
      (s) =>
        `application "${s.application || '(none)'}" from ${s.address || 'local socket'}, ${Math.floor(s.ageSeconds / 60)} min old when last seen`,
    )
    .join('; ');
}

/** The versions alerts are read from: retired ones with a retire proof, previous ones draining sessions. */
export type AlertVersionRow = Pick<
  VersionsTable,
  'id' | 'secret' | 'environment' | 'stage' | 'meta' | 'retire_at' | 'retired_at'
>;

/** The SQL of kyselyAlertVersions, for stores read without Kysely (status-sqlite.ts). */
export const ALERT_VERSIONS_SQL = `SELECT id, secret, environment, stage, meta, retire_at, retired_at FROM versions WHERE (stage = 'retired' AND meta LIKE '%"retireProof"%') OR (stage = 'previous' AND meta LIKE '%"drainSessions"%') ORDER BY retired_at`;

export function kyselyAlertVersions(db: Kysely<Database>): Promise<AlertVersionRow[]> {
  return db
    .selectFrom('versions')
    .select(['id', 'secret', 'environment', 'stage', 'meta', 'retire_at', 'retired_at'])
    .where((eb) =>
      eb.or([
        eb.and([eb('stage', '=', 'retired'), eb('meta', 'like', '%"retireProof"%')]),
        eb.and([eb('stage', '=', 'previous'), eb('meta', 'like', '%"drainSessions"%')]),
      ]),
    )
    .orderBy('retired_at')
    .execute();
}

/**
 * Alerts per `secret\u0000environment` from `rows` (in retired_at order) at `at`, for the secrets
 * in `keepOriginal` (those whose policy keeps the original login).
 */
export function credentialAlerts(
  rows: readonly AlertVersionRow[],
  at: number,
  keepOriginal: (secret: string) => boolean,
): Map<string, CredentialAlert[]> {
  const out = new Map<string, CredentialAlert[]>();
  const latestProof = new Map<string, { id: string; state: string; detail: string }>();
  const add = (key: string, alert: CredentialAlert) =>
    out.set(key, [...(out.get(key) ?? []), alert]);
  for (const row of rows) {
    const key = `${row.secret}\u0000${row.environment}`;
    const meta = JSON.parse(row.meta) as Record<string, unknown>;
    if (row.stage === 'retired') {
      const state = String(meta.retireProof);
      const detail = typeof meta.retireProofDetail === 'string' ? meta.retireProofDetail : '';
      if (state === 'kept') {
        // Kept by policy: warned while rotor.yaml says so. Kept because Rotor never disables that
        // login (a superuser, its own admin): warned for good, since Rotor cannot see it end.
        const byPolicy = detail.includes('keepOriginalLogin: true');
        if (!byPolicy || keepOriginal(row.secret))
          add(key, {
            problem: 'outside-rotation',
            versionId: row.id,
            detail: `credential outside rotation: ${detail}`,
          });
      } else latestProof.set(key, { id: row.id, state, detail });
      continue;
    }
    if (row.retire_at === null || row.retire_at > at) continue;
    const withinMs =
      typeof meta.drainWithinMs === 'number' ? meta.drainWithinMs : DEFAULT_DRAIN_WITHIN_MS;
    const since = new Date(row.retire_at).toISOString();
    const sessions = sessionsText(meta.drainSessions);
    if (at >= row.retire_at + withinMs) {
      add(key, {
        problem: 'sessions-held',
        versionId: row.id,
        detail: `version ${row.id} is still valid: its grace window ended ${since} and live sessions still hold its retire past drain.within: ${sessions} (end them, rotor retire --force, or drain.then: terminate)`,
      });
    } else {
      add(key, {
        problem: 'retire-postponed',
        versionId: row.id,
        detail: `retire of version ${row.id} postponed since ${since} by live sessions: ${sessions}`,
      });
    }
  }
  for (const [key, proof] of latestProof) {
    if (proof.state === 'accepted')
      add(key, {
        problem: 'not-revoked',
        versionId: proof.id,
        detail: `retired version ${proof.id}: ${proof.detail}`,
      });
    if (proof.state === 'unproven')
      add(key, {
        problem: 'unproven',
        versionId: proof.id,
        detail: `retired version ${proof.id}: ${proof.detail}`,
      });
  }
  return out;
}
