// What Rotor knows about one live client of `rotor serve` (rotor/client): who it is, how often
// it reports, and which version of each secret it holds. A consumer counts as live while its
// last heartbeat is younger than LAPSE_FACTOR heartbeat intervals; a lapsed one no longer holds
// up a retirement.

/** A consumer is live for this many heartbeat intervals after its last heartbeat. */
export const LAPSE_FACTOR = 3;
/** Heartbeat intervals a consumer may announce, in ms (clamped into this range). */
export const MIN_INTERVAL_MS = 1_000;
export const MAX_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_INTERVAL_MS = 15_000;

/** A consumer id or app name: letters, digits and `._:@-`, as chosen by the client. */
export const CONSUMER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export interface HeldVersion {
  secret: string;
  environment: string;
  /** The version id the consumer holds (and uses) now. */
  version: string;
}

export interface Heartbeat {
  consumerId: string;
  app: string;
  /** The API token the consumer authenticated with (its id only). */
  tokenId?: string;
  intervalMs?: number;
  /** Everything the consumer holds now; replaces its previous report. */
  holds: readonly HeldVersion[];
}

export interface ConsumerHolding extends HeldVersion {
  reportedAt: string;
  /** The current version of that secret in that environment, if any. */
  currentVersion: string | null;
  /** It holds something other than the current version. */
  behind: boolean;
}

export interface ConsumerInfo {
  id: string;
  app: string;
  tokenId: string | null;
  intervalMs: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Heartbeat within LAPSE_FACTOR intervals: it holds up retirements of what it uses. */
  live: boolean;
  holds: ConsumerHolding[];
}

export function clampInterval(ms: number | undefined): number {
  if (ms === undefined || !Number.isFinite(ms)) return DEFAULT_INTERVAL_MS;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.round(ms)));
}

export function isLive(lastSeenAt: number, intervalMs: number, now: number): boolean {
  return Number(lastSeenAt) + LAPSE_FACTOR * Number(intervalMs) >= now;
}

/** The consumer's API token as joined from api_tokens (all null when the row is gone). */
export interface ConsumerToken {
  token_id: string | null;
  token_row: string | null;
  token_revoked_at: number | null;
  token_expires_at: number | null;
}

/**
 * A consumer reporting under a token that was revoked, has expired or no longer exists is not
 * live, however recent its last heartbeat: its reports died with the token.
 */
export function tokenStillValid(t: ConsumerToken, now: number): boolean {
  if (t.token_id === null) return true;
  if (t.token_row === null || t.token_revoked_at !== null) return false;
  return t.token_expires_at === null || Number(t.token_expires_at) > now;
}
