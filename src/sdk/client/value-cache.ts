// The values the client holds: loaded once per secret and environment, a load in flight shared
// by every caller, and the replaced current version kept as the previous one.
import { fetchValue } from './client-http.js';
import { keyOf, type ClientState, type Entry } from './client-state.js';
import type { HeldValue } from './client-types.js';
import { heartbeat } from './heartbeat.js';

export function entryOf(state: ClientState, secret: string, environment: string): Entry {
  const k = keyOf(secret, environment);
  let entry = state.cache.get(k);
  if (!entry) state.cache.set(k, (entry = {}));
  return entry;
}

/** Reads the current value (one read in flight at a time per secret and environment). */
export function loadCurrent(
  state: ClientState,
  secret: string,
  environment: string,
): Promise<HeldValue> {
  const entry = entryOf(state, secret, environment);
  entry.loading ??= (async () => {
    try {
      const fresh = (await fetchValue(state.config, secret, environment, 'current'))!;
      const known = entry.current;
      entry.current = fresh;
      // The version it replaced is the previous one now: kept without another (audited) read.
      if (known && known.versionId !== fresh.versionId) {
        const live = state.states.get(keyOf(secret, environment));
        entry.previous =
          live?.previousVersionId === known.versionId
            ? { ...known, retireAt: live.retireAt ? Date.parse(live.retireAt) : null }
            : undefined;
      }
      if (!known) void heartbeat(state).catch(state.config.onError);
      return fresh;
    } finally {
      entry.loading = undefined;
    }
  })();
  return entry.loading;
}

/** Reads the previous value, null when none is in grace (one read in flight at a time). */
export function loadPrevious(
  state: ClientState,
  secret: string,
  environment: string,
): Promise<HeldValue | null> {
  const entry = entryOf(state, secret, environment);
  entry.loadingPrevious ??= (async () => {
    try {
      const prev = await fetchValue(state.config, secret, environment, 'previous');
      entry.previous = prev;
      return prev;
    } finally {
      entry.loadingPrevious = undefined;
    }
  })();
  return entry.loadingPrevious;
}

/** Re-reads every held current value (the refresh safety net). */
export function refreshAll(state: ClientState): void {
  for (const entry of state.cache.values())
    if (entry.current)
      void loadCurrent(state, entry.current.secret, entry.current.environment).catch(
        state.config.onError,
      );
}
