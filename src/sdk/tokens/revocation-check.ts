// The synchronous session-revocation check for a verify hot path: an in-process copy of the
// store's "valid after" times, refreshed by push (LISTEN/NOTIFY, Redis pub/sub) and by a poll
// (every second by default) that also covers lost notifications and reconnects. `isRevoked`
// is a map lookup and two comparisons; it never waits on the network.
import type { TokenStore } from '../../core/sessions/stores/token-store.js';
import { coalesce } from '../client/coalesce.js';

/** What a keyring's verify asks about each token's claims. */
export interface RevocationCheck {
  isRevoked(claims: { sub?: string; iat?: number }): boolean;
}

export interface SessionRevocationCache extends RevocationCheck {
  /** The store version this cache has seen. */
  readonly version: number;
  /** When the last successful sync finished (ms since epoch, system time). */
  readonly syncedAt: number;
  /** Fetches changes now (also what push and poll call). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface RevocationCheckOptions {
  store: Pick<TokenStore, 'sessionChanges' | 'subscribe'>;
  /** Poll interval in ms (default 1000): the upper bound on staleness when push is lost. */
  pollIntervalMs?: number;
  /** Listen for pushed changes (default true). */
  push?: boolean;
  /** Sync failures (the cache keeps its last known state); default: ignored. */
  onError?(error: unknown): void;
}

/**
 * Loads session revocations once, then keeps them current in the background.
 *
 * A token is revoked when its `iat` (seconds) is at or before the second of the latest
 * revocation that applies to it (global, or its `sub`'s): tokens issued in the same second as
 * a revocation are revoked too. A token without `iat` is revoked if any revocation applies.
 *
 * @example
 * const revocation = await createRevocationCheck({ store });
 * if (revocation.isRevoked(claims)) reject();
 */
export async function createRevocationCheck(
  options: RevocationCheckOptions,
): Promise<SessionRevocationCache> {
  const { store } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  // Cut-offs in whole seconds, as `iat` is: a token is revoked when iat <= cut-off.
  let globalCutoff = -Infinity;
  const userCutoffs = new Map<string, number>();
  let version = 0;
  let syncedAt = 0;
  let closed = false;

  const cutoff = (validAfter: number | null) =>
    validAfter === null ? -Infinity : Math.floor(validAfter / 1000);

  async function pull(): Promise<void> {
    const { version: next, changes } = await store.sessionChanges(version);
    for (const change of changes) {
      const c = cutoff(change.validAfter);
      if (change.userId === null) globalCutoff = Math.max(globalCutoff, c);
      else if (c === -Infinity) userCutoffs.delete(change.userId);
      else userCutoffs.set(change.userId, Math.max(userCutoffs.get(change.userId) ?? -Infinity, c));
    }
    version = Math.max(version, next);
    syncedAt = Date.now();
  }

  // One sync at a time; a request that arrives during one runs once more right after it.
  const syncs = coalesce(pull, () => closed);
  const sync = () => syncs.run();

  const background = () => {
    if (!closed) sync().catch((error) => options.onError?.(error));
  };

  await sync();
  let unsubscribe: (() => Promise<void>) | undefined;
  if (options.push ?? true) {
    try {
      unsubscribe = await store.subscribe(background);
    } catch (error) {
      options.onError?.(error);
    }
  }
  const timer = setInterval(background, pollIntervalMs);
  timer.unref();

  return {
    get version() {
      return version;
    },
    get syncedAt() {
      return syncedAt;
    },
    isRevoked(claims) {
      const iat = claims.iat;
      const user =
        claims.sub === undefined || userCutoffs.size === 0
          ? undefined
          : userCutoffs.get(claims.sub);
      if (typeof iat !== 'number') return globalCutoff !== -Infinity || user !== undefined;
      return iat <= globalCutoff || (user !== undefined && iat <= user);
    },
    sync,
    async close() {
      closed = true;
      clearInterval(timer);
      await unsubscribe?.();
      await syncs.inFlight()?.catch(() => {});
    },
  };
}
