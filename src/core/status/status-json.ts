// The JSON shape of a status row, one for every interface (`rotor status --json`, the HTTP API):
// instants as ISO strings, ages in milliseconds and whole days.
import type { StatusRow } from './status.js';

/** An instant as ISO 8601, or null. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function statusRowJson(row: StatusRow) {
  return {
    secret: row.secret,
    kind: row.kind,
    environment: row.environment,
    state: row.state,
    ageState: row.ageState,
    owner: row.owner,
    rotatedAt: iso(row.rotatedAt),
    currentSince: iso(row.currentSince),
    ageMs: row.ageMs,
    ageDays: row.ageMs === null ? null : Math.floor(row.ageMs / 86_400_000),
    dueSoonAt: iso(row.dueSoonAt),
    nextDueAt: iso(row.nextDueAt),
    overdueAt: iso(row.overdueAt),
    graceUntil: iso(row.graceUntil),
    rotation: row.rotation && {
      id: row.rotation.id,
      state: row.rotation.state,
      step: row.rotation.step,
      startedAt: iso(row.rotation.startedAt),
      updatedAt: iso(row.rotation.updatedAt),
      finishedAt: iso(row.rotation.finishedAt),
      errorCode: row.rotation.errorCode,
      stuck: row.rotation.stuck,
      ...(row.rotation.state === 'waiting' ? { promoteAfter: iso(row.rotation.promoteAfter) } : {}),
    },
    ...(row.alerts.length ? { alerts: row.alerts } : {}),
  };
}

/** Streams `{ at, summary, rows: [...] }` with one compact row per line. */
