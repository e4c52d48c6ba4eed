// Brings what the client holds in line with a state the stream announced: a new current version
// is read, a previous one that went is dropped, a new grace window is noted.
import { keyOf, type ClientState } from './client-state.js';
import type { HeldValue, LiveState } from './client-types.js';
import { loadCurrent, loadPrevious } from './value-cache.js';

/** What a held previous value needs after an announced state. */
export type PreviousStep = 'keep' | 'clear' | 'load' | 'retire-at';

/** `previous`: undefined if never asked for, null if none in grace. */
export function previousStep(
  previous: HeldValue | null | undefined,
  live: Pick<LiveState, 'previousVersionId' | 'retireAt'>,
): PreviousStep {
  if (previous !== undefined && (previous?.versionId ?? null) !== live.previousVersionId)
    return live.previousVersionId === null ? 'clear' : 'load';
  if (previous && live.retireAt) return 'retire-at';
  return 'keep';
}

/** Applies an announced state; true if the client now holds a new current version. */
export async function applyLiveState(state: ClientState, live: LiveState): Promise<boolean> {
  const k = keyOf(live.secret, live.environment);
  state.states.set(k, live);
  const entry = state.cache.get(k);
  if (!entry?.current) return false;
  if (live.versionId === null) {
    state.cache.delete(k);
    return false;
  }
  let moved = false;
  if (entry.current.versionId !== live.versionId) {
    const before = entry.current.versionId;
    let fresh = await loadCurrent(state, live.secret, live.environment);
    // A load already in flight when the event came may have read the version before it.
    if (fresh.versionId === before) fresh = await loadCurrent(state, live.secret, live.environment);
    moved = fresh.versionId !== before;
  }
  const step = previousStep(entry.previous, live);
  if (step === 'clear') entry.previous = null;
  else if (step === 'load') await loadPrevious(state, live.secret, live.environment);
  else if (step === 'retire-at') entry.previous!.retireAt = Date.parse(live.retireAt!);
  return moved;
}
