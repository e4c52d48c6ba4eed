// A TokenStore whose real store is built on first use. The PostgreSQL and Redis stores load
// their driver (pg, ioredis: optional peers of the SDK) only when the app first calls them, so
// importing rotor/tokens for the memory store needs neither, and a missing driver surfaces as
// ERR_ROTOR_SDK_PEER_MISSING from the first call (init(), usually) instead of at import time.
import { RotorError } from '../../errors.js';
import type { TokenStore } from './token-store.js';

/** `open` is called once (again after a failure); `close()` before any use opens nothing. */
export function lazyTokenStore(kind: string, open: () => Promise<TokenStore>): TokenStore {
  let opening: Promise<TokenStore> | undefined;
  let closed = false;
  const store = (): Promise<TokenStore> => {
    if (closed)
      return Promise.reject(
        new RotorError('ERR_ROTOR_TOKENS_STORE_UNREACHABLE', `the ${kind} token store is closed`),
      );
    if (!opening) {
      const attempt = open();
      opening = attempt;
      attempt.catch(() => {
        if (opening === attempt) opening = undefined;
      });
    }
    return opening;
  };
  return {
    kind,
    init: async () => (await store()).init(),
    createFamily: async (input) => (await store()).createFamily(input),
    rotateFamily: async (input) => (await store()).rotateFamily(input),
    getFamily: async (familyId) => (await store()).getFamily(familyId),
    revokeFamily: async (familyId, now, reason) =>
      (await store()).revokeFamily(familyId, now, reason),
    revokeUser: async (userId, now, reason) => (await store()).revokeUser(userId, now, reason),
    revokeSessions: async (scope, input) => (await store()).revokeSessions(scope, input),
    passwordResetRequired: async (userId) => (await store()).passwordResetRequired(userId),
    passwordChanged: async (userId, now) => (await store()).passwordChanged(userId, now),
    sessionChanges: async (since) => (await store()).sessionChanges(since),
    subscribe: async (onChange) => (await store()).subscribe(onChange),
    purgeExpired: async (before) => (await store()).purgeExpired(before),
    async close() {
      if (closed) return;
      closed = true;
      const opened = await opening?.catch(() => undefined);
      await opened?.close();
    },
  };
}
