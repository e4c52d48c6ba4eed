// The in-memory TokenStore: for one process (tests, a single-instance app, the baseline of the
// refresh benchmark). JavaScript runs each operation to completion, so every operation is
// atomic without locks. State is lost on restart: every refresh token becomes unknown.
import { decideRotation, resetRequired } from './family-rules.js';
import type {
  CreateFamilyInput,
  FamilyRecord,
  RevokeSessionsInput,
  RotateFamilyInput,
  RotateOutcome,
  SessionChanges,
  SessionScope,
  TokenStore,
} from './token-store.js';

interface UserSession {
  validAfter: number | null;
  resetRequired: boolean;
  passwordChangedAt: number | null;
  version: number;
}

/**
 * A TokenStore held in this process's memory.
 *
 * @example
 * const tokens = createRefreshTokens({ keys, store: createMemoryTokenStore() });
 */
export function createMemoryTokenStore(): TokenStore {
  const families = new Map<string, FamilyRecord>();
  const users = new Map<string, UserSession>();
  const global = {
    validAfter: null as number | null,
    resetBefore: null as number | null,
    version: 0,
  };
  const listeners = new Set<() => void>();
  let version = 0;

  const validAfterOf = (userId: string) =>
    Math.max(global.validAfter ?? -1, users.get(userId)?.validAfter ?? -1);
  const user = (userId: string): UserSession => {
    let u = users.get(userId);
    if (!u)
      users.set(
        userId,
        (u = { validAfter: null, resetRequired: false, passwordChangedAt: null, version: 0 }),
      );
    return u;
  };
  const changed = () => {
    for (const listener of listeners) queueMicrotask(listener);
  };

  return {
    kind: 'memory',
    async init() {},
    async createFamily(input: CreateFamilyInput) {
      const u = users.get(input.userId);
      if (
        resetRequired(u?.resetRequired ?? false, u?.passwordChangedAt ?? null, global.resetBefore)
      )
        return { created: false, reason: 'password-reset-required' };
      families.set(input.familyId, {
        id: input.familyId,
        userId: input.userId,
        latestJti: input.jti,
        previousJti: null,
        rotatedAt: null,
        createdAt: input.now,
        lastUsedAt: input.now,
        absoluteExpiresAt: input.absoluteExpiresAt,
        revokedAt: null,
        revokeReason: null,
      });
      return { created: true };
    },
    async rotateFamily(input: RotateFamilyInput): Promise<RotateOutcome> {
      const family = families.get(input.familyId);
      const decision = decideRotation(family, family ? validAfterOf(family.userId) : -1, input);
      if (family && decision.apply === 'rotate') {
        family.previousJti = family.latestJti;
        family.latestJti = input.nextJti;
        family.rotatedAt = input.now;
        family.lastUsedAt = input.now;
      } else if (family && decision.apply === 'revoke') {
        family.revokedAt = input.now;
        family.revokeReason = 'reuse';
      }
      return decision.outcome;
    },
    async getFamily(familyId) {
      const f = families.get(familyId);
      return f ? { ...f } : undefined;
    },
    async revokeFamily(familyId, now, reason) {
      const f = families.get(familyId);
      if (!f || f.revokedAt !== null) return false;
      f.revokedAt = now;
      f.revokeReason = reason;
      return true;
    },
    async revokeUser(userId, now, reason) {
      let n = 0;
      for (const f of families.values()) {
        if (f.userId === userId && f.revokedAt === null) {
          f.revokedAt = now;
          f.revokeReason = reason;
          n++;
        }
      }
      return n;
    },
    async revokeSessions(scope: SessionScope, input: RevokeSessionsInput) {
      version++;
      if ('all' in scope) {
        global.validAfter = Math.max(global.validAfter ?? -1, input.now);
        if (input.requirePasswordReset)
          global.resetBefore = Math.max(global.resetBefore ?? -1, input.now);
        global.version = version;
      } else {
        const u = user(scope.userId);
        u.validAfter = Math.max(u.validAfter ?? -1, input.now);
        if (input.requirePasswordReset) u.resetRequired = true;
        u.version = version;
      }
      changed();
    },
    async passwordResetRequired(userId) {
      const u = users.get(userId);
      return resetRequired(
        u?.resetRequired ?? false,
        u?.passwordChangedAt ?? null,
        global.resetBefore,
      );
    },
    async passwordChanged(userId, now) {
      const u = user(userId);
      u.resetRequired = false;
      u.passwordChangedAt = now;
    },
    async sessionChanges(since): Promise<SessionChanges> {
      const changes: SessionChanges['changes'] = [];
      if (global.version > since) changes.push({ userId: null, validAfter: global.validAfter });
      for (const [userId, u] of users)
        if (u.version > since) changes.push({ userId, validAfter: u.validAfter });
      return { version, changes };
    },
    async subscribe(onChange) {
      listeners.add(onChange);
      return async () => {
        listeners.delete(onChange);
      };
    },
    async purgeExpired(before) {
      let n = 0;
      for (const [id, f] of families) {
        if (f.absoluteExpiresAt < before) {
          families.delete(id);
          n++;
        }
      }
      return n;
    },
    async close() {
      listeners.clear();
    },
  };
}
