// The contract between refresh-token families and session revocation and their storage: every
// decision is one atomic step, and times come from the caller's clock.

/** What the store keeps about one refresh-token family (one login on one device). */
export interface FamilyRecord {
  id: string;
  userId: string;
  /** The only jti that may be presented next. */
  latestJti: string;
  /** The jti `latestJti` replaced; accepted again only inside the overlap window. */
  previousJti: string | null;
  /** When `previousJti` was replaced. */
  rotatedAt: number | null;
  /** When the family started (the login); session revocations compare against this. */
  createdAt: number;
  lastUsedAt: number;
  absoluteExpiresAt: number;
  revokedAt: number | null;
  revokeReason: string | null;
}

export interface CreateFamilyInput {
  familyId: string;
  userId: string;
  jti: string;
  now: number;
  absoluteExpiresAt: number;
}

export interface RotateFamilyInput {
  familyId: string;
  /** The `sub` of the presented token; must match the family's user. */
  userId: string;
  presentedJti: string;
  nextJti: string;
  now: number;
  idleMs: number;
  overlapMs: number;
}

/**
 * The result of presenting a refresh token to its family:
 * - `rotated`: the presented jti was the latest; `nextJti` is now the latest.
 * - `overlap`: the presented jti was replaced less than `overlapMs` ago (a concurrent
 *   request); `latestJti` is the successor the other request received.
 * - `reuse`: an already-used jti outside the overlap window; the family is now revoked.
 * - the rest: the family is unknown, revoked, expired, or older than a session revocation.
 */
export type RotateOutcome =
  | { status: 'rotated'; latestJti: string; createdAt: number; absoluteExpiresAt: number }
  | { status: 'overlap'; latestJti: string; createdAt: number; absoluteExpiresAt: number }
  | { status: 'reuse' }
  | { status: 'unknown' }
  | { status: 'revoked'; reason: string | null }
  | { status: 'absolute-expired' }
  | { status: 'idle-expired' }
  | { status: 'session-revoked' };

export type SessionScope = { userId: string } | { all: true };

export interface RevokeSessionsInput {
  now: number;
  /** Flag the user (or, with `all`, every user) as needing a new password. */
  requirePasswordReset?: boolean;
  reason?: string;
}

/**
 * One change to session state, as seen by the revocation cache. Tokens issued at or before
 * `validAfter` are revoked; `null` means no revocation for that subject.
 */
export interface SessionChange {
  /** `null` for the global row. */
  userId: string | null;
  validAfter: number | null;
}

export interface SessionChanges {
  /** Pass back as `since` on the next call. */
  version: number;
  changes: SessionChange[];
}

export interface TokenStore {
  /** `memory`, `postgres` or `redis`, for messages and benchmarks. */
  readonly kind: string;
  /** Creates tables or checks the connection; idempotent, safe from several processes. */
  init(): Promise<void>;
  /** Starts a family. Refused (false) while the user must reset their password. */
  createFamily(
    input: CreateFamilyInput,
  ): Promise<{ created: true } | { created: false; reason: 'password-reset-required' }>;
  /** Presents a jti to its family, atomically: see RotateOutcome. */
  rotateFamily(input: RotateFamilyInput): Promise<RotateOutcome>;
  getFamily(familyId: string): Promise<FamilyRecord | undefined>;
  /** Revokes one family; false if it was unknown or already revoked. */
  revokeFamily(familyId: string, now: number, reason: string): Promise<boolean>;
  /** Revokes every live family of a user; returns how many. */
  revokeUser(userId: string, now: number, reason: string): Promise<number>;
  /** Moves the per-user or global "valid after" time to `now` (never backwards). */
  revokeSessions(scope: SessionScope, input: RevokeSessionsInput): Promise<void>;
  passwordResetRequired(userId: string): Promise<boolean>;
  /** Clears the user's reset flag (and a global reset, for this user). */
  passwordChanged(userId: string, now: number): Promise<void>;
  /** Session state changed after `since` (0 for everything). */
  sessionChanges(since: number): Promise<SessionChanges>;
  /**
   * Calls `onChange` soon after any process changes session state (LISTEN/NOTIFY, pub/sub).
   * Best effort: callers also poll. Resolves once listening; returns the unsubscribe function.
   */
  subscribe(onChange: () => void): Promise<() => Promise<void>>;
  /** Deletes families whose absolute lifetime ended before `before`; returns how many. */
  purgeExpired(before: number): Promise<number>;
  close(): Promise<void>;
}

/** Table and key names: a prefix keeps apps (and test runs) sharing one server apart. */
export const DEFAULT_PREFIX = 'rotor';
export const PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;
