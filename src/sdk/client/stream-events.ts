// What the client does with each event of the stream: a rotation or a snapshot is applied to what
// it holds, a heartbeat reports a new version, and listeners hear of the change afterwards.
import { keyOf, type ClientState } from './client-state.js';
import type { ChangeEvent, LiveState } from './client-types.js';
import { heartbeat } from './heartbeat.js';
import { applyLiveState } from './live-apply.js';

/** Handles one stream event (others than `rotation` and `snapshot` are ignored). */
export async function handleEvent(
  state: ClientState,
  name: string,
  data: string,
  receivedAt: number,
): Promise<void> {
  if (name === 'rotation') await handleRotation(state, data, receivedAt);
  else if (name === 'snapshot') await handleSnapshot(state, data, receivedAt);
}

/**
 * How long to wait before fetching after a rotation: a grace window leaves the held value valid,
 * so a random moment in 0..spreadMs (a thousand clients do not all read in the same
 * millisecond); an emergency (no previous version) at once.
 */
export function spreadDelay(
  event: Pick<LiveState, 'previousVersionId'>,
  spreadMs: number,
  random: () => number = Math.random,
): number {
  return event.previousVersionId !== null && spreadMs > 0 ? Math.floor(random() * spreadMs) : 0;
}

async function handleRotation(state: ClientState, data: string, receivedAt: number) {
  const { onError } = state.config;
  const event = { ...(JSON.parse(data) as Omit<ChangeEvent, 'receivedAt'>), receivedAt };
  const delay = spreadDelay(event, state.config.spreadMs);
  // Either way, I/O already waiting is read first.
  await new Promise<void>((resolve) =>
    delay > 0 ? setTimeout(resolve, delay) : setImmediate(resolve),
  );
  const moved = await applyOrReport(state, event);
  if (moved) await heartbeat(state).catch(onError);
  emit(state, event);
}

async function handleSnapshot(state: ClientState, data: string, receivedAt: number) {
  const { versions: list } = JSON.parse(data) as { versions: LiveState[] };
  let moved = false;
  const changed: ChangeEvent[] = [];
  for (const live of list) {
    const k = keyOf(live.secret, live.environment);
    const change = snapshotChange(state.states.get(k), state.cache.get(k)?.current?.versionId, {
      live,
      receivedAt,
    });
    // Every state is applied, also once one has moved.
    const didMove = await applyOrReport(state, live);
    moved ||= didMove;
    if (change) changed.push(change);
  }
  if (moved) await heartbeat(state).catch(state.config.onError);
  state.markReady();
  for (const event of changed) emit(state, event);
}

/**
 * The change event a snapshot entry makes, or undefined if it changes nothing the client knew:
 * `before` is the state last announced, `held` the current version id the client holds.
 */
export function snapshotChange(
  before: LiveState | undefined,
  held: string | undefined,
  { live, receivedAt }: { live: LiveState; receivedAt: number },
): ChangeEvent | undefined {
  const differs =
    (held !== undefined && held !== live.versionId) ||
    (before !== undefined &&
      (before.versionId !== live.versionId || before.previousVersionId !== live.previousVersionId));
  if (!differs) return undefined;
  return {
    ...live,
    change: 'snapshot',
    replacedVersionId: before?.versionId ?? held ?? null,
    receivedAt,
  };
}

function applyOrReport(state: ClientState, live: LiveState): Promise<boolean> {
  return applyLiveState(state, live).catch((error: unknown) => {
    state.config.onError(error);
    return false;
  });
}

/** Calls every listener; one that throws is reported and does not stop the others. */
export function emit(state: ClientState, event: ChangeEvent): void {
  for (const listener of state.listeners) {
    try {
      listener(event);
    } catch (error) {
      state.config.onError(error);
    }
  }
}
