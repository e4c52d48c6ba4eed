// The rules for presenting a refresh token to its family, as one pure function. The memory
// store applies it directly; the PostgreSQL store applies it after its fast conditional UPDATE
// missed; the Redis store's Lua script is a transcription of it (keep them in step).
import type { FamilyRecord, RotateFamilyInput, RotateOutcome } from './token-store.js';

export type Decision =
  | { apply: 'rotate'; outcome: Extract<RotateOutcome, { status: 'rotated' }> }
  | { apply: 'revoke'; outcome: Extract<RotateOutcome, { status: 'reuse' }> }
  | { apply: 'none'; outcome: RotateOutcome };

/**
 * Decides what presenting `input.presentedJti` does to `family`.
 * `validAfter` is the later of the global and the user's session "valid after" time (-1 if none):
 * a family started at or before it belongs to a revoked session.
 */
export function decideRotation(
  family: FamilyRecord | undefined,
  validAfter: number,
  input: RotateFamilyInput,
): Decision {
  if (!family || family.userId !== input.userId)
    return { apply: 'none', outcome: { status: 'unknown' } };
  if (family.revokedAt !== null)
    return { apply: 'none', outcome: { status: 'revoked', reason: family.revokeReason } };
  if (input.now >= family.absoluteExpiresAt)
    return { apply: 'none', outcome: { status: 'absolute-expired' } };
  if (family.createdAt <= validAfter)
    return { apply: 'none', outcome: { status: 'session-revoked' } };
  const kept = { createdAt: family.createdAt, absoluteExpiresAt: family.absoluteExpiresAt };
  if (family.latestJti === input.presentedJti) {
    if (input.now - family.lastUsedAt > input.idleMs)
      return { apply: 'none', outcome: { status: 'idle-expired' } };
    return { apply: 'rotate', outcome: { status: 'rotated', latestJti: input.nextJti, ...kept } };
  }
  // A concurrent request presented the token the other one just rotated: it gets the same
  // successor instead of tripping reuse detection.
  if (
    input.overlapMs > 0 &&
    family.previousJti === input.presentedJti &&
    family.rotatedAt !== null &&
    input.now - family.rotatedAt <= input.overlapMs
  ) {
    return { apply: 'none', outcome: { status: 'overlap', latestJti: family.latestJti, ...kept } };
  }
  return { apply: 'revoke', outcome: { status: 'reuse' } };
}

/** Reset-required rule shared by the stores: a user flag, or a global reset newer than the user's last password change. */
export function resetRequired(
  userFlag: boolean,
  passwordChangedAt: number | null,
  globalResetBefore: number | null,
): boolean {
  if (userFlag) return true;
  return globalResetBefore !== null && (passwordChangedAt ?? -1) < globalResetBefore;
}
