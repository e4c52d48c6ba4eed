// Loading a keyring from its source and reloading it when the source signals a change; the
// last good key set stays in use when a reload fails.
import type { JwtSettings } from './jwt-options.js';
import { compileKeyring, type Keyring } from './keyring.js';

/** What the loader of one keyring keeps between loads. */
export interface KeyLoad {
  ring: Keyring | undefined;
  closed: boolean;
  loading: Promise<void> | undefined;
  /** A change was signalled during a load: load once more after it. */
  again: boolean;
}

/**
 * Loads the key set; a change signalled during a load runs one more load after it. `loading`
 * is cleared in the same step that decides not to loop again, so no signal falls in between.
 */
export function reload(state: KeyLoad, s: Pick<JwtSettings, 'source' | 'secret'>): Promise<void> {
  if (state.loading) {
    state.again = true;
    return state.loading;
  }
  let done = false;
  let run: Promise<void> | undefined = undefined;
  run = (async () => {
    try {
      do {
        state.again = false;
        const set = await s.source.load(s.secret);
        if (state.closed) return;
        if (state.ring === undefined || set.revision !== state.ring.revision)
          state.ring = compileKeyring(set);
      } while (state.again && !state.closed);
    } finally {
      done = true;
      if (state.loading === run) state.loading = undefined;
    }
  })();
  if (!done) state.loading = run;
  return run;
}

/** Starts the first load and watches the source; returns the function that stops watching. */
export function startLoading(state: KeyLoad, s: JwtSettings): () => void {
  const first = reload(state, s);
  first.catch(() => undefined); // surfaced through ready(); never an unhandled rejection
  return s.source.watch(s.secret, () => {
    if (state.closed) return;
    reload(state, s).catch((error: unknown) => {
      if (!state.closed) s.onError(error);
    });
  });
}

/** After a failed first load, ready() tries again rather than repeating the old failure. */
export function whenReady(state: KeyLoad, s: JwtSettings): Promise<void> {
  return state.ring !== undefined ? Promise.resolve() : (state.loading ?? reload(state, s));
}

export async function stopLoading(state: KeyLoad, unwatch: () => void): Promise<void> {
  state.closed = true;
  unwatch();
  await state.loading?.catch(() => undefined);
}
